// The effective configuration of a model from a Triton model repository, as Triton reports it: the JSON of
// GET /v2/models/{m}/config and the gRPC ModelConfigResponse's ModelConfig. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "api/kserve/kserve_wire.h"
#include "core/inference.h"
#include "inference/model_config.pb.h"
#include "repository/model_manager.h"
#include "repository/triton_config.h"

namespace serval {

// {"name","platform","backend","version_policy":{...},"max_batch_size":N,"input":[{"name","data_type",
// "format":"FORMAT_NONE","dims":[…],"reshape":{"shape":[…]}?,"optional":bool,...}],"output":[…],
// "dynamic_batching":{...}?,"instance_group":[…],"parameters":{k:{"string_value":v}},...}. -1 marks a
// variable dimension; numbers are JSON numbers (as Triton writes them; perf_analyzer reads them so).
std::string EncodeTritonModelConfigJson(const TritonModelConfig& config);

// The same configuration as the gRPC message.
inference::ModelConfig TritonModelConfigProto(const TritonModelConfig& config);

// Triton's classification extension on the outputs of a run of `handle`'s model (kserve_classification.h):
// batch-aware when the model batches (a repository model's max_batch_size > 0; otherwise the reported batch
// rule, KServeHasBatchDimension), labels from the repository config's label_filename. No-op without requests.
Status ApplyKServeClassification(const ServableHandle& handle, const std::vector<KServeClassification>& requests,
                                 InferenceResponse* response);

}  // namespace serval

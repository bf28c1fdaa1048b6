// Triton's classification extension: an output requested with a class count (HTTP
// `parameters.classification`, gRPC `class_count`) is answered with the top N classes instead of the raw
// values, as BYTES strings "score:index" or "score:index:label" (label from the output's label_filename),
// highest score first, ties by lower index. Batch-aware: a batching model's output [batch, classes...] gives
// [batch, N], every row classified on its own; otherwise the whole tensor is one row and the result is [N].
// Pure function; the protocol layers decide when to call it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/kserve/kserve_wire.h"
#include "core/inference.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

// `labels`: per class index (may be shorter than the class count: indexes past it get no label); null =
// none. N is min(count, classes per row). INVALID_ARGUMENT for count < 1, a BYTES output, or a batched output
// without a batch dimension.
StatusOr<Tensor> ClassifyTopN(const Tensor& output, int count, bool batched, const std::vector<std::string>* labels);

// Replaces every output of `response` that `requests` names by its ClassifyTopN. `labels`: per output name
// (null or absent = none). An output named but not in the response is left alone (the request was
// validated against the signature, so it is there).
Status ClassifyOutputs(const std::vector<KServeClassification>& requests, bool batched,
                       const std::map<std::string, std::vector<std::string>>* labels, InferenceResponse* response);

}  // namespace serval

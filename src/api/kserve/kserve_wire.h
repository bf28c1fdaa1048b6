// KServeWire: what both KServe v2 codecs (REST JSON and gRPC protobuf) share — Triton's platform names, the
// batch rule of the reported model configuration, and BYTES in binary form. No JSON, no protobuf: neither
// codec depends on the other. Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json/codec_limits.h"
#include "core/inference.h"
#include "core/status.h"

namespace serval {

inline constexpr std::string_view kKServeOnnxPlatform = "onnxruntime_onnx";
inline constexpr std::string_view kKServeTensorFlowPlatform = "tensorflow_savedmodel";
// Triton's platform name for the engine that serves a version (ServableHandle::platform(): "onnx" |
// "tensorflow").
std::string_view KServePlatformName(std::string_view engine_platform);

// The batch rule of the model configuration Serval reports (REST /config and gRPC ModelConfig), Triton's
// convention: when every input and output leads with a variable dimension, that dimension is the batch,
// the configuration says max_batch_size = kKServeMaxBatchSize and its dims leave the batch out (Triton
// clients such as perf_analyzer then send batch-1 requests without being told shapes). Otherwise
// max_batch_size is 0 and dims are the full shapes. Serval itself puts no limit on the batch dimension.
inline constexpr int32_t kKServeMaxBatchSize = 1024;
bool KServeHasBatchDimension(const ModelSignature& signature);

// Triton's extensions that Serval implements, by Triton's names: the server metadata's "extensions" list, the
// same on REST and gRPC. `model_repository`: the repository routes are enabled (model control on).
std::vector<std::string> KServeServerExtensions(bool model_repository);

// An output asked for as Triton's classification extension (REST outputs[].parameters.classification, gRPC
// InferRequestedOutputTensor.parameters["classification"].int64_param): its top `count` classes instead of
// its values (kserve_classification.h).
struct KServeClassification {
  std::string output;
  int64_t count = 0;  // > 0
  bool operator==(const KServeClassification&) const = default;
};

// Triton's validation of a decoded request against the signature of `model_name`, with Triton's texts
// (INVALID_ARGUMENT): an input or output the model does not have ("unexpected inference input 'x' for model
// 'm'"), one given twice ("input 'x' already exists in request"), missing inputs, a data type or shape the
// model does not take. A request id prefixes the text as Triton's does ("[request id: r] ").
Status ValidateKServeRequest(const ModelSignature& signature, const InferenceRequest& request,
                             std::string_view model_name);

// Triton's text for binary input data whose size does not fit the input's shape and type:
// "[request id: r] input byte size mismatch for input 'a' for model 'm'. Expected 64, got 60".
Status KServeByteSizeMismatch(std::string_view request_id, std::string_view input, std::string_view model_name,
                              size_t expected, size_t got);

// BYTES in binary form (the binary extension and gRPC raw_input_contents / raw_output_contents): each
// element is a 4-byte little-endian length and its bytes. Decode reads exactly `count` elements that fill
// `bytes` exactly (INVALID_ARGUMENT naming `label` otherwise; RESOURCE_EXHAUSTED past
// limits.max_tensor_bytes). Append fails (INVALID_ARGUMENT) only for an element over 4 GiB.
StatusOr<std::vector<std::string>> DecodeKServeBytesElements(std::string_view bytes, int64_t count,
                                                             const std::string& label, const CodecLimits& limits);
Status AppendKServeBytesElements(const std::vector<std::string>& values, const std::string& label, std::string* out);

}  // namespace serval

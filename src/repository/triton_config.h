// A model of a Triton model repository (<repo>/<model>/config.pbtxt + <repo>/<model>/<version>/...): its
// configuration as Serval serves it, read from Triton's ModelConfig text format (proto/inference/
// model_config.proto) or completed from the model when there is no config.pbtxt.
//
// What each setting means in Serval:
//   platform/backend   onnxruntime_onnx | onnxruntime (backend) → ONNX Runtime; tensorflow_savedmodel |
//                      tensorflow (backend) → the TensorFlow engine. Anything else is refused.
//   max_batch_size     > 0: every input and output has a leading batch dim that `dims` leaves out, and a
//                      request with more rows is INVALID_ARGUMENT. 0: `dims` is the full shape.
//   input/output       name, data_type, dims, reshape (the shape the model takes or gives, same element
//                      count), optional (inputs), label_filename (outputs, for classification). Checked against
//                      the model when each version loads.
//   version_policy     latest{num_versions} / all / specific{versions} → Serval's version policy.
//   dynamic_batching   Serval's batcher for this model: max_queue_delay_microseconds is its batch timeout,
//                      max_batch_size its batch limit; a batch runs at once when it reaches the largest
//                      preferred_batch_size. Queue policies other than the defaults are refused.
//   instance_group     accepted and reported. One ONNX Runtime session serves every request of a version
//                      concurrently (ORT sessions are thread-safe), on the process-wide intra-op pool; `count`
//                      does not create copies of the session and KIND_GPU needs a GPU execution provider
//                      configured on the server (--execution_providers).
//   parameters         intra_op_thread_count, inter_op_thread_count, execution_mode (0 sequential, 1
//                      parallel), enable_mem_arena (0/1): the session options of this model's versions. Any
//                      other parameter is refused.
//   model_warmup       run when each version loads, before it is AVAILABLE (RunTritonWarmup): every sample
//                      `count` times (at least once) with batch_size rows (batching models), inputs of
//                      zero_data, random_data or input_data_file (raw row-major bytes from <model>/warmup/<file>;
//                      numeric types). A sample that fails fails the load, naming the sample.
//   optimization       graph.level accepted; execution_accelerators refused, naming the accelerator: this
//                      ONNX Runtime build has the CPU provider only (Triton's are "tensorrt"/"cuda" on GPU,
//                      "openvino" on CPU).
// A field that proto/inference/model_config.proto does not define refuses the model, naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/data_type.h"
#include "core/inference.h"
#include "core/status.h"
#include "engine/engine.h"
#include "repository/version_policy.h"

namespace serval {

inline constexpr std::string_view kTritonConfigFileName = "config.pbtxt";

struct TritonTensorConfig {
  std::string name;
  DataType dtype = DataType::kInvalid;
  std::vector<int64_t> dims;  // without the batch dim when max_batch_size > 0
  std::optional<std::vector<int64_t>> reshape;
  bool optional = false;       // inputs only
  std::string label_filename;  // outputs only
  bool operator==(const TritonTensorConfig&) const = default;
};

struct TritonInstanceGroup {
  std::string name;
  int32_t count = 1;
  std::string kind = "KIND_CPU";  // KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL
  bool operator==(const TritonInstanceGroup&) const = default;
};

// One model_warmup sample.
struct TritonWarmupInput {
  enum class Data { kZero, kRandom, kFile };
  std::string name;
  DataType dtype = DataType::kInvalid;
  std::vector<int64_t> dims;  // without the batch dim
  Data data = Data::kZero;
  std::string file;  // kFile: a file name under <model>/warmup/
  bool operator==(const TritonWarmupInput&) const = default;
};
struct TritonWarmup {
  std::string name;
  uint32_t batch_size = 0;
  uint32_t count = 1;
  std::vector<TritonWarmupInput> inputs;
  bool operator==(const TritonWarmup&) const = default;
};

struct TritonModelConfig {
  std::string name;
  std::string platform;  // Triton's name: onnxruntime_onnx | tensorflow_savedmodel
  std::string backend;   // onnxruntime | tensorflow
  int32_t max_batch_size = 0;
  std::vector<TritonTensorConfig> inputs;
  std::vector<TritonTensorConfig> outputs;
  VersionPolicy version_policy;
  bool dynamic_batching = false;
  std::vector<int32_t> preferred_batch_sizes;
  uint64_t max_queue_delay_microseconds = 0;
  std::vector<TritonInstanceGroup> instance_groups;
  std::map<std::string, std::string> parameters;  // as written
  SessionOverrides ort;                           // what `parameters` set (ONNX Runtime session options)
  int32_t graph_optimization_level = 0;
  std::vector<TritonWarmup> warmups;
  bool operator==(const TritonModelConfig&) const = default;
};

// Serval's platform word for a Triton config ("onnx" | "tensorflow"), "" when neither is named.
std::string ServalPlatform(const TritonModelConfig& config);

// Parses config.pbtxt text. `model_name` is the model's directory name: a `name` that differs is refused.
// INVALID_ARGUMENT naming the file's problem: an unknown field (by name), bad values, unsupported settings.
StatusOr<TritonModelConfig> ParseTritonModelConfig(std::string_view text, std::string_view model_name);

// The configuration of `model_name` from the model alone (no config.pbtxt), Triton's auto-complete:
// batching (max_batch_size = `default_max_batch_size`, dims without the leading dim) when the first dim of
// every input and output is variable, else max_batch_size 0 and the full dims.
TritonModelConfig AutoCompleteTritonConfig(std::string_view model_name, std::string_view platform,
                                           const ModelSignature& signature, int32_t default_max_batch_size);

// Checks `config` against the loaded model and fills what it leaves out (no input/output lists → the
// model's, completed as above with config.max_batch_size). INVALID_ARGUMENT saying what does not match.
StatusOr<TritonModelConfig> CheckTritonConfigAgainstModel(TritonModelConfig config, const ModelSignature& signature);

// The signature requests see: the config's inputs and outputs (batch dim -1 in front when max_batch_size
// > 0, then dims).
ModelSignature TritonSignature(const TritonModelConfig& config);

// "TYPE_FP32" ↔ DataType (TYPE_STRING is kString).
std::string TritonTypeName(DataType type);
DataType DataTypeFromTritonName(std::string_view name);

// Reads the label file of each output that names one (one label per line, in the model directory). An
// unreadable file is INVALID_ARGUMENT. Keyed by output name.
StatusOr<std::map<std::string, std::vector<std::string>>> ReadTritonLabels(const TritonModelConfig& config,
                                                                           const std::string& model_dir);

}  // namespace serval

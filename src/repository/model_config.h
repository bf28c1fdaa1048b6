// ModelConfig: one model the server should serve, from --model_name/--model_base_path or from a TF Serving
// --model_config_file (text-format ModelServerConfig, accepted as TF Serving writes it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "repository/triton_config.h"
#include "repository/version_policy.h"

namespace serval {

struct ModelConfig {
  std::string name;
  std::string base_path;  // absolute; holds <base_path>/<integer version>/{model.onnx | saved_model.pb}
  // "tensorflow", "onnx" or empty (TF Serving's default). Each version dir decides its own engine by what it
  // holds (saved_model.pb → TensorFlow, model.onnx → ONNX Runtime); the platform only breaks a tie when a
  // directory holds both. So a model may mix versions: v2 a SavedModel, v3 its ONNX conversion.
  std::string platform;
  VersionPolicy policy;
  std::map<std::string, int64_t> version_labels;
  // Models of a Triton model repository (--model_repository): base_path is <repo>/<model>.
  bool triton = false;
  // Its config.pbtxt as read; unset when it has none (completed from the model at load). Checked against
  // the model when each version loads.
  std::optional<TritonModelConfig> triton_config;
  // Why its config.pbtxt was refused; every load of the model fails with it.
  Status triton_config_error;
};

// Model names: [A-Za-z0-9_.-]{1,255}, not "." or "..". Anything else could escape a path or a log line.
Status ValidateModelName(std::string_view name);

// Parses the text of a ModelServerConfig. Fails with INVALID_ARGUMENT saying why (unparsable text,
// relative base_path, duplicate or invalid name, unsupported platform, custom_model_config).
StatusOr<std::vector<ModelConfig>> ParseModelServerConfig(std::string_view text);
// Reads and parses a file; an unparsable file fails with "Invalid protobuf file: '<path>'" as TF Serving says.
StatusOr<std::vector<ModelConfig>> ReadModelServerConfigFile(const std::string& path);

}  // namespace serval

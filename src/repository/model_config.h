// ModelConfig: one model the server should serve, from --model_name/--model_base_path or from a TF Serving
// --model_config_file (text-format ModelServerConfig, accepted as TF Serving writes it).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace serval {

struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  uint32_t latest_count = 1;      // kLatest: serve the N highest versions
  std::vector<int64_t> specific;  // kSpecific: exactly these versions
};

struct ModelConfig {
  std::string name;
  std::string base_path;  // absolute; holds <base_path>/<integer version>/model.onnx
  std::string platform = "onnx";
  VersionPolicy policy;
  std::map<std::string, int64_t> version_labels;
};

// Model names: [A-Za-z0-9_.-]{1,255}, not "." or "..". Anything else could escape a path or a log line.
Status ValidateModelName(std::string_view name);

// Parses the text of a ModelServerConfig. Fails with INVALID_ARGUMENT saying why (unparsable text,
// relative base_path, duplicate or invalid name, unsupported platform, custom_model_config).
StatusOr<std::vector<ModelConfig>> ParseModelServerConfig(std::string_view text);
// Reads and parses a file; an unparsable file fails with "Invalid protobuf file: '<path>'" as TF Serving says.
StatusOr<std::vector<ModelConfig>> ReadModelServerConfigFile(const std::string& path);

}  // namespace serval

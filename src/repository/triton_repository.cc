#include "repository/triton_repository.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace serval {
namespace fs = std::filesystem;

namespace {

// A config.pbtxt is a few KiB; one past this is refused rather than read into memory.
constexpr std::uintmax_t kMaxConfigFileBytes = 4 << 20;

}  // namespace

StatusOr<std::vector<std::string>> ListRepositoryModels(const std::string& repository) {
  std::error_code ec;
  fs::directory_iterator it(repository, ec);
  if (ec) return InvalidArgument("model repository '" + repository + "' cannot be read: " + ec.message());
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : it) {
    std::error_code dir_ec;
    if (!entry.is_directory(dir_ec)) continue;
    std::string name = entry.path().filename().string();
    if (ValidateModelName(name).ok()) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

ModelConfig ReadRepositoryModel(const std::string& repository, const std::string& name) {
  ModelConfig config;
  config.name = name;
  config.triton = true;
  config.base_path = repository + "/" + name;
  const std::string path = config.base_path + "/" + std::string(kTritonConfigFileName);
  std::error_code ec;
  if (!fs::exists(path, ec)) return config;  // completed from the model when a version loads
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec || size > kMaxConfigFileBytes) {
    config.triton_config_error = InvalidArgument("model '" + name + "': config.pbtxt cannot be read" +
                                                 (ec ? ": " + ec.message() : std::string(" (too large)")));
    return config;
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) {
    config.triton_config_error = InvalidArgument("model '" + name + "': config.pbtxt cannot be read");
    return config;
  }
  StatusOr<TritonModelConfig> parsed = ParseTritonModelConfig(text.str(), name);
  if (!parsed.ok()) {
    config.triton_config_error = parsed.status();
    return config;
  }
  config.platform = ServalPlatform(*parsed);
  config.policy = parsed->version_policy;
  config.triton_config = std::move(parsed).value();
  return config;
}

StatusOr<std::vector<ModelConfig>> ReadRepository(const std::string& repository, const std::vector<std::string>& only) {
  StatusOr<std::vector<std::string>> names = ListRepositoryModels(repository);
  if (!names.ok()) return names.status();
  std::vector<ModelConfig> configs;
  if (only.empty()) {
    for (const std::string& name : *names) configs.push_back(ReadRepositoryModel(repository, name));
    return configs;
  }
  for (const std::string& name : only) {
    if (std::find(names->begin(), names->end(), name) == names->end()) {
      std::string why = "model '" + name + "' is not in the model repository '";
      why += repository;
      why += "'";
      return InvalidArgument(std::move(why));
    }
    configs.push_back(ReadRepositoryModel(repository, name));
  }
  return configs;
}

bool SameRepositoryModel(const ModelConfig& a, const ModelConfig& b) {
  return a.name == b.name && a.base_path == b.base_path && a.triton_config == b.triton_config &&
         a.triton_config_error.code() == b.triton_config_error.code() &&
         a.triton_config_error.message() == b.triton_config_error.message();
}

}  // namespace serval

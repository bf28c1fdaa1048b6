#include "repository/model_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "proto/text_proto.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace serval {
namespace {

Status ConvertPolicy(const tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy& proto,
                     const std::string& model, VersionPolicy* policy) {
  using Proto = tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy;
  switch (proto.policy_choice_case()) {
    case Proto::kLatest:
      policy->kind = VersionPolicy::Kind::kLatest;
      policy->latest_count = proto.latest().num_versions() == 0 ? 1 : proto.latest().num_versions();
      return Status::Ok();
    case Proto::kAll:
      policy->kind = VersionPolicy::Kind::kAll;
      return Status::Ok();
    case Proto::kSpecific:
      if (proto.specific().versions().empty()) {
        return InvalidArgument("model '" + model + "': model_version_policy specific{} lists no versions");
      }
      policy->kind = VersionPolicy::Kind::kSpecific;
      policy->specific.assign(proto.specific().versions().begin(), proto.specific().versions().end());
      return Status::Ok();
    case Proto::POLICY_CHOICE_NOT_SET:
      break;
  }
  *policy = VersionPolicy{};
  return Status::Ok();
}

}  // namespace

Status ValidateModelName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 255 && name != "." && name != "..";
  for (char c : name) {
    bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    ok = ok && allowed;
  }
  if (ok) return Status::Ok();
  return InvalidArgument("invalid model name: names are 1-255 characters of [A-Za-z0-9_.-], not '.' or '..'");
}

StatusOr<std::vector<ModelConfig>> ParseModelServerConfig(std::string_view text) {
  tensorflow::serving::ModelServerConfig proto;
  SERVAL_RETURN_IF_ERROR(ParseTextProto(text, "model config", &proto));
  if (proto.config_case() == tensorflow::serving::ModelServerConfig::kCustomModelConfig) {
    return InvalidArgument("custom_model_config is not supported; use model_config_list");
  }
  std::vector<ModelConfig> configs;
  std::set<std::string> names;
  for (const auto& entry : proto.model_config_list().config()) {
    SERVAL_RETURN_IF_ERROR(ValidateModelName(entry.name()));
    if (!names.insert(entry.name()).second) return InvalidArgument("model '" + entry.name() + "' is listed twice");
    if (entry.base_path().empty() || entry.base_path().front() != '/') {
      return InvalidArgument("model '" + entry.name() + "': base_path must be an absolute path, got '" +
                             entry.base_path() + "'");
    }
    const std::string& platform = entry.model_platform();
    if (!platform.empty() && platform != "tensorflow" && platform != "onnx" && platform != "onnxruntime_onnx") {
      return InvalidArgument("model '" + entry.name() + "': unsupported model_platform '" + platform +
                             "' (use 'tensorflow' or 'onnx')");
    }
    ModelConfig config;
    config.name = entry.name();
    config.base_path = entry.base_path();
    while (config.base_path.size() > 1 && config.base_path.back() == '/') config.base_path.pop_back();
    config.platform = platform == "onnxruntime_onnx" ? "onnx" : platform;
    SERVAL_RETURN_IF_ERROR(ConvertPolicy(entry.model_version_policy(), entry.name(), &config.policy));
    for (const auto& [label, version] : entry.version_labels()) {
      config.version_labels.emplace(label, version);
    }
    configs.push_back(std::move(config));
  }
  return configs;
}

StatusOr<std::vector<ModelConfig>> ReadModelServerConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return InvalidArgument("cannot read model config file '" + path + "'");
  std::stringstream text;
  text << file.rdbuf();
  StatusOr<std::vector<ModelConfig>> configs = ParseModelServerConfig(text.str());
  if (!configs.ok()) {
    return InvalidArgument("Invalid protobuf file: '" + path + "': " + configs.status().message());
  }
  return configs;
}

}  // namespace serval

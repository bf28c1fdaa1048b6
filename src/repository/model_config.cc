#include "repository/model_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "tensorflow_serving/config/model_server_config.pb.h"

namespace serval {
namespace {

// Collects the text-format parser's complaints so the error says where the file is wrong.
class ParseErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!text_.empty()) text_ += "; ";
    text_ += "line " + std::to_string(line + 1) + " column " + std::to_string(column + 1) + ": " + message;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

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
  google::protobuf::TextFormat::Parser parser;
  ParseErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &proto)) {
    return InvalidArgument("cannot parse model config: " + errors.text());
  }
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
    if (platform == "tensorflow") {
      return InvalidArgument("model '" + entry.name() +
                             "': model_platform 'tensorflow' (SavedModel) is not served by Serval; convert it "
                             "with `python -m tf2onnx.convert --saved-model <dir> --output <version>/model.onnx` "
                             "and set model_platform: 'onnx'");
    }
    if (!platform.empty() && platform != "onnx" && platform != "onnxruntime_onnx") {
      return InvalidArgument("model '" + entry.name() + "': unsupported model_platform '" + platform +
                             "' (use 'onnx')");
    }
    ModelConfig config;
    config.name = entry.name();
    config.base_path = entry.base_path();
    while (config.base_path.size() > 1 && config.base_path.back() == '/') config.base_path.pop_back();
    config.platform = "onnx";
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

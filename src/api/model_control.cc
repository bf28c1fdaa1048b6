#include "api/model_control.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "api/json/json_reader.h"
#include "core/client_message.h"
#include "repository/triton_repository.h"

namespace serval {
namespace {

namespace fs = std::filesystem;

// Directories under model_root the index looks at, at most: a huge root must not make one request
// unbounded.
constexpr size_t kMaxIndexedDirectories = 10000;

// Compares in time that depends only on expected.size(), so that a caller cannot find the token byte by
// byte from response times.
bool TokenMatches(std::string_view presented, std::string_view expected) {
  unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char got = i < presented.size() ? presented[i] : '\0';
    difference |= static_cast<unsigned char>(got ^ expected[i]);
  }
  return difference == 0;
}

std::string_view TritonState(VersionState state) {
  switch (state) {
    case VersionState::kAvailable:
      return "READY";
    case VersionState::kStart:
    case VersionState::kLoading:
      return "LOADING";
    case VersionState::kUnloading:
      return "UNLOADING";
    case VersionState::kEnd:
    case VersionState::kUnknown:
      break;
  }
  return "UNAVAILABLE";
}

// True when `path` is `root` or lies below it, on a path-component boundary ("/models2" is not under
// "/models"). Both are canonical.
bool IsUnder(const std::string& path, const std::string& root) {
  if (root == "/") return !path.empty() && path.front() == '/';
  if (!path.starts_with(root)) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

// Most parameters one repository request may carry.
constexpr size_t kMaxRepositoryParameters = 1024;

// Reads {"ready": bool, "parameters": {name: any, ...}, other: any}. Depths as JsonHandler counts them:
// the top-level object is 1, the parameters object 2.
class RepositoryBodyHandler final : public JsonHandler {
 public:
  RepositoryRequestBody body;

  bool Null() override { return Scalar(); }
  bool Bool(bool value) override {
    if (depth() == 1 && key_ == "ready") {
      body.ready = value;
      return true;
    }
    return Scalar();
  }
  bool Number(std::string_view) override { return Scalar(); }
  bool String(std::string_view) override { return Scalar(); }
  bool StartObject() override {
    if (depth() == 1) return true;  // the body itself
    if (depth() == 2 && key_ == "ready") return Fail(InvalidArgument("'ready' must be a boolean"));
    return true;
  }
  bool Key(std::string_view key) override {
    if (depth() == 1) {
      key_ = std::string(key.substr(0, 64));
    } else if (depth() == 2 && key_ == "parameters") {
      if (body.parameter_names.size() >= kMaxRepositoryParameters) {
        return Fail(InvalidArgument("more than " + std::to_string(kMaxRepositoryParameters) + " parameters"));
      }
      body.parameter_names.emplace_back(key.substr(0, 256));
    }
    return true;
  }
  bool EndObject() override { return true; }
  bool StartArray(JsonArrayBody&) override {
    if (depth() == 1) return Fail(InvalidArgument("the request body must be a JSON object"));
    if (depth() == 2 && (key_ == "ready" || key_ == "parameters")) return WrongType();
    return true;
  }
  bool EndArray() override { return true; }

 private:
  bool Scalar() {
    if (depth() == 0) return Fail(InvalidArgument("the request body must be a JSON object"));
    if (depth() == 1 && (key_ == "ready" || key_ == "parameters")) return WrongType();
    return true;
  }
  bool WrongType() {
    return Fail(InvalidArgument(key_ == "ready" ? "'ready' must be a boolean" : "'parameters' must be an object"));
  }

  std::string key_;  // the current top-level key
};

}  // namespace

StatusOr<RepositoryRequestBody> DecodeRepositoryRequestBody(std::string_view body) {
  if (body.size() > kMaxRepositoryBodyBytes) {
    return ResourceExhausted("a repository request body may hold at most " + std::to_string(kMaxRepositoryBodyBytes) +
                             " bytes");
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return RepositoryRequestBody{};
  RepositoryBodyHandler handler;
  SERVAL_RETURN_IF_ERROR(ParseJson(body, handler));
  return std::move(handler.body);
}

Status CheckLoadParameters(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (name == "config" || name.starts_with("file:")) {
      return InvalidArgument("load parameter '" + name +
                             "' is not supported: Serval loads the model directory under --model_root as it is");
    }
  }
  return Status::Ok();
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ' && rest.front() != '\t') return std::nullopt;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

namespace {

Status ModelControlDisabled() {
  return PermissionDenied("model control is disabled; start serval with --enable_model_control");
}

}  // namespace

ModelControl::ModelControl(ModelManager& models, ModelControlPolicy policy)
    : models_(models), policy_(std::move(policy)) {}

Status AuthorizeModelControl(const ModelControl* control, std::optional<std::string_view> authorization) {
  if (control == nullptr) return ModelControlDisabled();
  return control->Authorize(authorization);
}

Status ModelControl::Authorize(std::optional<std::string_view> authorization) const {
  if (!policy_.enabled) return ModelControlDisabled();
  if (policy_.admin_token.empty()) return Status::Ok();
  std::optional<std::string_view> token = authorization ? BearerToken(*authorization) : std::nullopt;
  if (!token) {
    return Unauthenticated("model control needs the admin token: send 'Authorization: Bearer <token>'");
  }
  if (!TokenMatches(*token, policy_.admin_token)) return Unauthenticated("the admin token is not valid");
  return Status::Ok();
}

StatusOr<std::string> ModelControl::CheckBasePath(std::string_view base_path) const {
  if (policy_.model_root.empty()) return PermissionDenied("no --model_root is set; nothing may be loaded");
  if (base_path.empty() || base_path.front() != '/') {
    return InvalidArgument("base_path must be an absolute path, got '" + std::string(base_path) + "'");
  }
  std::error_code ec;
  // Resolves symlinks and ".." in the part that exists, normalises the rest lexically.
  const fs::path canonical = fs::weakly_canonical(fs::path(base_path), ec);
  if (ec) return InvalidArgument("base_path '" + std::string(base_path) + "': " + ec.message());
  std::string result = canonical.string();
  while (result.size() > 1 && result.back() == '/') result.pop_back();
  if (!IsUnder(result, policy_.model_root)) {
    return PermissionDenied("base_path '" + std::string(base_path) + "' (resolved: '" + result +
                            "') is not under --model_root '" + policy_.model_root + "'");
  }
  return result;
}

std::vector<RepositoryIndexEntry> ModelControl::Index(bool ready_only) const {
  std::vector<RepositoryIndexEntry> entries;
  std::vector<std::string> served = models_.ModelNames();
  for (const std::string& name : served) {
    StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(name, {});
    if (!statuses.ok()) continue;  // unloaded meanwhile
    if (statuses->empty()) {
      entries.push_back({name, "", "UNAVAILABLE", "no version found under the base path"});
      continue;
    }
    for (const VersionStatus& status : *statuses) {
      RepositoryIndexEntry entry{name, std::to_string(status.version), std::string(TritonState(status.state)), ""};
      if (entry.state != "READY") {
        entry.reason =
            status.status.ok() ? std::string(VersionStateName(status.state)) : ClientMessage(status.status.message());
      }
      entries.push_back(std::move(entry));
    }
  }
  if (!policy_.model_root.empty()) {
    std::error_code ec;
    fs::directory_iterator dir(policy_.model_root, ec);
    size_t seen = 0;
    for (; !ec && dir != fs::directory_iterator() && seen < kMaxIndexedDirectories; dir.increment(ec), ++seen) {
      std::error_code type_error;
      if (!dir->is_directory(type_error)) continue;
      std::string name = dir->path().filename().string();
      if (!ValidateModelName(name).ok()) continue;
      if (std::find(served.begin(), served.end(), name) != served.end()) continue;
      entries.push_back({std::move(name), "", "UNAVAILABLE", "unloaded"});
    }
  }
  if (ready_only) {
    std::erase_if(entries, [](const RepositoryIndexEntry& entry) { return entry.state != "READY"; });
  }
  // Stable: the versions of one model stay newest first.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const RepositoryIndexEntry& a, const RepositoryIndexEntry& b) { return a.name < b.name; });
  return entries;
}

Status ModelControl::Load(std::string_view name) {
  SERVAL_RETURN_IF_ERROR(ValidateModelName(name));
  const std::string wanted = policy_.model_root + "/" + std::string(name);
  StatusOr<std::string> base_path = CheckBasePath(wanted);
  if (!base_path.ok()) return base_path.status();
  std::error_code ec;
  if (!fs::is_directory(*base_path, ec)) {
    return InvalidArgument("failed to load '" + std::string(name) + "': no model directory '" + wanted +
                           "' under --model_root");
  }
  ModelConfig config;
  if (policy_.triton_repository) config = ReadRepositoryModel(policy_.model_root, std::string(name));
  config.name = std::string(name);
  config.base_path = std::move(*base_path);
  Status loaded = models_.LoadModel(std::move(config));
  if (loaded.ok()) return loaded;
  // Triton answers a load that fails with 400: the request named something that cannot be served.
  const StatusCode code = loaded.code() == StatusCode::kNotFound ? StatusCode::kInvalidArgument : loaded.code();
  return Status(code, "failed to load '" + std::string(name) + "': " + loaded.message());
}

Status ModelControl::Unload(std::string_view name) {
  SERVAL_RETURN_IF_ERROR(ValidateModelName(name));
  return models_.UnloadModel(name);
}

Status ModelControl::ReloadConfig(std::vector<ModelConfig> configs) {
  for (ModelConfig& config : configs) {
    SERVAL_RETURN_IF_ERROR(ValidateModelName(config.name));
    StatusOr<std::string> base_path = CheckBasePath(config.base_path);
    if (!base_path.ok()) {
      return Status(base_path.status().code(), "model '" + config.name + "': " + base_path.status().message());
    }
    config.base_path = std::move(*base_path);
  }
  return models_.SetConfig(std::move(configs));
}

}  // namespace serval

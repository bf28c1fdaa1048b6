// ModelControl: the policy and the actions behind every model control route — Triton's repository
// extension (REST POST /v2/repository/..., gRPC RepositoryIndex / RepositoryModelLoad /
// RepositoryModelUnload) and TF Serving's ModelService.HandleReloadConfigRequest. The protocol layers parse
// their wire format and call, in this order:
//   1. Authorize(credential) — before anything else, on every control route of every protocol;
//   2. one action (Index, Load, Unload, ReloadConfig).
//
// Policy (docs/reliability.md §4: model control is the top RCE surface, so it is off unless asked for):
//   * disabled (the default) → PERMISSION_DENIED on every route, whatever the credential;
//   * an admin token configured → the request must present it ("Bearer <token>" in the HTTP Authorization
//     header or the gRPC "authorization" metadata); missing or wrong → UNAUTHENTICATED. Compared in time
//     that depends only on the configured token's length;
//   * every base_path an action would serve from must lie under model_root after resolving symlinks and
//     "..": otherwise PERMISSION_DENIED naming the path. The canonical path is what gets served.
//
// Thread-safety: all methods may be called concurrently; the ModelManager serialises the changes.
// Actions load synchronously (a load answers when the model is AVAILABLE or has failed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "repository/model_config.h"
#include "repository/model_manager.h"

namespace serval {

struct ModelControlPolicy {
  bool enabled = false;
  std::string model_root;   // REQUIRES when enabled: absolute and canonical (symlinks resolved)
  std::string admin_token;  // empty: no token demanded
  // model_root is a Triton model repository: Load reads <model_root>/<name>/config.pbtxt (Triton's explicit
  // model control mode) instead of serving the directory with the default policy.
  bool triton_repository = false;
};

// One line of Triton's repository index. `state` is Triton's word: READY, LOADING, UNLOADING, UNAVAILABLE.
struct RepositoryIndexEntry {
  std::string name;
  std::string version;  // empty when no version is known
  std::string state;
  std::string reason;  // why it is not READY; empty when it is
  bool operator==(const RepositoryIndexEntry&) const = default;
};

class ModelControl {
 public:
  // REQUIRES: `models` outlives this object.
  ModelControl(ModelManager& models, ModelControlPolicy policy);
  ModelControl(const ModelControl&) = delete;
  ModelControl& operator=(const ModelControl&) = delete;

  bool enabled() const { return policy_.enabled; }

  // `authorization` is the raw credential as sent ("Bearer <token>"), nullopt when the request carried
  // none. OK, PERMISSION_DENIED (control off) or UNAUTHENTICATED (token missing or wrong).
  Status Authorize(std::optional<std::string_view> authorization) const;

  // The canonical form of `base_path` when it lies under model_root (or is model_root); else
  // PERMISSION_DENIED naming the path. Also INVALID_ARGUMENT for a relative or unresolvable path.
  StatusOr<std::string> CheckBasePath(std::string_view base_path) const;

  // Every version of every served model (one line each, newest first), then every directory under
  // model_root whose name is a valid model name and that is not served (UNAVAILABLE, "unloaded").
  // Sorted by name. `ready_only`: only READY lines.
  std::vector<RepositoryIndexEntry> Index(bool ready_only) const;

  // Serves <model_root>/<name> with the default version policy (the latest version) and loads it now.
  // INVALID_ARGUMENT for a bad name, a missing directory or a failed load (Triton's 400); PERMISSION_DENIED
  // when the directory resolves outside model_root (a symlink).
  Status Load(std::string_view name);

  // Stops serving `name`; requests in flight finish first. NOT_FOUND when it is not served.
  Status Unload(std::string_view name);

  // Serves exactly `configs` (TF Serving's ReloadConfig). Every base_path is checked first: one bad entry
  // fails the whole reload and changes nothing. Returns the first load error, as ModelManager::SetConfig.
  Status ReloadConfig(std::vector<ModelConfig> configs);

 private:
  ModelManager& models_;
  const ModelControlPolicy policy_;
};

// control->Authorize(authorization), or PERMISSION_DENIED when `control` is null (no control surface
// configured: the same answer as a disabled one).
Status AuthorizeModelControl(const ModelControl* control, std::optional<std::string_view> authorization);

// "Bearer <token>" → "<token>" (scheme case-insensitive, spaces after it skipped); nullopt otherwise.
std::optional<std::string_view> BearerToken(std::string_view authorization);

// The JSON body of a Triton repository request over REST: {"ready": bool} (index), {"parameters": {...}}
// (load, unload). An empty body is an empty request; other top-level keys are ignored, as Triton does.
// Bodies over kMaxRepositoryBodyBytes are RESOURCE_EXHAUSTED; nesting is capped by the JSON reader.
inline constexpr size_t kMaxRepositoryBodyBytes = 1 << 20;
struct RepositoryRequestBody {
  bool ready = false;
  std::vector<std::string> parameter_names;  // the keys of "parameters", in order
};
StatusOr<RepositoryRequestBody> DecodeRepositoryRequestBody(std::string_view body);

// Load parameters Serval refuses with INVALID_ARGUMENT: "config" and "file:<path>" (Triton's override of
// the model's configuration and files from the request: a network-settable model file is exactly what
// docs/reliability.md §4 forbids). Any other parameter is accepted and has no effect.
Status CheckLoadParameters(const std::vector<std::string>& names);

}  // namespace serval

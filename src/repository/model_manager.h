// ModelManager: the one owner of model versions. It finds versions under each model's base_path
// (<base_path>/<integer version>/model.onnx), loads the ones the version policy asks for, makes them
// AVAILABLE, and unloads the ones no longer wanted — after their replacement is AVAILABLE
// (availability-preserving) and only when the last ServableHandle that uses them is gone (drain by
// reference count, never by sleeping).
//
// Thread-safety: all methods may be called from any thread concurrently.
//
// Version pickup rule (a copy in progress must never be loaded): after start-up, a new version directory
// is loaded only when its model.onnx has the same size and mtime on two consecutive polls. A version
// that fails to load stays END with the error and is retried only when its file changes; it never
// replaces a working version.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/inference.h"
#include "core/model_status.h"
#include "core/status.h"
#include "engine/engine.h"
#include "repository/model_config.h"

namespace serval {

// One loaded model version. Immutable once published.
struct LoadedVersion {
  std::string model_name;
  int64_t version = 0;
  std::unique_ptr<ModelSession> session;
};

// Keeps one version alive while a request uses it. Holding it delays that version's unload: hold it for
// one request and no longer.
class ServableHandle {
 public:
  explicit ServableHandle(std::shared_ptr<const LoadedVersion> loaded) : loaded_(std::move(loaded)) {}
  const std::string& model_name() const { return loaded_->model_name; }
  int64_t version() const { return loaded_->version; }
  const ModelSignature& signature() const { return loaded_->session->signature(); }
  // Validates `request` against the signature and runs it; fills `response` (name, version, id, outputs).
  Status Run(const InferenceRequest& request, InferenceResponse* response) const;

 private:
  std::shared_ptr<const LoadedVersion> loaded_;
};

struct ModelManagerOptions {
  int file_system_poll_wait_seconds = 1;  // 0 = look once at start-up only
};

class ModelManager {
 public:
  ModelManager(const Engine& engine, ModelManagerOptions options);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Serves exactly `configs`: loads their aspired versions now (synchronously) and forgets models not
  // listed. Returns the first load error of a model that ended with no AVAILABLE version, if any (the
  // server still serves the rest).
  Status SetConfig(std::vector<ModelConfig> configs);
  // Starts the thread that re-scans base paths every poll interval (no-op when the interval is 0).
  void StartPolling();

  // A handle on the version `selector` names (latest AVAILABLE when empty). NOT_FOUND with TF Serving's
  // "Servable not found for request: Latest(m)" text when there is none.
  StatusOr<ServableHandle> Acquire(std::string_view model, const VersionSelector& selector) const;
  // Status of every known version of `model` (or of the one `selector` names), highest version first.
  StatusOr<std::vector<VersionStatus>> GetVersionStatus(std::string_view model, const VersionSelector& selector) const;
  std::vector<std::string> ModelNames() const;
  // True when every configured model has at least one AVAILABLE version.
  bool AllModelsReady() const;

 private:
  struct FileObservation {
    int64_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const FileObservation&) const = default;
  };
  struct VersionEntry {
    VersionState state = VersionState::kStart;
    Status status;
    FileObservation loaded_from;  // the file as it was when the load was tried
    std::shared_ptr<const LoadedVersion> loaded;
  };
  struct ModelEntry {
    ModelConfig config;
    std::map<int64_t, VersionEntry> versions;
    std::map<int64_t, FileObservation> pending;  // seen once, waiting to be seen unchanged
  };

  // One scan of one model's base path; loads and unloads as the policy says. `startup` skips the
  // two-poll stability wait.
  void SyncModel(const std::string& name, bool startup);
  void PollLoop();

  const Engine& engine_;
  const ModelManagerOptions options_;
  mutable std::shared_mutex mutex_;  // guards models_
  std::map<std::string, ModelEntry, std::less<>> models_;
  std::mutex sync_mutex_;  // one sync at a time (config changes vs. polls)

  std::mutex poll_mutex_;
  std::condition_variable poll_wakeup_;
  bool stopping_ = false;
  std::thread poll_thread_;
};

}  // namespace serval

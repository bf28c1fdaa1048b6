// ModelManager: the one owner of model versions. It finds versions under each model's base_path
// (<base_path>/<integer version>/model.onnx, one ONNX graph per signature listed in a signatures.json there
// (repository/signature_file.h), or a SavedModel there), loads the ones the version policy asks for, warms
// them up, makes them AVAILABLE, moves labels, and unloads the ones no longer wanted — after their replacement is
// AVAILABLE (availability-preserving, the default) or before it loads (resource-preserving) — and only when
// the last ServableHandle that uses them is gone (drain by reference count, never by sleeping).
//
// Thread-safety: all methods may be called from any thread concurrently.
//
// Version pickup rule (a copy in progress must never be loaded): after a model is first configured, a new
// version is loaded only when its model.onnx (with a signatures.json: that file and every .onnx file beside it)
// has the same size and mtime on two consecutive polls. A
// version that fails to load stays END with the error and is tried again only when its file changes; it
// never replaces a working version. Only errors that may be transient (I/O, memory, internal) are retried
// in place, per max_num_load_retries; a file ONNX Runtime rejects is not retried until it changes.
//
// States: START (seen, waiting) → LOADING (load, warm-up) → AVAILABLE → UNLOADING (no longer aspired,
// requests still hold it) → END (released, or failed with the error).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/example_spec.h"
#include "core/inference.h"
#include "core/inline_run.h"
#include "core/model_status.h"
#include "core/status.h"
#include "engine/engine.h"
#include "repository/file_system_source.h"
#include "repository/model_config.h"
#include "repository/triton_session.h"
#include "repository/version_plan.h"

namespace serval {

// One loaded model version. Immutable once published.
struct LoadedVersion {
  std::string model_name;
  int64_t version = 0;
  std::unique_ptr<ModelSession> session;
  std::string platform = "onnx";                  // "onnx" | "tensorflow"
  std::shared_ptr<const TritonModelInfo> triton;  // set for models of a Triton model repository
  // Recent run time of this version (the only mutable part): decides whether its calls may run inline.
  mutable RunTimeEstimate run_time;
};

// Keeps one version alive while a request uses it. Holding it delays that version's unload: hold it for
// one request and no longer.
class ServableHandle {
 public:
  explicit ServableHandle(std::shared_ptr<const LoadedVersion> loaded) : loaded_(std::move(loaded)) {}
  const std::string& model_name() const { return loaded_->model_name; }
  int64_t version() const { return loaded_->version; }
  const ModelSignature& signature() const { return loaded_->session->signature(); }
  // "tensorflow" or "onnx": the engine that serves this version.
  const std::string& platform() const { return loaded_->platform; }
  // Every signature by name; empty when the version has only its default signature (ONNX graphs).
  const std::vector<SignatureDef>& signature_defs() const { return loaded_->session->signature_defs(); }
  const ModelSession& session() const { return *loaded_->session; }
  // True when a run may wait for a batch to fill (batching, Triton dynamic batching).
  bool waits_for_batch() const { return loaded_->session->waits_for_batch(); }
  // This version's recent run time (RunTimeEstimate), recorded by the serving frontend after each run.
  void RecordRunTime(std::chrono::nanoseconds run) const { loaded_->run_time.Record(run); }
  std::optional<int64_t> recent_run_micros() const { return loaded_->run_time.micros(); }
  // The effective Triton configuration and labels of a model from a Triton model repository; nullptr for
  // others.
  const TritonModelInfo* triton() const { return loaded_->triton.get(); }
  // Triton's statistics of this version; nullopt for models that are not from a Triton repository.
  std::optional<TritonStatisticsSnapshot> triton_statistics() const {
    const auto* session = dynamic_cast<const TritonSession*>(loaded_->session.get());
    if (session == nullptr) return std::nullopt;
    return session->Statistics();
  }
  // engine.h's FindSignature / AllSignatures on this version.
  using SignatureRef = serval::SignatureRef;
  StatusOr<SignatureRef> FindSignature(std::string_view name) const { return serval::FindSignature(session(), name); }
  std::vector<SignatureDef> AllSignatures() const { return serval::AllSignatures(session()); }
  // Validates `request` against the signature it names and runs it; fills `response` (name, version, id,
  // outputs).
  Status Run(const InferenceRequest& request, InferenceResponse* response) const;

 private:
  std::shared_ptr<const LoadedVersion> loaded_;
};

// One line of the repository index (Triton's POST /v2/repository/index): a served model and the state of
// its newest known version.
struct ModelSummary {
  std::string name;
  int64_t version = -1;  // -1 when no version was found yet
  VersionState state = VersionState::kUnknown;
  std::string reason;  // why that version is not AVAILABLE, if it is not
};

// Triton's default for models it completes the configuration of (its default-max-batch-size).
inline constexpr int32_t kTritonDefaultMaxBatchSize = 4;

struct ModelManagerOptions {
  int file_system_poll_wait_seconds = 1;  // 0 = look once at start-up only
  // Keep serving the loaded versions when a base path becomes empty or unreadable (TF Serving's
  // --servable_versions_always_present). Off: such a model's versions unload, with a status saying why.
  bool servable_versions_always_present = false;
  int max_num_load_retries = 5;                     // retries of a load that failed with a transient error
  int64_t load_retry_interval_micros = 60'000'000;  // wait between those retries
  int num_load_threads = 0;  // 0 = models are loaded one after another on the thread that syncs them
  // Resource-preserving: unload (and drain) the versions leaving before loading the ones arriving, so that
  // two versions of a large model never share the host. Default: availability-preserving.
  bool resource_preserving = false;
  // TF Serving's --allow_version_labels_for_unavailable_models: a NEW label may name a version that is not
  // AVAILABLE yet. Without it (and always for a label that exists), the target must be AVAILABLE.
  bool allow_version_labels_for_unavailable_models = false;
  // Runs on a freshly loaded session before its version becomes AVAILABLE (warm-up). Returns how many
  // requests it ran; an error fails the load. Unset = no warm-up.
  std::function<StatusOr<int>(const std::string& version_dir, const ModelSession& session)> warmup = nullptr;
  // Wraps a freshly loaded session (e.g. in a dynamic batcher) before warm-up. Unset = served as loaded.
  std::function<StatusOr<std::unique_ptr<ModelSession>>(const ModelConfig& config, const std::string& version_dir,
                                                        std::unique_ptr<ModelSession> session)>
      wrap_session = nullptr;
  // Parses serialized tf.Examples for the tf.Example signatures of ONNX versions converted with a signature
  // file (engine/signature_graphs.h). Unset = such signatures fail their requests.
  ExampleParser parse_examples = nullptr;
  // Triton-repository models with dynamic_batching: wraps the session in a batcher configured from the
  // config, which reports its executions and times into `stats`. Unset = such models fail to load.
  std::function<StatusOr<std::unique_ptr<ModelSession>>(const TritonModelConfig& config, int64_t version,
                                                        std::shared_ptr<TritonStatistics> stats,
                                                        std::unique_ptr<ModelSession> session)>
      wrap_dynamic_batching = nullptr;
  // Triton's auto-complete: the max_batch_size of a model without config.pbtxt that can batch.
  int32_t triton_default_max_batch_size = kTritonDefaultMaxBatchSize;
  // Called after every load attempt of a version (metrics). Unset = nothing.
  std::function<void(const std::string& model, int64_t version, double seconds, bool ok)> on_load_finished = nullptr;
};

class ModelManager {
 public:
  // `engine` serves model.onnx versions; `tf_engine` SavedModel versions (nullptr: none, their loads fail
  // with a message saying so). Both must outlive the manager.
  ModelManager(const Engine& engine, ModelManagerOptions options, const Engine* tf_engine = nullptr);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Serves exactly `configs`: loads their aspired versions now (synchronously) and forgets models not
  // listed. Returns the first load error of a model that ended with no AVAILABLE version, if any (the
  // server still serves the rest).
  // Also the config-file reload: models kept keep their versions; a label that would point at a version
  // that is not AVAILABLE is refused (the model keeps its old labels) and reported in the returned status.
  Status SetConfig(std::vector<ModelConfig> configs);
  // Starts the thread that re-scans base paths every poll interval (no-op when the interval is 0).
  void StartPolling();

  // A handle on the version `selector` names (latest AVAILABLE when empty). NOT_FOUND with TF Serving's
  // "Servable not found for request: Latest(m)" text when there is none.
  StatusOr<ServableHandle> Acquire(std::string_view model, const VersionSelector& selector) const;
  // Status of every known version of `model` (or of the one `selector` names), highest version first.
  StatusOr<std::vector<VersionStatus>> GetVersionStatus(std::string_view model, const VersionSelector& selector) const;
  std::vector<std::string> ModelNames() const;
  // The config `name` is served with; nullopt when it is not served.
  std::optional<ModelConfig> Config(std::string_view name) const;

  // Control surface (Triton repository extension, TF Serving HandleReloadConfigRequest). Policy checks
  // (enabled, model root, token) belong to the caller.
  // Adds `config` to the served set, or replaces the config of the model with that name, and loads it now.
  // Returns the load error when the model ends with no AVAILABLE version (it stays listed, state END).
  Status LoadModel(ModelConfig config);
  // Removes `name` from the served set; requests in flight finish on the versions they hold.
  // NOT_FOUND when no such model is served.
  Status UnloadModel(std::string_view name);
  // Every served model, by name.
  std::vector<ModelSummary> Summaries() const;
  // True when every configured model has at least one AVAILABLE version.
  bool AllModelsReady() const;

  // What one version directory holds (see the pickup rule above).
  using FileObservation = serval::FileObservation;

 private:
  struct VersionEntry {
    VersionState state = VersionState::kStart;
    Status status;
    FileObservation loaded_from;                  // the file as it was when the load was tried
    std::shared_ptr<const LoadedVersion> loaded;  // set while AVAILABLE
    std::weak_ptr<const LoadedVersion> draining;  // set while UNLOADING: END once it expires
  };
  struct ModelEntry {
    ModelConfig config;
    std::map<std::string, int64_t> labels;  // labels in force (validated against AVAILABLE versions)
    std::map<int64_t, VersionEntry> versions;
    std::map<int64_t, FileObservation> pending;  // seen once, waiting to be seen unchanged
    bool synced_once = false;                    // the first sync skips the two-poll wait
  };

  // One sync of one model: observe its base path (file_system_source.h), plan (version_plan.h), load and
  // drain, commit.
  void SyncModel(const std::string& name);
  static std::map<int64_t, KnownVersion> Known(const ModelEntry& entry);
  // A Triton-repository version's effective config (checked against the model, or completed) and labels.
  StatusOr<std::shared_ptr<const TritonModelInfo>> TritonInfo(const ModelConfig& config, const std::string& platform,
                                                              const ModelSignature& signature) const;
  // The session a Triton-repository version is served through (batcher when configured, then TritonSession).
  StatusOr<std::unique_ptr<ModelSession>> WrapTriton(const ModelConfig& config, int64_t version,
                                                     const std::shared_ptr<const TritonModelInfo>& info,
                                                     std::unique_ptr<ModelSession> session) const;
  enum class LoadOutcome { kLoaded, kFailed, kModelGone };
  // Marks `version` LOADING, loads it and records the result (AVAILABLE, or END with the error).
  LoadOutcome LoadAndRecord(const std::string& name, const ModelConfig& config, int64_t version,
                            const FileObservation& files);
  // SyncModel for each name, on the load threads when there are any; returns when all are done.
  void SyncModels(const std::vector<std::string>& names);
  // Loads one version (check, load, wrap, warm up), retrying transient failures. Does not touch models_.
  StatusOr<std::shared_ptr<const LoadedVersion>> LoadVersion(const ModelConfig& config, int64_t version,
                                                             const FileObservation& files);
  // Marks an AVAILABLE version UNLOADING and lets go of it. REQUIRES: mutex_ held exclusively.
  static void BeginUnload(const std::string& name, int64_t version, VersionEntry& state, Status why);
  // Checks `wanted` labels against the AVAILABLE versions and installs them. REQUIRES: mutex_ held.
  Status ApplyLabels(const std::string& name, ModelEntry& entry) const;
  // The state a status API reports (UNLOADING turns END once its last handle is gone).
  static VersionStatus Report(int64_t version, const VersionEntry& state);
  // Waits (interruptibly, up to `timeout`) until `version` has no handle left. False on stop or timeout.
  bool WaitForDrain(const std::weak_ptr<const LoadedVersion>& version, std::chrono::milliseconds timeout);
  bool WaitOrStop(std::chrono::microseconds duration);  // false when stopping
  void PollLoop();
  void LoadWorker();

  const Engine& engine_;
  const Engine* const tf_engine_;
  const ModelManagerOptions options_;
  mutable std::shared_mutex mutex_;  // guards models_
  std::map<std::string, ModelEntry, std::less<>> models_;
  std::mutex sync_mutex_;  // one sync at a time (config changes vs. polls)

  std::mutex poll_mutex_;  // guards stopping_ and the load queue
  std::condition_variable poll_wakeup_;
  bool stopping_ = false;
  std::thread poll_thread_;

  // Load threads (num_load_threads): each takes one model to sync from the queue.
  std::condition_variable load_wakeup_;
  std::condition_variable load_done_;
  std::vector<std::string> load_queue_;
  size_t loads_running_ = 0;
  std::vector<std::thread> load_threads_;

  // Signalled whenever a LoadedVersion is destroyed (resource-preserving drains wait on it).
  struct DrainSignal {
    std::mutex mutex;
    std::condition_variable released;
  };
  std::shared_ptr<DrainSignal> drain_signal_ = std::make_shared<DrainSignal>();
};

}  // namespace serval

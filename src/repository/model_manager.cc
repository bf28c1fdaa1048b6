#include "repository/model_manager.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <malloc.h>

#include <spdlog/spdlog.h>

#include "engine/signature_graphs.h"
#include "repository/file_system_source.h"
#include "repository/model_file_check.h"
#include "repository/signature_file.h"
#include "repository/version_plan.h"

namespace serval {

namespace {

// How long a resource-preserving sync waits for a leaving version's last request before loading anyway.
constexpr auto kResourcePreservingDrainTimeout = std::chrono::seconds(60);
// Load rounds of one sync: a failed load drops out and the policy is re-applied, so every round but the last
// removes a candidate; this only bounds a repository that keeps failing.
constexpr int kMaxLoadRounds = 64;

// An ONNX session whose inputs named in `names` declare no shape: they accept tensors of any rank, which
// ONNX Runtime's API reports as rank 0. Everything else is the wrapped session's.
class AnyRankInputsSession final : public ModelSession {
 public:
  AnyRankInputsSession(std::unique_ptr<ModelSession> inner, const std::vector<std::string>& names)
      : inner_(std::move(inner)), signature_(inner_->signature()) {
    for (TensorSpec& spec : signature_.inputs) {
      if (std::find(names.begin(), names.end(), spec.name) != names.end() && spec.shape.empty()) {
        spec.unknown_rank = true;
      }
    }
  }
  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return inner_->execution_provider(); }
  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext& context,
             std::vector<Tensor>* outputs) const override {
    return inner_->Run(inputs, output_names, context, outputs);
  }

 private:
  std::unique_ptr<ModelSession> inner_;
  ModelSignature signature_;
};

std::unique_ptr<ModelSession> WithAnyRankInputs(std::unique_ptr<ModelSession> session,
                                                const std::vector<std::string>& names) {
  return std::make_unique<AnyRankInputsSession>(std::move(session), names);
}

// A version with a signature file: one ONNX session per graph it lists, each checked as a model file
// first, joined into one session with every signature. Fails when any graph fails.
StatusOr<std::unique_ptr<ModelSession>> LoadSignatureGraphs(const Engine& engine, const std::string& dir,
                                                            const ExampleParser& parser) {
  StatusOr<std::vector<GraphSignatureSpec>> specs = ReadSignatureFile(dir);
  if (!specs.ok()) return specs.status();
  std::map<std::string, std::unique_ptr<ModelSession>> graphs;
  for (const GraphSignatureSpec& spec : *specs) {
    if (graphs.count(spec.graph) != 0) continue;
    std::vector<std::string> any_rank;
    Status checked = CheckModelFile(spec.graph, dir, &any_rank);
    StatusOr<std::unique_ptr<ModelSession>> graph =
        checked.ok() ? engine.Load(spec.graph) : StatusOr<std::unique_ptr<ModelSession>>(checked);
    if (!graph.ok()) {
      return Status(graph.status().code(),
                    "signature '" + spec.def.name.substr(0, 256) + "': " + graph.status().message());
    }
    if (!any_rank.empty()) graph = WithAnyRankInputs(std::move(graph).value(), any_rank);
    graphs.emplace(spec.graph, std::move(graph).value());
  }
  const size_t count = specs->size();
  const size_t graph_count = graphs.size();
  StatusOr<std::unique_ptr<ModelSession>> session =
      MakeSignatureGraphsSession(std::move(specs).value(), std::move(graphs), parser);
  if (!session.ok()) {
    return Status(session.status().code(), "signatures.json: " + session.status().message());
  }
  spdlog::info("{}: {} signatures from {} ({} graphs)", dir, count, kSignatureFileName, graph_count);
  return session;
}

std::string SelectorText(std::string_view model, const VersionSelector& selector) {
  if (selector.number) return "Specific(" + std::string(model) + ", " + std::to_string(*selector.number) + ")";
  if (!selector.label.empty()) return "Label(" + std::string(model) + ", " + selector.label + ")";
  return "Latest(" + std::string(model) + ")";
}

Status ServableNotFound(std::string_view model, const VersionSelector& selector) {
  return NotFound("Servable not found for request: " + SelectorText(model, selector));
}

// Why a model has no AVAILABLE version when none failed to load: its refused config.pbtxt, or no version.
Status NoVersionError(const std::string& name, const ModelConfig& config) {
  if (config.triton && !config.triton_config_error.ok()) return config.triton_config_error;
  return NotFound("model '" + name + "' has no loadable version under '" + config.base_path + "'");
}

}  // namespace

Status ServableHandle::Run(const InferenceRequest& request, InferenceResponse* response) const {
  response->model_name = loaded_->model_name;
  response->model_version = loaded_->version;
  response->id = request.id;
  response->outputs.clear();
  return RunRequest(*loaded_->session, request, &response->outputs);
}

ModelManager::ModelManager(const Engine& engine, ModelManagerOptions options, const Engine* tf_engine)
    : engine_(engine), tf_engine_(tf_engine), options_(std::move(options)) {
  for (int i = 0; i < options_.num_load_threads; ++i) load_threads_.emplace_back([this] { LoadWorker(); });
}

ModelManager::~ModelManager() {
  {
    std::lock_guard lock(poll_mutex_);
    stopping_ = true;
  }
  poll_wakeup_.notify_all();
  load_wakeup_.notify_all();
  load_done_.notify_all();
  { std::lock_guard lock(drain_signal_->mutex); }
  drain_signal_->released.notify_all();
  if (poll_thread_.joinable()) poll_thread_.join();
  for (std::thread& thread : load_threads_) thread.join();
}

Status ModelManager::SetConfig(std::vector<ModelConfig> configs) {
  std::lock_guard sync(sync_mutex_);
  std::vector<std::string> names;
  {
    std::unique_lock lock(mutex_);
    std::set<std::string, std::less<>> wanted;
    for (ModelConfig& config : configs) {
      wanted.insert(config.name);
      names.push_back(config.name);
      ModelEntry& entry = models_[config.name];
      entry.config = std::move(config);
    }
    for (auto it = models_.begin(); it != models_.end();) {
      if (wanted.count(it->first) == 0) {
        spdlog::info("model {}: removed from the config; unloading once in-flight requests finish", it->first);
        it = models_.erase(it);  // handles in flight keep their versions alive until they finish
      } else {
        ++it;
      }
    }
  }
  SyncModels(names);
  Status first_error;
  std::unique_lock lock(mutex_);
  for (const std::string& name : names) {
    ModelEntry& entry = models_.at(name);
    Status labels = ApplyLabels(name, entry);
    if (!labels.ok() && first_error.ok()) first_error = labels;
    bool available = std::any_of(entry.versions.begin(), entry.versions.end(),
                                 [](const auto& v) { return v.second.state == VersionState::kAvailable; });
    if (!available && first_error.ok()) {
      first_error = NoVersionError(name, entry.config);
      for (const auto& [version, state] : entry.versions) {
        if (!state.status.ok()) first_error = state.status;
      }
    }
  }
  return first_error;
}

Status ModelManager::ApplyLabels(const std::string& name, ModelEntry& entry) const {
  for (const auto& [label, version] : entry.config.version_labels) {
    auto target = entry.versions.find(version);
    bool available = target != entry.versions.end() && target->second.state == VersionState::kAvailable;
    bool is_new = entry.labels.count(label) == 0;
    if (!available && !(is_new && options_.allow_version_labels_for_unavailable_models)) {
      spdlog::error("model {}: version label '{}' not moved to version {}: that version is not AVAILABLE", name, label,
                    version);
      std::string why = "model '";
      why += name;
      why += "': version label '";
      why += label;
      why += "' cannot point at version ";
      why += std::to_string(version);
      why +=
          ", which is not AVAILABLE; the model keeps its previous labels (TF Serving's rule; "
          "--allow_version_labels_for_unavailable_models permits it for new labels)";
      return FailedPrecondition(std::move(why));
    }
  }
  entry.labels = entry.config.version_labels;
  return Status::Ok();
}

void ModelManager::StartPolling() {
  if (options_.file_system_poll_wait_seconds <= 0 || poll_thread_.joinable()) return;
  poll_thread_ = std::thread([this] { PollLoop(); });
}

bool ModelManager::WaitOrStop(std::chrono::microseconds duration) {
  std::unique_lock lock(poll_mutex_);
  return !poll_wakeup_.wait_for(lock, duration, [this] { return stopping_; });
}

void ModelManager::PollLoop() {
  while (WaitOrStop(std::chrono::seconds(options_.file_system_poll_wait_seconds))) {
    std::lock_guard sync(sync_mutex_);
    SyncModels(ModelNames());
  }
}

void ModelManager::SyncModels(const std::vector<std::string>& names) {
  if (load_threads_.empty() || names.size() < 2) {
    for (const std::string& name : names) SyncModel(name);
    return;
  }
  std::unique_lock lock(poll_mutex_);
  load_queue_.insert(load_queue_.end(), names.begin(), names.end());
  load_wakeup_.notify_all();
  load_done_.wait(lock, [this] { return (load_queue_.empty() && loads_running_ == 0) || stopping_; });
}

void ModelManager::LoadWorker() {
  std::unique_lock lock(poll_mutex_);
  while (true) {
    load_wakeup_.wait(lock, [this] { return stopping_ || !load_queue_.empty(); });
    if (stopping_) return;
    std::string name = std::move(load_queue_.back());
    load_queue_.pop_back();
    ++loads_running_;
    lock.unlock();
    SyncModel(name);
    lock.lock();
    --loads_running_;
    if (load_queue_.empty() && loads_running_ == 0) load_done_.notify_all();
  }
}

namespace {

// Errors that a second try may not repeat (I/O, memory, internal). A file ONNX Runtime rejects
// (INVALID_ARGUMENT, FAILED_PRECONDITION) or a missing file is not retried until it changes.
bool IsTransient(const Status& status) {
  switch (status.code()) {
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kInternal:
    case StatusCode::kUnknown:
    case StatusCode::kAborted:
    case StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

}  // namespace

StatusOr<std::shared_ptr<const TritonModelInfo>> ModelManager::TritonInfo(const ModelConfig& config,
                                                                          const std::string& platform,
                                                                          const ModelSignature& signature) const {
  auto info = std::make_shared<TritonModelInfo>();
  if (config.triton_config) {
    StatusOr<TritonModelConfig> checked = CheckTritonConfigAgainstModel(*config.triton_config, signature);
    if (!checked.ok()) return checked.status();
    info->config = std::move(checked).value();
  } else {
    info->config = AutoCompleteTritonConfig(config.name, platform, signature, options_.triton_default_max_batch_size);
    info->auto_completed = true;
  }
  StatusOr<std::map<std::string, std::vector<std::string>>> labels = ReadTritonLabels(info->config, config.base_path);
  if (!labels.ok()) return labels.status();
  info->labels = std::move(labels).value();
  return std::shared_ptr<const TritonModelInfo>(std::move(info));
}

StatusOr<std::unique_ptr<ModelSession>> ModelManager::WrapTriton(const ModelConfig& config, int64_t version,
                                                                 const std::shared_ptr<const TritonModelInfo>& info,
                                                                 std::unique_ptr<ModelSession> session) const {
  auto stats = std::make_shared<TritonStatistics>();
  bool batched = false;
  if (info->config.dynamic_batching) {
    if (!options_.wrap_dynamic_batching) {
      return FailedPrecondition("model '" + config.name +
                                "': dynamic_batching needs a batcher, and this server has none");
    }
    StatusOr<std::unique_ptr<ModelSession>> wrapped =
        options_.wrap_dynamic_batching(info->config, version, stats, std::move(session));
    if (!wrapped.ok()) return wrapped.status();
    session = std::move(wrapped).value();
    batched = true;
  }
  return std::unique_ptr<ModelSession>(
      std::make_unique<TritonSession>(std::move(session), info, std::move(stats), batched));
}

StatusOr<std::shared_ptr<const LoadedVersion>> ModelManager::LoadVersion(const ModelConfig& config, int64_t version,
                                                                         const FileObservation& files) {
  const std::string& dir = files.dir;
  const bool tensorflow = files.platform == kTensorFlowPlatform;
  // A Triton model whose config.pbtxt was refused never loads (the error names what is wrong).
  if (config.triton && !config.triton_config_error.ok()) return config.triton_config_error;
  const SessionOverrides overrides =
      config.triton && config.triton_config ? config.triton_config->ort : SessionOverrides{};
  std::shared_ptr<const TritonModelInfo> triton_info;
  for (int attempt = 0;; ++attempt) {
    StatusOr<std::unique_ptr<ModelSession>> session = Unavailable("not loaded");
    if (tensorflow) {
      session = tf_engine_ != nullptr ? tf_engine_->LoadWith(dir, overrides)
                                      : StatusOr<std::unique_ptr<ModelSession>>(FailedPrecondition(
                                            "version " + std::to_string(version) +
                                            " is a TensorFlow SavedModel and this server has no TensorFlow engine"));
    } else if (files.signature_file) {
      session = LoadSignatureGraphs(engine_, dir, options_.parse_examples);
    } else {
      // Model files are hostile: external data must stay inside the version dir before ORT sees it.
      const std::string path = dir + "/" + std::string(kOnnxModelFileName);
      std::vector<std::string> any_rank;
      Status status = CheckModelFile(path, dir, &any_rank);
      session = status.ok() ? engine_.LoadWith(path, overrides) : StatusOr<std::unique_ptr<ModelSession>>(status);
      if (session.ok() && !any_rank.empty()) session = WithAnyRankInputs(std::move(session).value(), any_rank);
    }
    if (session.ok() && config.triton) {
      StatusOr<std::shared_ptr<const TritonModelInfo>> info =
          TritonInfo(config, files.platform, (*session)->signature());
      if (info.ok()) {
        triton_info = *info;
        // config.pbtxt's model_warmup, on the model itself: before it is AVAILABLE, counted nowhere.
        StatusOr<int> runs = RunTritonWarmup(triton_info->config, config.base_path, **session);
        if (!runs.ok()) {
          session = runs.status();
        } else {
          if (*runs > 0) spdlog::info("model {} version {}: model_warmup ran {} times", config.name, version, *runs);
          session = WrapTriton(config, version, triton_info, std::move(session).value());
        }
      } else {
        session = info.status();
      }
    } else if (session.ok() && options_.wrap_session) {
      session = options_.wrap_session(config, dir, std::move(session).value());
    }
    if (session.ok() && options_.warmup) {
      StatusOr<int> runs = options_.warmup(dir, **session);
      if (runs.ok()) {
        if (*runs > 0) spdlog::info("model {} version {}: warm-up ran {} requests", config.name, version, *runs);
      } else {
        session = runs.status();
      }
    }
    if (session.ok()) {
      // The deleter runs when the last handle goes: that is the moment the version is unloaded.
      std::shared_ptr<DrainSignal> signal = drain_signal_;
      auto* raw = new LoadedVersion{config.name,
                                    version,
                                    std::move(session).value(),
                                    tensorflow ? std::string(kTensorFlowPlatform) : std::string(kOnnxPlatform),
                                    triton_info,
                                    {}};
      return std::shared_ptr<const LoadedVersion>(raw, [signal](const LoadedVersion* loaded) {
        spdlog::info("model {} version {}: unloaded (END)", loaded->model_name, loaded->version);
        delete loaded;
        { std::lock_guard lock(signal->mutex); }
        signal->released.notify_all();
      });
    }
    if (!IsTransient(session.status()) || attempt >= options_.max_num_load_retries) return session.status();
    spdlog::warn("model {} version {}: load failed ({}); retry {} of {} in {} ms", config.name, version,
                 session.status().message(), attempt + 1, options_.max_num_load_retries,
                 options_.load_retry_interval_micros / 1000);
    if (!WaitOrStop(std::chrono::microseconds(options_.load_retry_interval_micros))) {
      return Unavailable("model " + config.name + " version " + std::to_string(version) +
                         ": load abandoned, the server is stopping");
    }
  }
}

void ModelManager::BeginUnload(const std::string& name, int64_t version, VersionEntry& state, Status why) {
  spdlog::info("model {} version {}: UNLOADING ({}); unloads when its last request finishes", name, version,
               why.ok() ? "no longer aspired" : why.message());
  state.state = VersionState::kUnloading;
  state.status = std::move(why);
  state.draining = state.loaded;
  state.loaded.reset();
}

bool ModelManager::WaitForDrain(const std::weak_ptr<const LoadedVersion>& version, std::chrono::milliseconds timeout) {
  std::unique_lock lock(drain_signal_->mutex);
  return drain_signal_->released.wait_for(lock, timeout, [&] {
    std::lock_guard stop(poll_mutex_);
    return version.expired() || stopping_;
  }) && version.expired();
}

std::map<int64_t, KnownVersion> ModelManager::Known(const ModelEntry& entry) {
  std::map<int64_t, KnownVersion> known;
  for (const auto& [version, state] : entry.versions) {
    known[version] = KnownVersion{state.state, !state.status.ok(), state.loaded_from};
  }
  return known;
}

void ModelManager::SyncModel(const std::string& name) {
  ModelConfig config;
  bool first_sync = false;
  {
    std::shared_lock lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) return;
    config = it->second.config;
    first_sync = !it->second.synced_once;
  }

  // Observe.
  BasePathObservation observed = ObserveBasePath(config.base_path, config.platform);
  if (!observed.missing_reason.empty() && options_.servable_versions_always_present && !first_sync) {
    spdlog::warn("model {}: {}; keeping the loaded versions (--servable_versions_always_present)", name,
                 observed.missing_reason);
    return;
  }

  // Plan which versions may load: stable files, not known-bad.
  std::set<int64_t> candidates;
  {
    std::unique_lock lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) return;
    ModelEntry& entry = it->second;
    entry.synced_once = true;
    CandidatePlan plan = PlanCandidates(observed.versions, Known(entry), entry.pending, first_sync);
    for (int64_t version : plan.newly_seen) entry.versions[version].state = VersionState::kStart;
    entry.pending = std::move(plan.next_pending);
    candidates = std::move(plan.candidates);
  }

  // Resource-preserving: versions leaving go first (and drain) before any new version loads.
  if (options_.resource_preserving) {
    std::vector<std::weak_ptr<const LoadedVersion>> leaving;
    {
      std::unique_lock lock(mutex_);
      auto it = models_.find(name);
      if (it == models_.end()) return;
      VersionPlan plan = PlanVersions(config.policy, candidates, Known(it->second));
      if (!plan.load.empty()) {
        for (int64_t version : plan.unload) {
          VersionEntry& state = it->second.versions.at(version);
          BeginUnload(name, version, state, Status::Ok());
          leaving.push_back(state.draining);
        }
      }
    }
    for (const auto& version : leaving) {
      if (!WaitForDrain(version, kResourcePreservingDrainTimeout)) {
        spdlog::warn("model {}: an old version is still in use after {} s; loading the new one anyway", name,
                     kResourcePreservingDrainTimeout.count());
      }
    }
  }

  // Load what the policy wants and is not loaded yet; a failed load drops out and the policy is re-applied,
  // so a broken newest version never displaces a working one.
  for (int round = 0; round < kMaxLoadRounds; ++round) {
    VersionPlan plan;
    {
      std::shared_lock lock(mutex_);
      auto it = models_.find(name);
      if (it == models_.end()) return;
      plan = PlanVersions(config.policy, candidates, Known(it->second));
    }
    bool all_loaded = true;
    for (int64_t version : plan.load) {
      LoadOutcome outcome = LoadAndRecord(name, config, version, observed.versions[version]);
      if (outcome == LoadOutcome::kModelGone) return;
      if (outcome == LoadOutcome::kFailed) {
        candidates.erase(version);
        all_loaded = false;
      }
    }
    if (all_loaded) break;
  }

  // Commit: unload what is no longer wanted; the LoadedVersion is destroyed when its last handle is released.
  std::unique_lock lock(mutex_);
  auto it = models_.find(name);
  if (it == models_.end()) return;
  ModelEntry& entry = it->second;
  const VersionPlan plan = PlanVersions(config.policy, candidates, Known(entry));
  Status why = observed.missing_reason.empty() ? Status::Ok() : NotFound(observed.missing_reason);
  for (int64_t version : plan.unload) BeginUnload(name, version, entry.versions.at(version), why);
  // A version seen once (START) that the policy did not pick once its files were stable, or that is gone,
  // will not load: it is not listed (as in TF Serving, which only reports the versions it aspires to).
  std::erase_if(entry.versions, [&](const auto& item) {
    return item.second.state == VersionState::kStart && plan.aspired.count(item.first) == 0 &&
           entry.pending.count(item.first) == 0;
  });
}

ModelManager::LoadOutcome ModelManager::LoadAndRecord(const std::string& name, const ModelConfig& config,
                                                      int64_t version, const FileObservation& files) {
  {
    std::unique_lock lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) return LoadOutcome::kModelGone;
    VersionEntry& state = it->second.versions[version];
    state.state = VersionState::kLoading;
    state.status = Status::Ok();
  }
  auto started = std::chrono::steady_clock::now();
  StatusOr<std::shared_ptr<const LoadedVersion>> loaded = LoadVersion(config, version, files);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (options_.on_load_finished) options_.on_load_finished(name, version, seconds, loaded.ok());
    // Checking and loading a model allocate (and free) a few copies of its file; glibc keeps freed heap
    // resident unless asked. Give it back so RSS reflects what the loaded versions hold.
    // (Not under ASan: its allocator replaces glibc's, and glibc's trim then trips over its own arenas.)
#ifndef __SANITIZE_ADDRESS__
  ::malloc_trim(0);
#endif
  std::unique_lock lock(mutex_);
  auto it = models_.find(name);
  if (it == models_.end()) return LoadOutcome::kModelGone;
  VersionEntry& state = it->second.versions[version];
  state.loaded_from = files;
  if (loaded.ok()) {
    state.loaded = std::move(loaded).value();
    state.state = VersionState::kAvailable;
    spdlog::info("model {} version {}: AVAILABLE (loaded in {:.3f} s)", name, version, seconds);
    return LoadOutcome::kLoaded;
  }
  state.state = VersionState::kEnd;
  state.status = loaded.status();
  spdlog::error("model {} version {}: load failed: {}", name, version, loaded.status().message());
  return LoadOutcome::kFailed;
}

VersionStatus ModelManager::Report(int64_t version, const VersionEntry& state) {
  if (state.state == VersionState::kUnloading && state.draining.expired()) {
    return {version, VersionState::kEnd, state.status};
  }
  return {version, state.state, state.status};
}

StatusOr<ServableHandle> ModelManager::Acquire(std::string_view model, const VersionSelector& selector) const {
  std::shared_lock lock(mutex_);
  auto it = models_.find(model);
  if (it == models_.end()) return ServableNotFound(model, selector);
  const ModelEntry& entry = it->second;
  std::optional<int64_t> wanted = selector.number;
  if (!selector.label.empty()) {
    auto label = entry.labels.find(selector.label);
    if (label == entry.labels.end()) {
      return NotFound("Unrecognized servable version label: " + selector.label);
    }
    wanted = label->second;
  }
  if (wanted) {
    auto version = entry.versions.find(*wanted);
    if (version == entry.versions.end() || version->second.state != VersionState::kAvailable) {
      return ServableNotFound(model, selector);
    }
    return ServableHandle(version->second.loaded);
  }
  for (auto version = entry.versions.rbegin(); version != entry.versions.rend(); ++version) {
    if (version->second.state == VersionState::kAvailable) return ServableHandle(version->second.loaded);
  }
  return ServableNotFound(model, selector);
}

StatusOr<std::vector<VersionStatus>> ModelManager::GetVersionStatus(std::string_view model,
                                                                    const VersionSelector& selector) const {
  std::shared_lock lock(mutex_);
  auto it = models_.find(model);
  if (it == models_.end()) return NotFound("Could not find any versions of model " + std::string(model));
  const ModelEntry& entry = it->second;
  std::optional<int64_t> wanted = selector.number;
  if (!selector.label.empty()) {
    auto label = entry.labels.find(selector.label);
    if (label == entry.labels.end()) {
      return NotFound("Unrecognized servable version label: " + selector.label);
    }
    wanted = label->second;
  }
  std::vector<VersionStatus> statuses;
  for (auto version = entry.versions.rbegin(); version != entry.versions.rend(); ++version) {
    if (wanted && version->first != *wanted) continue;
    statuses.push_back(Report(version->first, version->second));
  }
  if (statuses.empty()) {
    if (wanted) {
      return NotFound("Could not find version " + std::to_string(*wanted) + " of model " + std::string(model));
    }
    return NotFound("Could not find any versions of model " + std::string(model));
  }
  return statuses;
}

std::vector<std::string> ModelManager::ModelNames() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  for (const auto& entry : models_) names.push_back(entry.first);
  return names;
}

std::optional<ModelConfig> ModelManager::Config(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = models_.find(name);
  if (it == models_.end()) return std::nullopt;
  return it->second.config;
}

bool ModelManager::AllModelsReady() const {
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : models_) {
    bool available = std::any_of(entry.versions.begin(), entry.versions.end(),
                                 [](const auto& v) { return v.second.state == VersionState::kAvailable; });
    if (!available) return false;
  }
  return true;
}

Status ModelManager::LoadModel(ModelConfig config) {
  std::lock_guard sync(sync_mutex_);
  std::string name = config.name;
  {
    std::unique_lock lock(mutex_);
    models_[name].config = std::move(config);
  }
  SyncModel(name);
  std::unique_lock lock(mutex_);
  ModelEntry& entry = models_.at(name);
  SERVAL_RETURN_IF_ERROR(ApplyLabels(name, entry));
  bool available = std::any_of(entry.versions.begin(), entry.versions.end(),
                               [](const auto& v) { return v.second.state == VersionState::kAvailable; });
  if (available) return Status::Ok();
  for (const auto& [version, state] : entry.versions) {
    if (!state.status.ok()) return state.status;
  }
  return NoVersionError(name, entry.config);
}

Status ModelManager::UnloadModel(std::string_view name) {
  std::lock_guard sync(sync_mutex_);
  std::unique_lock lock(mutex_);
  auto it = models_.find(name);
  if (it == models_.end()) return NotFound("model '" + std::string(name) + "' is not served");
  spdlog::info("model {}: unloaded on request; in-flight requests finish first", it->first);
  models_.erase(it);  // handles in flight keep their versions alive until they finish
  return Status::Ok();
}

std::vector<ModelSummary> ModelManager::Summaries() const {
  std::shared_lock lock(mutex_);
  std::vector<ModelSummary> summaries;
  for (const auto& [name, entry] : models_) {
    ModelSummary summary;
    summary.name = name;
    if (!entry.versions.empty()) {
      const auto& [version, state] = *entry.versions.rbegin();
      summary.version = version;
      summary.state = Report(version, state).state;
      summary.reason = state.status.ok() ? "" : std::string(state.status.message());
    }
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

}  // namespace serval

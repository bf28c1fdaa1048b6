#include "repository/model_manager.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <set>

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "repository/model_file_check.h"

namespace serval {
namespace fs = std::filesystem;

namespace {

constexpr const char* kModelFileName = "model.onnx";

// A version directory name is a non-negative decimal integer that fits int64.
bool ParseVersionDirName(const std::string& name, int64_t* version) {
  if (name.empty() || name.size() > 18) return false;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data(), end, *version);
  return ec == std::errc() && ptr == end && *version >= 0;
}

std::string SelectorText(std::string_view model, const VersionSelector& selector) {
  if (selector.number) return "Specific(" + std::string(model) + ", " + std::to_string(*selector.number) + ")";
  if (!selector.label.empty()) return "Label(" + std::string(model) + ", " + selector.label + ")";
  return "Latest(" + std::string(model) + ")";
}

Status ServableNotFound(std::string_view model, const VersionSelector& selector) {
  return NotFound("Servable not found for request: " + SelectorText(model, selector));
}

// The versions the policy wants among `candidates` (sorted ascending).
std::set<int64_t> ApplyPolicy(const VersionPolicy& policy, const std::set<int64_t>& candidates) {
  std::set<int64_t> aspired;
  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      aspired = candidates;
      break;
    case VersionPolicy::Kind::kLatest: {
      uint32_t taken = 0;
      for (auto it = candidates.rbegin(); it != candidates.rend() && taken < policy.latest_count; ++it, ++taken) {
        aspired.insert(*it);
      }
      break;
    }
    case VersionPolicy::Kind::kSpecific:
      for (int64_t version : policy.specific) {
        if (candidates.count(version) != 0) aspired.insert(version);
      }
      break;
  }
  return aspired;
}

}  // namespace

Status ServableHandle::Run(const InferenceRequest& request, InferenceResponse* response) const {
  SERVAL_RETURN_IF_ERROR(ValidateRequest(signature(), request));
  response->model_name = loaded_->model_name;
  response->model_version = loaded_->version;
  response->id = request.id;
  response->outputs.clear();
  return loaded_->session->Run(request.inputs, request.outputs, &response->outputs);
}

ModelManager::ModelManager(const Engine& engine, ModelManagerOptions options)
    : engine_(engine), options_(options) {}

ModelManager::~ModelManager() {
  {
    std::lock_guard lock(poll_mutex_);
    stopping_ = true;
  }
  poll_wakeup_.notify_all();
  if (poll_thread_.joinable()) poll_thread_.join();
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
  Status first_error;
  for (const std::string& name : names) {
    SyncModel(name, /*startup=*/true);
    std::shared_lock lock(mutex_);
    const ModelEntry& entry = models_.at(name);
    bool available = std::any_of(entry.versions.begin(), entry.versions.end(),
                                 [](const auto& v) { return v.second.state == VersionState::kAvailable; });
    if (!available && first_error.ok()) {
      first_error = NotFound("model '" + name + "' has no loadable version under '" + entry.config.base_path + "'");
      for (const auto& [version, state] : entry.versions) {
        if (!state.status.ok()) first_error = state.status;
      }
    }
  }
  return first_error;
}

void ModelManager::StartPolling() {
  if (options_.file_system_poll_wait_seconds <= 0 || poll_thread_.joinable()) return;
  poll_thread_ = std::thread([this] { PollLoop(); });
}

void ModelManager::PollLoop() {
  std::unique_lock lock(poll_mutex_);
  while (!stopping_) {
    poll_wakeup_.wait_for(lock, std::chrono::seconds(options_.file_system_poll_wait_seconds),
                          [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    {
      std::lock_guard sync(sync_mutex_);
      for (const std::string& name : ModelNames()) SyncModel(name, /*startup=*/false);
    }
    lock.lock();
  }
}

void ModelManager::SyncModel(const std::string& name, bool startup) {
  ModelConfig config;
  {
    std::shared_lock lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) return;
    config = it->second.config;
  }

  // Observe what is on disk now.
  std::map<int64_t, FileObservation> present;
  std::error_code ec;
  fs::directory_iterator dir(config.base_path, ec);
  if (ec) {
    spdlog::warn("model {}: cannot read base path '{}': {}; keeping what is loaded", name, config.base_path,
                 ec.message());
    return;
  }
  for (const fs::directory_entry& child : dir) {
    int64_t version = 0;
    if (!ParseVersionDirName(child.path().filename().string(), &version)) continue;
    struct stat info {};
    std::string file = (child.path() / kModelFileName).string();
    if (::stat(file.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    present[version] = {static_cast<int64_t>(info.st_size),
                        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
  }

  // Decide which versions may be candidates: stable files, not known-bad.
  std::set<int64_t> candidates;
  {
    std::unique_lock lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) return;
    ModelEntry& entry = it->second;
    std::map<int64_t, FileObservation> next_pending;
    for (const auto& [version, observation] : present) {
      auto known = entry.versions.find(version);
      if (known != entry.versions.end() && known->second.state == VersionState::kAvailable) {
        candidates.insert(version);
        continue;
      }
      bool failed_same_file = known != entry.versions.end() && !known->second.status.ok() &&
                              known->second.loaded_from == observation;
      if (failed_same_file) continue;
      auto seen = entry.pending.find(version);
      if (startup || (seen != entry.pending.end() && seen->second == observation)) {
        candidates.insert(version);
      } else {
        next_pending[version] = observation;
      }
    }
    entry.pending = std::move(next_pending);
  }

  // Load what the policy wants and is not loaded yet; a failed load drops out and the policy is re-applied,
  // so a broken newest version never displaces a working one.
  std::set<int64_t> aspired;
  for (int attempt = 0; attempt < 64; ++attempt) {
    aspired = ApplyPolicy(config.policy, candidates);
    bool all_loaded = true;
    for (int64_t version : aspired) {
      {
        std::unique_lock lock(mutex_);
        auto it = models_.find(name);
        if (it == models_.end()) return;
        VersionEntry& state = it->second.versions[version];
        if (state.state == VersionState::kAvailable) continue;
        state.state = VersionState::kLoading;
        state.status = Status::Ok();
      }
      std::string path = config.base_path + "/" + std::to_string(version) + "/" + kModelFileName;
      auto started = std::chrono::steady_clock::now();
      // Model files are hostile: external data must stay inside the version dir before ORT sees it. A
      // failed check is a failed load (END with the error).
      Status checked = CheckModelFile(path, config.base_path + "/" + std::to_string(version));
      StatusOr<std::unique_ptr<ModelSession>> session =
          checked.ok() ? engine_.Load(path) : StatusOr<std::unique_ptr<ModelSession>>(checked);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::unique_lock lock(mutex_);
      auto it = models_.find(name);
      if (it == models_.end()) return;
      VersionEntry& state = it->second.versions[version];
      state.loaded_from = present[version];
      if (session.ok()) {
        auto loaded = std::make_shared<LoadedVersion>();
        loaded->model_name = name;
        loaded->version = version;
        loaded->session = std::move(session).value();
        state.loaded = std::move(loaded);
        state.state = VersionState::kAvailable;
        spdlog::info("model {} version {}: AVAILABLE (loaded in {:.3f} s)", name, version, seconds);
      } else {
        state.state = VersionState::kEnd;
        state.status = session.status();
        candidates.erase(version);
        all_loaded = false;
        spdlog::error("model {} version {}: load failed: {}", name, version, session.status().message());
      }
    }
    if (all_loaded) break;
  }

  // Unload what is no longer wanted. The LoadedVersion is destroyed when its last handle is released.
  std::unique_lock lock(mutex_);
  auto it = models_.find(name);
  if (it == models_.end()) return;
  for (auto& [version, state] : it->second.versions) {
    if (state.state == VersionState::kAvailable && aspired.count(version) == 0) {
      state.state = VersionState::kEnd;
      state.status = Status::Ok();
      state.loaded.reset();
      spdlog::info("model {} version {}: unloading (no longer aspired)", name, version);
    }
  }
}

StatusOr<ServableHandle> ModelManager::Acquire(std::string_view model, const VersionSelector& selector) const {
  std::shared_lock lock(mutex_);
  auto it = models_.find(model);
  if (it == models_.end()) return ServableNotFound(model, selector);
  const ModelEntry& entry = it->second;
  std::optional<int64_t> wanted = selector.number;
  if (!selector.label.empty()) {
    auto label = entry.config.version_labels.find(selector.label);
    if (label == entry.config.version_labels.end()) {
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
    auto label = entry.config.version_labels.find(selector.label);
    if (label == entry.config.version_labels.end()) {
      return NotFound("Unrecognized servable version label: " + selector.label);
    }
    wanted = label->second;
  }
  std::vector<VersionStatus> statuses;
  for (auto version = entry.versions.rbegin(); version != entry.versions.rend(); ++version) {
    if (wanted && version->first != *wanted) continue;
    statuses.push_back({version->first, version->second.state, version->second.status});
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

bool ModelManager::AllModelsReady() const {
  std::shared_lock lock(mutex_);
  for (const auto& [name, entry] : models_) {
    bool available = std::any_of(entry.versions.begin(), entry.versions.end(),
                                 [](const auto& v) { return v.second.state == VersionState::kAvailable; });
    if (!available) return false;
  }
  return true;
}

}  // namespace serval

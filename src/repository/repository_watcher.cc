#include "repository/repository_watcher.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <spdlog/spdlog.h>

#include "repository/triton_repository.h"

namespace serval {

RepositoryWatcher::RepositoryWatcher(ModelManager& manager, std::string repository, int period_seconds)
    : manager_(manager), repository_(std::move(repository)), period_seconds_(period_seconds) {}

RepositoryWatcher::~RepositoryWatcher() { thread_.Stop(); }

void RepositoryWatcher::Start() {
  if (period_seconds_ <= 0) return;
  thread_.Start(std::chrono::seconds(period_seconds_), [this] {
    Status status = PollOnce();
    if (!status.ok()) spdlog::warn("model repository poll: {}", status.message());
  });
}

Status RepositoryWatcher::PollOnce() {
  std::lock_guard poll(poll_mutex_);
  StatusOr<std::vector<ModelConfig>> models = ReadRepository(repository_);
  if (!models.ok()) return models.status();
  Status first_error;
  std::set<std::string> present;
  for (ModelConfig& model : *models) {
    present.insert(model.name);
    std::optional<ModelConfig> served = manager_.Config(model.name);
    if (served && !served->triton) continue;  // served from the model config file: not ours
    if (served && SameRepositoryModel(*served, model)) continue;
    if (served) {
      spdlog::info("model {}: config.pbtxt changed; reloading", model.name);
      (void)manager_.UnloadModel(model.name);
    } else {
      spdlog::info("model {}: new in the model repository; loading", model.name);
    }
    const std::string name = model.name;
    Status loaded = manager_.LoadModel(std::move(model));
    if (!loaded.ok() && first_error.ok()) first_error = loaded;
  }
  for (const std::string& name : manager_.ModelNames()) {
    std::optional<ModelConfig> served = manager_.Config(name);
    if (!served || !served->triton || present.count(name) != 0) continue;
    spdlog::info("model {}: gone from the model repository; unloading", name);
    (void)manager_.UnloadModel(name);
  }
  return first_error;
}

}  // namespace serval

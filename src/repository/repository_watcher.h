// RepositoryWatcher: Triton's --model-control-mode=poll. Every period it reads the model repository and
// brings the served Triton models in line: a new model directory loads, a removed one unloads (after its
// in-flight requests), and a model whose config.pbtxt changed is unloaded and loaded again with the new
// settings. Versions inside a model are the file-system source's business (--file_system_poll_wait_seconds).
// Models that do not come from the repository (--model_config_file) are never touched.
//
// Thread-safety: PollOnce may be called from any thread; the destructor stops and joins the thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/periodic_thread.h"
#include "core/status.h"
#include "repository/model_manager.h"

namespace serval {

class RepositoryWatcher {
 public:
  RepositoryWatcher(ModelManager& manager, std::string repository, int period_seconds);
  ~RepositoryWatcher();
  RepositoryWatcher(const RepositoryWatcher&) = delete;
  RepositoryWatcher& operator=(const RepositoryWatcher&) = delete;

  void Start();
  // One scan. OK, or the repository's read error (nothing changed) or the first load error (the rest applied).
  Status PollOnce();

 private:
  ModelManager& manager_;
  const std::string repository_;
  const int period_seconds_;
  std::mutex poll_mutex_;

  PeriodicThread thread_;  // last: stopped and joined before the members its task uses go
};

}  // namespace serval

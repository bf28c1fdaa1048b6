// ConfigFileWatcher: TF Serving's --model_config_file_poll_wait_seconds. Re-reads the ModelServerConfig file
// every period and, when its text changed, realises exactly the new list with ModelManager::SetConfig (new
// models load, missing ones unload after their in-flight requests). A file that cannot be read or parsed
// changes nothing; the reason is logged and the file is tried again at the next period.
//
// Thread-safety: PollOnce may be called from any thread; the watcher's own thread is stopped and joined by
// the destructor.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/periodic_thread.h"
#include "core/status.h"
#include "repository/model_manager.h"

namespace serval {

class ConfigFileWatcher {
 public:
  // `applied_text`: the file's text that the manager already serves (nothing is re-applied until it changes).
  ConfigFileWatcher(ModelManager& manager, std::string path, int period_seconds, std::string applied_text);
  ~ConfigFileWatcher();
  ConfigFileWatcher(const ConfigFileWatcher&) = delete;
  ConfigFileWatcher& operator=(const ConfigFileWatcher&) = delete;

  // Starts the thread that calls PollOnce every period (no-op for a period of 0 or less).
  void Start();
  // Reads the file once. OK when unchanged or applied; otherwise why nothing (or not all) was applied: an
  // unreadable or unparsable file (nothing changed), or SetConfig's error (the rest was applied).
  Status PollOnce();

 private:
  ModelManager& manager_;
  const std::string path_;
  const int period_seconds_;
  std::mutex poll_mutex_;  // one PollOnce at a time; guards applied_text_
  std::string applied_text_;

  PeriodicThread thread_;  // last: stopped and joined before the members its task uses go
};

// Reads a whole (config) file into `text`, at most `max_bytes`. INVALID_ARGUMENT naming the file otherwise.
Status ReadConfigText(const std::string& path, std::string* text, size_t max_bytes = 64u << 20);

}  // namespace serval

#include "repository/config_file_watcher.h"

#include <chrono>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>

#include "repository/model_config.h"

namespace serval {

Status ReadConfigText(const std::string& path, std::string* text, size_t max_bytes) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return InvalidArgument("cannot read model config file '" + path + "'");
  text->clear();
  char buffer[64 * 1024];
  while (file.read(buffer, sizeof(buffer)) || file.gcount() > 0) {
    if (text->size() + static_cast<size_t>(file.gcount()) > max_bytes) {
      return InvalidArgument("model config file '" + path + "' is larger than " + std::to_string(max_bytes) + " bytes");
    }
    text->append(buffer, static_cast<size_t>(file.gcount()));
  }
  if (file.bad()) return InvalidArgument("cannot read model config file '" + path + "'");
  return Status::Ok();
}

ConfigFileWatcher::ConfigFileWatcher(ModelManager& manager, std::string path, int period_seconds,
                                     std::string applied_text)
    : manager_(manager),
      path_(std::move(path)),
      period_seconds_(period_seconds),
      applied_text_(std::move(applied_text)) {}

ConfigFileWatcher::~ConfigFileWatcher() { thread_.Stop(); }

void ConfigFileWatcher::Start() {
  if (period_seconds_ <= 0) return;
  thread_.Start(std::chrono::seconds(period_seconds_), [this] { (void)PollOnce(); });  // logs its own errors
}

Status ConfigFileWatcher::PollOnce() {
  std::lock_guard lock(poll_mutex_);
  std::string text;
  Status read = ReadConfigText(path_, &text);
  if (!read.ok()) {
    spdlog::error("model config file not re-read: {}; keeping the current config", read.message());
    return read;
  }
  if (text == applied_text_) return Status::Ok();
  StatusOr<std::vector<ModelConfig>> configs = ParseModelServerConfig(text);
  if (!configs.ok()) {
    Status why = InvalidArgument("Invalid protobuf file: '" + path_ + "': " + configs.status().message());
    spdlog::error("model config file changed but not applied: {}; keeping the current config", why.message());
    applied_text_ = text;  // say it once; a later edit is read again
    return why;
  }
  spdlog::info("model config file '{}' changed: serving {} models as it lists", path_, configs->size());
  applied_text_ = std::move(text);
  Status applied = manager_.SetConfig(std::move(configs).value());
  if (!applied.ok()) spdlog::warn("model config applied with errors: {}", applied.message());
  return applied;
}

}  // namespace serval

#include "batching/batching_hook.h"

#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

namespace serval {
namespace {

// The version number is the name of the version directory (<base_path>/<version>).
int64_t VersionOf(const std::string& version_dir) {
  std::string name = std::filesystem::path(version_dir).lexically_normal().filename().string();
  if (name.empty()) name = std::filesystem::path(version_dir).lexically_normal().parent_path().filename().string();
  int64_t version = 0;
  auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), version);
  return error == std::errc() && end == name.data() + name.size() ? version : 0;
}

}  // namespace

StatusOr<BatchingOptions> BatchingOptionsForVersion(const BatchingOptions& global, const std::string& version_dir,
                                                    bool per_model) {
  if (!per_model) return global;
  const std::string path = (std::filesystem::path(version_dir) / "batching_params.pbtxt").string();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return global;
  return ReadBatchingParametersFile(path);
}

decltype(ModelManagerOptions::wrap_session) MakeBatchingHook(std::shared_ptr<BatchScheduler> scheduler,
                                                             BatchingOptions global, bool per_model) {
  return [scheduler = std::move(scheduler), global = std::move(global), per_model](
             const ModelConfig& config, const std::string& version_dir,
             std::unique_ptr<ModelSession> session) -> StatusOr<std::unique_ptr<ModelSession>> {
    StatusOr<BatchingOptions> options = BatchingOptionsForVersion(global, version_dir, per_model);
    if (!options.ok()) return options.status();
    return WrapInBatchingSession(scheduler, {config.name, VersionOf(version_dir), std::move(options).value()},
                                 std::move(session));
  };
}

}  // namespace serval

#include "batching/batching_hook.h"

#include <algorithm>
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
    return WrapInBatchingSession(scheduler, {config.name, VersionOf(version_dir), std::move(options).value(), nullptr},
                                 std::move(session));
  };
}

namespace {

// Triton's dynamic batcher queue has no bound by default; Serval's batcher keeps one so that memory stays
// bounded under overload (past it a request is UNAVAILABLE at once).
constexpr int64_t kTritonMaxEnqueuedBatches = 256;

}  // namespace

BatchingOptions TritonBatchingOptions(const TritonModelConfig& config) {
  BatchingOptions options;
  options.max_batch_size = config.max_batch_size;
  options.batch_timeout_micros = static_cast<int64_t>(config.max_queue_delay_microseconds);
  options.max_enqueued_batches = kTritonMaxEnqueuedBatches;
  if (!config.preferred_batch_sizes.empty()) {
    const int32_t largest = *std::max_element(config.preferred_batch_sizes.begin(), config.preferred_batch_sizes.end());
    if (largest < config.max_batch_size) {
      options.enable_large_batch_splitting = true;
      options.max_execution_batch_size = largest;
    }
  }
  options.max_execution_batch_size =
      options.enable_large_batch_splitting ? options.max_execution_batch_size : options.max_batch_size;
  return options;
}

decltype(ModelManagerOptions::wrap_dynamic_batching) MakeTritonBatchingHook(std::shared_ptr<BatchScheduler> scheduler) {
  return [scheduler = std::move(scheduler)](
             const TritonModelConfig& config, int64_t version, std::shared_ptr<TritonStatistics> stats,
             std::unique_ptr<ModelSession> session) -> StatusOr<std::unique_ptr<ModelSession>> {
    BatchingSessionOptions options{config.name, version, TritonBatchingOptions(config), std::move(stats)};
    SERVAL_RETURN_IF_ERROR(ValidateBatchingOptions(options.batching));
    return WrapInBatchingSession(scheduler, std::move(options), std::move(session));
  };
}

}  // namespace serval

#include "batching/batching_parameters.h"

#include <algorithm>
#include <fstream>

#include "proto/text_proto.h"
#include "tensorflow_serving/servables/tensorflow/session_bundle_config.pb.h"

namespace serval {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;  // a parameters file is a few lines; refuse anything huge
// Bounds far past any real setting that keep the batcher's row sums and timer arithmetic from overflowing.
constexpr int64_t kMaxBatchSize = int64_t{1} << 30;
constexpr int64_t kMaxBatchTimeoutMicros = int64_t{3600} * 1000 * 1000;  // one hour
constexpr int64_t kMaxBatchThreads = 1024;  // threads are created up front: a typo must not make millions

Status FieldError(std::string_view field, const std::string& what) {
  return InvalidArgument("batching parameters: " + std::string(field) + " " + what);
}

}  // namespace

int64_t BatchingOptions::PaddedBatchSize(int64_t rows) const {
  auto it = std::lower_bound(allowed_batch_sizes.begin(), allowed_batch_sizes.end(), rows);
  return it == allowed_batch_sizes.end() ? rows : *it;
}

Status ValidateBatchingOptions(const BatchingOptions& options) {
  if (options.max_batch_size <= 0 || options.max_batch_size > kMaxBatchSize) {
    return FieldError("max_batch_size", "must be in [1, " + std::to_string(kMaxBatchSize) + "], got " +
                                            std::to_string(options.max_batch_size));
  }
  if (options.batch_timeout_micros < 0 || options.batch_timeout_micros > kMaxBatchTimeoutMicros) {
    return FieldError("batch_timeout_micros", "must be in [0, " + std::to_string(kMaxBatchTimeoutMicros) + "], got " +
                                                  std::to_string(options.batch_timeout_micros));
  }
  if (options.max_enqueued_batches <= 0) {
    return FieldError("max_enqueued_batches", "must be positive, got " + std::to_string(options.max_enqueued_batches));
  }
  if (options.num_batch_threads < 0 || options.num_batch_threads > kMaxBatchThreads) {
    return FieldError("num_batch_threads", "must be in [1, " + std::to_string(kMaxBatchThreads) + "], got " +
                                               std::to_string(options.num_batch_threads));
  }
  if (options.enable_large_batch_splitting) {
    if (options.max_execution_batch_size <= 0) {
      return FieldError("max_execution_batch_size",
                        "must be positive, got " + std::to_string(options.max_execution_batch_size));
    }
    if (options.max_execution_batch_size > options.max_batch_size) {
      return FieldError("max_execution_batch_size",
                        "(" + std::to_string(options.max_execution_batch_size) + ") must not exceed max_batch_size (" +
                            std::to_string(options.max_batch_size) + ") when enable_large_batch_splitting is true");
    }
  }
  const std::vector<int64_t>& sizes = options.allowed_batch_sizes;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] <= 0) {
      return FieldError("allowed_batch_sizes", "entries must be positive, got " + std::to_string(sizes[i]));
    }
    if (i > 0 && sizes[i] <= sizes[i - 1]) {
      return FieldError("allowed_batch_sizes", "must be strictly increasing, got " + std::to_string(sizes[i - 1]) +
                                                   " then " + std::to_string(sizes[i]));
    }
  }
  if (!sizes.empty() && sizes.back() != options.ExecutionBatchLimit()) {
    const char* limit_name = options.enable_large_batch_splitting ? "max_execution_batch_size" : "max_batch_size";
    return FieldError("allowed_batch_sizes", "must end with " + std::string(limit_name) + " (" +
                                                 std::to_string(options.ExecutionBatchLimit()) + "), got " +
                                                 std::to_string(sizes.back()));
  }
  return Status::Ok();
}

StatusOr<BatchingOptions> ParseBatchingParameters(std::string_view text, std::string_view source) {
  tensorflow::serving::BatchingParameters proto;
  SERVAL_RETURN_IF_ERROR(ParseTextProto(text, std::string(source) + " as BatchingParameters", &proto));
  BatchingOptions options;
  if (proto.has_max_batch_size()) options.max_batch_size = proto.max_batch_size().value();
  if (proto.has_batch_timeout_micros()) options.batch_timeout_micros = proto.batch_timeout_micros().value();
  if (proto.has_max_enqueued_batches()) options.max_enqueued_batches = proto.max_enqueued_batches().value();
  if (proto.has_num_batch_threads()) {
    options.num_batch_threads = proto.num_batch_threads().value();
    if (options.num_batch_threads <= 0) {
      return FieldError("num_batch_threads", "must be positive, got " + std::to_string(options.num_batch_threads));
    }
  }
  if (proto.has_thread_pool_name()) options.thread_pool_name = proto.thread_pool_name().value();
  options.allowed_batch_sizes.assign(proto.allowed_batch_sizes().begin(), proto.allowed_batch_sizes().end());
  options.pad_variable_length_inputs = proto.pad_variable_length_inputs();
  if (proto.has_enable_large_batch_splitting()) {
    options.enable_large_batch_splitting = proto.enable_large_batch_splitting().value();
  }
  if (proto.has_max_execution_batch_size()) {
    options.max_execution_batch_size = proto.max_execution_batch_size().value();
  }
  SERVAL_RETURN_IF_ERROR(ValidateBatchingOptions(options));
  return options;
}

StatusOr<BatchingOptions> ReadBatchingParametersFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return NotFound("cannot read batching parameters file " + path);
  std::string text;
  char buffer[4096];
  while (file.read(buffer, sizeof(buffer)) || file.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(file.gcount()));
    if (text.size() > kMaxFileBytes) {
      return InvalidArgument("batching parameters file " + path + " is larger than 1 MiB");
    }
  }
  if (file.bad()) return NotFound("cannot read batching parameters file " + path);
  return ParseBatchingParameters(text, path);
}

}  // namespace serval

// BatchingOptions: TF Serving's BatchingParameters (`--batching_parameters_file`, and the per-model
// `batching_params.pbtxt`) as plain values, with TF Serving's defaults for unset fields
// (BasicBatchScheduler::Options), parsed from the same text format so that a TF Serving file works here
// unchanged. Validation errors are INVALID_ARGUMENT and name the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace serval {

struct BatchingOptions {
  int64_t max_batch_size = 1000;      // rows one request may bring, and one batch may hold
  int64_t batch_timeout_micros = 0;   // how long a batch that is not full may wait for more rows
  int64_t max_enqueued_batches = 10;  // batches waiting per model version; more is UNAVAILABLE
  int64_t num_batch_threads = 0;      // 0 = the usable cores (TF Serving: MaxParallelism)
  std::string thread_pool_name = "batch_threads";
  std::vector<int64_t> allowed_batch_sizes;  // empty = any size; else batches are padded up to one
  bool pad_variable_length_inputs = false;
  bool enable_large_batch_splitting = false;
  int64_t max_execution_batch_size = 1000;  // used only with enable_large_batch_splitting

  // The most rows one model run gets: max_execution_batch_size with large-batch splitting, else
  // max_batch_size.
  int64_t ExecutionBatchLimit() const {
    return enable_large_batch_splitting ? max_execution_batch_size : max_batch_size;
  }
  // The size a batch of `rows` rows is padded to: the smallest allowed size >= rows, or `rows` itself
  // when there is no list. REQUIRES: Validate() passed and rows <= ExecutionBatchLimit().
  int64_t PaddedBatchSize(int64_t rows) const;
};

// The rules TF Serving applies, plus upper bounds that keep arithmetic and thread counts sane
// (max_batch_size <= 2^30, batch_timeout_micros <= one hour, num_batch_threads <= 1024): sizes and counts positive,
// timeout not negative, allowed_batch_sizes positive and strictly increasing with the last entry equal to
// ExecutionBatchLimit(), and with enable_large_batch_splitting a max_execution_batch_size in [1, max_batch_size].
Status ValidateBatchingOptions(const BatchingOptions& options);

// Parses a text-format BatchingParameters (`max_batch_size { value: 128 }`), fills unset fields with the
// defaults above and validates. `source` names the file in errors.
StatusOr<BatchingOptions> ParseBatchingParameters(std::string_view text,
                                                  std::string_view source = "batching parameters");
// Reads and parses the file at `path` (NOT_FOUND when it cannot be read; files over 1 MiB are refused).
StatusOr<BatchingOptions> ReadBatchingParametersFile(const std::string& path);

}  // namespace serval

// Model warm-up, run by the ModelManager on a freshly loaded version before it becomes AVAILABLE (the first
// requests of an ONNX Runtime session pay for allocations and kernel selection; warm-up moves that cost
// off the clients).
//
// TF Serving's warm-up file: <version_dir>/assets.extra/tf_serving_warmup_requests, a TFRecord file of
// tensorflow.serving.PredictionLog records (at most kMaxWarmupRecords). Serval replays the same file
// beside model.onnx, so a model's existing warm-up asset carries over:
//   * predict_log: the request is decoded with the TF Serving gRPC codec (DecodePredictRequest) against
//     the session's signature and run;
//   * classify_log / regress_log / multi_inference_log: the tf.Example input is mapped onto the model's
//     inputs as the Classify / Regress APIs do (tfs_examples.h) and the outputs those APIs read are run;
//   * predict_streamed_log, session_run_log, or a record with no log: INVALID_ARGUMENT.
// The request's model name and version are ignored (the file belongs to this version); its signature
// name must be one Serval serves. Each record is run `iterations` times (--num_request_iterations_for_warmup).
//
// Synthetic warm-up (Serval's own, for models without a warm-up file): one request built from the
// signature — variable dimensions 1, numeric inputs zero, strings empty.
//
// Functions of the file and the session only (no global state); safe from any thread, and from several
// loads at once. Errors name the file and the record (1-based) and keep the failing step's code. The
// record reader never allocates more than the file holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/engine.h"

namespace serval {

// Relative to the version directory, as TF Serving names it.
inline constexpr std::string_view kWarmupFileRelativePath = "assets.extra/tf_serving_warmup_requests";
// TF Serving's cap (WarmupConsts::kMaxNumRecords): a file with more records is INVALID_ARGUMENT.
inline constexpr int kMaxWarmupRecords = 1000;
// Largest TFRecord record Serval reads (and never more than the bytes left in the file).
inline constexpr uint64_t kMaxTfRecordBytes = uint64_t{64} << 20;
// Upper bound on `iterations`, so that records × iterations fits an int.
inline constexpr int kMaxWarmupIterations = 1'000'000;

// --- TFRecord -------------------------------------------------------------------------------------------

// CRC-32C (Castagnoli), and the masked form TFRecord stores: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t Crc32c(std::string_view data);
uint32_t MaskCrc32c(uint32_t crc);

// Sequential reader of one uncompressed TFRecord file. Each record on disk is:
//   uint64 length (little-endian) | uint32 masked crc32c(length bytes) | data[length] | uint32 masked crc32c(data)
// Both checksums are verified. A record that runs past the end of the file, a length over
// max_record_bytes (both checked from the header, before the data buffer is allocated) and a checksum
// mismatch are INVALID_ARGUMENT, not DATA_LOSS: a bad file is a permanent property of the model version,
// and the ModelManager retries loads that fail with DATA_LOSS. Errors name the file and the record
// (1-based). Not thread-safe.
class TfRecordReader {
 public:
  // NOT_FOUND when there is no file at `path`; FAILED_PRECONDITION when it is not a regular file (a FIFO
  // or a directory would block or fail later); INTERNAL when it cannot be opened or sized.
  static StatusOr<std::unique_ptr<TfRecordReader>> Open(const std::string& path,
                                                        uint64_t max_record_bytes = kMaxTfRecordBytes);
  ~TfRecordReader();
  TfRecordReader(const TfRecordReader&) = delete;
  TfRecordReader& operator=(const TfRecordReader&) = delete;

  // Reads and verifies the next record into *record. False (and *record untouched) at a clean end of
  // file, exactly at a record boundary.
  StatusOr<bool> Next(std::string* record);
  // Verifies the next record's header and steps over its data without reading it (its data checksum is
  // NOT verified). False at a clean end of file. Counting records this way costs one small read each.
  StatusOr<bool> Skip();
  // Records returned or skipped so far.
  int64_t records_read() const { return records_read_; }

 private:
  TfRecordReader(std::string path, std::FILE* file, uint64_t file_size, uint64_t max_record_bytes);
  // Reads the header of the next record into *length. False at a clean end of file.
  StatusOr<bool> ReadHeader(uint64_t* length);
  Status Error(StatusCode code, std::string_view what) const;

  std::string path_;
  std::FILE* file_;
  uint64_t file_size_;
  uint64_t max_record_bytes_;
  uint64_t offset_ = 0;
  int64_t records_read_ = 0;
};

// --- warm-up --------------------------------------------------------------------------------------------

// Replays <version_dir>/assets.extra/tf_serving_warmup_requests on `session`, each record `iterations`
// times (iterations < 1 means 1, as TF Serving treats --num_request_iterations_for_warmup <= 0;
// over kMaxWarmupIterations is INVALID_ARGUMENT). Returns the number of Run calls made: 0 when there is no
// file. The whole file is checked (record count, headers) before the first run: more than
// kMaxWarmupRecords records is INVALID_ARGUMENT and runs nothing. A record that does not parse or whose
// request fails to decode or run stops the warm-up with an error naming the file and the record.
StatusOr<int> ReplayWarmupFile(const std::string& version_dir, const ModelSession& session, int iterations);

// Runs one request built from session.signature() `iterations` times (same rule for iterations as
// above). Variable dims become 1; numeric inputs are zero, strings empty. An input of more than
// max_input_bytes (fixed dims of a huge model) or of a type Serval cannot build is FAILED_PRECONDITION.
// Returns the number of Run calls made.
StatusOr<int> RunSyntheticWarmup(const ModelSession& session, int iterations, size_t max_input_bytes = size_t{1} << 30);

struct WarmupOptions {
  bool enable_model_warmup = true;       // --enable_model_warmup (TF Serving): the master switch
  int num_request_iterations = 1;        // --num_request_iterations_for_warmup (TF Serving; <= 0 means 1)
  bool enable_synthetic_warmup = false;  // --enable_synthetic_warmup (Serval): when there is no warm-up file
};

// The function for ModelManagerOptions::warmup. Empty (no warm-up at all) when enable_model_warmup is
// false. Otherwise: ReplayWarmupFile when the version has a warm-up file; when it has none,
// RunSyntheticWarmup if enable_synthetic_warmup, else 0 runs.
std::function<StatusOr<int>(const std::string& version_dir, const ModelSession& session)> MakeWarmupFunction(
    WarmupOptions options);

}  // namespace serval

#include "api/tfs/tfs_warmup.h"

#include <algorithm>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include "api/tfs/tfs_example_task.h"
#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_grpc_codec.h"
#include "core/inference.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "tensorflow_serving/apis/prediction_log.pb.h"

namespace serval {
namespace {

namespace tfs = tensorflow::serving;

constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;  // reflected poly
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = MakeCrc32cTable();

uint64_t LoadLe64(const unsigned char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}
uint32_t LoadLe32(const unsigned char* p) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

int ClampIterations(int iterations) { return iterations < 1 ? 1 : iterations; }

Status CheckIterations(int iterations) {
  if (iterations > kMaxWarmupIterations) {
    return InvalidArgument("warm-up iterations (--num_request_iterations_for_warmup) must be at most " +
                           std::to_string(kMaxWarmupIterations) + ", got " + std::to_string(iterations));
  }
  return Status::Ok();
}

// The step's code, with the file and record in front of its message.
Status InRecord(const Status& status, const std::string& path, int64_t record) {
  return {status.code(), path + ": record " + std::to_string(record) + ": " + status.message()};
}

// One warm-up request, ready to run; RunRequest validates it as ServableHandle::Run does.
struct WarmupRequest {
  std::string signature_name;
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;
};

StatusOr<WarmupRequest> FromPredict(const tfs::PredictRequest& request, const ModelSession& session) {
  SERVAL_ASSIGN_OR_RETURN(SignatureRef signature, FindSignature(session, request.model_spec().signature_name()));
  // No owner: the PredictionLog outlives every Run of this request.
  SERVAL_ASSIGN_OR_RETURN(InferenceRequest decoded, DecodePredictRequest(request, *signature.io, /*owner=*/nullptr));
  return WarmupRequest{request.model_spec().signature_name(), std::move(decoded.inputs), std::move(decoded.outputs)};
}

// The requests Classify / Regress / MultiInference would run for `tasks` ((classify, signature name) each):
// one per signature, with the outputs every task on it reads.
StatusOr<std::vector<WarmupRequest>> FromExamples(const tfs::Input& input,
                                                  const std::vector<std::pair<bool, std::string>>& tasks,
                                                  const ModelSession& session) {
  SERVAL_ASSIGN_OR_RETURN(ExampleBatch batch, DecodeExampleInput(input));
  std::vector<ExampleTask> planned;
  for (const auto& [classify, name] : tasks) {
    SERVAL_ASSIGN_OR_RETURN(ExampleTask task, PlanExampleTask(session, name, classify));
    planned.push_back(std::move(task));
  }
  std::vector<WarmupRequest> requests;
  for (size_t i = 0; i < planned.size(); ++i) {
    bool done = false;
    for (size_t j = 0; j < i; ++j) done = done || planned[j].signature_name == planned[i].signature_name;
    if (done) continue;
    std::vector<std::string> outputs;
    for (size_t j = i; j < planned.size(); ++j) {
      if (planned[j].signature_name != planned[i].signature_name) continue;
      for (std::string& name : planned[j].Outputs()) {
        if (std::find(outputs.begin(), outputs.end(), name) == outputs.end()) outputs.push_back(std::move(name));
      }
    }
    SERVAL_ASSIGN_OR_RETURN(InferenceRequest request,
                            BuildExampleRequest(session, planned[i], batch, std::move(outputs), {}));
    requests.push_back({request.signature_name, std::move(request.inputs), std::move(request.outputs)});
  }
  return requests;
}

StatusOr<std::vector<WarmupRequest>> FromMultiInference(const tfs::MultiInferenceRequest& request,
                                                        const ModelSession& session) {
  if (request.tasks().empty()) return InvalidArgument("MultiInferenceRequest must have at least one task");
  std::vector<std::pair<bool, std::string>> tasks;
  for (const tfs::InferenceTask& task : request.tasks()) {
    const bool classify = task.method_name() == kTfsClassifyMethodName;
    if (!classify && task.method_name() != kTfsRegressMethodName) {
      return InvalidArgument("Unsupported signature method_name: " + task.method_name().substr(0, 256) +
                             " (use tensorflow/serving/classify or tensorflow/serving/regress)");
    }
    tasks.emplace_back(classify, task.model_spec().signature_name());
  }
  return FromExamples(request.input(), tasks, session);
}

StatusOr<std::vector<WarmupRequest>> FromLog(const tfs::PredictionLog& log, const ModelSession& session) {
  switch (log.log_type_case()) {
    case tfs::PredictionLog::kPredictLog: {
      SERVAL_ASSIGN_OR_RETURN(WarmupRequest request, FromPredict(log.predict_log().request(), session));
      return std::vector<WarmupRequest>{std::move(request)};
    }
    case tfs::PredictionLog::kClassifyLog: {
      const tfs::ClassificationRequest& request = log.classify_log().request();
      return FromExamples(request.input(), {{true, request.model_spec().signature_name()}}, session);
    }
    case tfs::PredictionLog::kRegressLog: {
      const tfs::RegressionRequest& request = log.regress_log().request();
      return FromExamples(request.input(), {{false, request.model_spec().signature_name()}}, session);
    }
    case tfs::PredictionLog::kMultiInferenceLog:
      return FromMultiInference(log.multi_inference_log().request(), session);
    case tfs::PredictionLog::kPredictStreamedLog:
      return InvalidArgument("predict_streamed_log is not supported for warm-up (use predict_log)");
    case tfs::PredictionLog::kSessionRunLog:
      return InvalidArgument("session_run_log is not supported for warm-up (use predict_log)");
    case tfs::PredictionLog::LOG_TYPE_NOT_SET:
      break;
  }
  return InvalidArgument(
      "the PredictionLog holds no log (expected predict_log, classify_log, regress_log or "
      "multi_inference_log)");
}

// Runs `request` `iterations` times; returns the first error.
Status RunRepeatedly(const ModelSession& session, const WarmupRequest& request, int iterations) {
  InferenceRequest run;
  run.signature_name = request.signature_name;
  run.inputs = request.inputs;  // cheap: tensors share their buffers
  run.outputs = request.outputs;
  for (int i = 0; i < iterations; ++i) {
    std::vector<Tensor> outputs;
    SERVAL_RETURN_IF_ERROR(RunRequest(session, run, &outputs));
  }
  return Status::Ok();
}

}  // namespace

uint32_t Crc32c(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : data) crc = kCrc32cTable[(crc ^ static_cast<unsigned char>(c)) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// --- TfRecordReader -------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<TfRecordReader>> TfRecordReader::Open(const std::string& path, uint64_t max_record_bytes) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) return NotFound(path + ": no such file");
  if (error) return Internal(path + ": cannot stat: " + error.message());
  // Checked before opening: opening a FIFO for reading would block.
  if (status.type() != std::filesystem::file_type::regular) {
    return FailedPrecondition(path + ": not a regular file");
  }
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Internal(path + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(::fileno(file), &info) != 0 || !S_ISREG(info.st_mode) || info.st_size < 0) {
    std::fclose(file);
    return FailedPrecondition(path + ": not a regular file");
  }
  return std::unique_ptr<TfRecordReader>(
      new TfRecordReader(path, file, static_cast<uint64_t>(info.st_size), max_record_bytes));
}

TfRecordReader::TfRecordReader(std::string path, std::FILE* file, uint64_t file_size, uint64_t max_record_bytes)
    : path_(std::move(path)), file_(file), file_size_(file_size), max_record_bytes_(max_record_bytes) {}

TfRecordReader::~TfRecordReader() { std::fclose(file_); }

Status TfRecordReader::Error(StatusCode code, std::string_view what) const {
  return {code, path_ + ": record " + std::to_string(records_read_ + 1) + " (at byte " + std::to_string(offset_) +
                    "): " + std::string(what)};
}

StatusOr<bool> TfRecordReader::ReadHeader(uint64_t* length) {
  constexpr uint64_t kHeaderBytes = 12;  // length + its crc
  constexpr uint64_t kFooterBytes = 4;   // data crc
  if (offset_ == file_size_) return false;
  // offset_ <= file_size_ always holds, so the subtraction cannot wrap.
  const uint64_t left = file_size_ - offset_;
  if (left < kHeaderBytes) return Error(StatusCode::kInvalidArgument, "truncated record header");
  unsigned char header[kHeaderBytes];
  if (std::fread(header, 1, kHeaderBytes, file_) != kHeaderBytes) {
    return Error(StatusCode::kInvalidArgument, "truncated record header (short read)");
  }
  const std::string_view length_bytes(reinterpret_cast<const char*>(header), 8);
  if (MaskCrc32c(Crc32c(length_bytes)) != LoadLe32(header + 8)) {
    return Error(StatusCode::kInvalidArgument, "corrupted record: length checksum mismatch");
  }
  *length = LoadLe64(header);
  // Compared without adding to `length` (it is attacker-controlled and may be near 2^64).
  if (*length > left - kHeaderBytes || left - kHeaderBytes - *length < kFooterBytes) {
    return Error(StatusCode::kInvalidArgument, "truncated record: length " + std::to_string(*length) +
                                                   " runs past the end "
                                                   "of the file (" +
                                                   std::to_string(file_size_) + " bytes)");
  }
  if (*length > max_record_bytes_) {
    return Error(StatusCode::kInvalidArgument, "record of " + std::to_string(*length) + " bytes exceeds the limit of " +
                                                   std::to_string(max_record_bytes_) + " bytes");
  }
  return true;
}

StatusOr<bool> TfRecordReader::Next(std::string* record) {
  uint64_t length = 0;
  StatusOr<bool> more = ReadHeader(&length);
  if (!more.ok() || !*more) return more;
  // length <= the bytes left in the file and <= max_record_bytes_ (ReadHeader), so this fits memory we
  // were willing to give; the size_t cast cannot truncate on a 64-bit host.
  static_assert(sizeof(size_t) >= sizeof(uint64_t));
  std::string data(static_cast<size_t>(length), '\0');
  unsigned char footer[4];
  if (std::fread(data.data(), 1, data.size(), file_) != data.size() || std::fread(footer, 1, 4, file_) != 4) {
    return Error(StatusCode::kInvalidArgument, "truncated record data (short read)");
  }
  if (MaskCrc32c(Crc32c(data)) != LoadLe32(footer)) {
    return Error(StatusCode::kInvalidArgument, "corrupted record: data checksum mismatch");
  }
  offset_ += 12 + length + 4;
  ++records_read_;
  *record = std::move(data);
  return true;
}

StatusOr<bool> TfRecordReader::Skip() {
  uint64_t length = 0;
  StatusOr<bool> more = ReadHeader(&length);
  if (!more.ok() || !*more) return more;
  const uint64_t step = length + 4;  // no overflow: both are within the file size (ReadHeader)
  if (step > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) ||
      ::fseeko(file_, static_cast<off_t>(step), SEEK_CUR) != 0) {
    return Error(StatusCode::kInternal, "cannot seek past the record");
  }
  offset_ += 12 + step;
  ++records_read_;
  return true;
}

// --- warm-up --------------------------------------------------------------------------------------------

StatusOr<int> ReplayWarmupFile(const std::string& version_dir, const ModelSession& session, int iterations) {
  iterations = ClampIterations(iterations);
  SERVAL_RETURN_IF_ERROR(CheckIterations(iterations));
  const std::string path = (std::filesystem::path(version_dir) / kWarmupFileRelativePath).string();

  // Pass 1: count the records (headers only), so that an over-long or truncated file runs nothing.
  {
    StatusOr<std::unique_ptr<TfRecordReader>> reader = TfRecordReader::Open(path);
    if (!reader.ok()) {
      if (reader.status().code() == StatusCode::kNotFound) return 0;
      return reader.status();
    }
    while (true) {
      SERVAL_ASSIGN_OR_RETURN(bool more, (*reader)->Skip());
      if (!more) break;
      if ((*reader)->records_read() > kMaxWarmupRecords) {
        return InvalidArgument("Number of warmup records exceeds the maximum (" + std::to_string(kMaxWarmupRecords) +
                               ") at " + path);
      }
    }
  }

  // Pass 2: read, verify, parse and run each record.
  StatusOr<std::unique_ptr<TfRecordReader>> reader = TfRecordReader::Open(path);
  if (!reader.ok()) return reader.status();  // the file vanished between the passes: an error, not "no file"
  int runs = 0;
  std::string record;
  // Bounded: pass 1 saw at most kMaxWarmupRecords records; a file that grew since is cut off below.
  while (true) {
    SERVAL_ASSIGN_OR_RETURN(bool more, (*reader)->Next(&record));
    if (!more) break;
    const int64_t index = (*reader)->records_read();
    if (index > kMaxWarmupRecords) {
      return InvalidArgument("Number of warmup records exceeds the maximum (" + std::to_string(kMaxWarmupRecords) +
                             ") at " + path);
    }
    tfs::PredictionLog log;
    if (!log.ParseFromString(record)) {
      return InRecord(InvalidArgument("not a tensorflow.serving.PredictionLog"), path, index);
    }
    StatusOr<std::vector<WarmupRequest>> requests = FromLog(log, session);
    if (!requests.ok()) return InRecord(requests.status(), path, index);
    for (const WarmupRequest& request : *requests) {
      Status ran = RunRepeatedly(session, request, iterations);
      if (!ran.ok()) return InRecord(ran, path, index);
    }
    runs += iterations;  // <= kMaxWarmupRecords * kMaxWarmupIterations, which fits an int
  }
  return runs;
}

StatusOr<int> RunSyntheticWarmup(const ModelSession& session, int iterations, size_t max_input_bytes) {
  iterations = ClampIterations(iterations);
  SERVAL_RETURN_IF_ERROR(CheckIterations(iterations));
  const ModelSignature& signature = session.signature();
  WarmupRequest request;
  for (const TensorSpec& spec : signature.inputs) {
    Shape shape = spec.shape;
    for (int64_t& dim : shape) {
      if (dim < 0) dim = 1;
    }
    const std::string what = "synthetic warm-up input " + spec.name;
    SERVAL_ASSIGN_OR_RETURN(int64_t count, ElementCount(shape, what));
    if (spec.dtype == DataType::kString) {
      // One empty string costs sizeof(std::string); bound the count the same way as numeric bytes.
      if (static_cast<uint64_t>(count) > max_input_bytes / sizeof(std::string)) {
        return FailedPrecondition(what + " of shape " + ShapeToString(shape) + " is too large to synthesize");
      }
      request.inputs.push_back(
          Tensor::FromStrings(spec.name, std::move(shape), std::vector<std::string>(static_cast<size_t>(count))));
      continue;
    }
    if (ElementSize(spec.dtype) == 0) {
      return FailedPrecondition(what + " has type " + std::string(KServeName(spec.dtype)) +
                                ", which synthetic warm-up cannot build");
    }
    SERVAL_ASSIGN_OR_RETURN(size_t bytes, ByteSize(count, spec.dtype, what));
    if (bytes > max_input_bytes) {
      return FailedPrecondition(what + " of shape " + ShapeToString(shape) + " needs " + std::to_string(bytes) +
                                " bytes, over the limit of " + std::to_string(max_input_bytes));
    }
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(spec.name, spec.dtype, std::move(shape), max_input_bytes));
    std::span<std::byte> data = tensor.mutable_bytes();
    if (!data.empty()) std::memset(data.data(), 0, data.size());
    request.inputs.push_back(std::move(tensor));
  }
  Status ran = RunRepeatedly(session, request, iterations);
  if (!ran.ok()) return Status(ran.code(), "synthetic warm-up: " + ran.message());
  return iterations;
}

std::function<StatusOr<int>(const std::string& version_dir, const ModelSession& session)> MakeWarmupFunction(
    WarmupOptions options) {
  if (!options.enable_model_warmup) return {};
  return [options](const std::string& version_dir, const ModelSession& session) -> StatusOr<int> {
    const std::filesystem::path file = std::filesystem::path(version_dir) / kWarmupFileRelativePath;
    std::error_code error;
    const bool has_file = std::filesystem::exists(std::filesystem::symlink_status(file, error));
    if (has_file || !options.enable_synthetic_warmup) {
      return ReplayWarmupFile(version_dir, session, options.num_request_iterations);
    }
    return RunSyntheticWarmup(session, options.num_request_iterations);
  };
}

}  // namespace serval

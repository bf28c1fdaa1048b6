#include "api/tfs/tfs_warmup.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/tfs/tfs_examples.h"
#include "core/tensor_test_util.h"
#include "tensorflow_serving/apis/prediction_log.pb.h"

namespace serval {
namespace {
namespace fs = std::filesystem;
namespace tfs = tensorflow::serving;

// --- test helpers -----------------------------------------------------------------------------------------

// A tiny TFRecord writer, independent of the reader under test except for the CRC (checked against
// published vectors below).
void AppendLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}
std::string TfRecord(std::string_view data) {
  std::string out;
  AppendLe(&out, data.size(), 8);
  AppendLe(&out, MaskCrc32c(Crc32c(out)), 4);
  out.append(data);
  AppendLe(&out, MaskCrc32c(Crc32c(data)), 4);
  return out;
}

// A session with a configurable signature that counts its runs and remembers the last inputs and
// requested outputs. Fails a run whose first input's first float is `fail_on` (when set).
class RecordingSession : public ModelSession {
 public:
  explicit RecordingSession(ModelSignature signature) : signature_(std::move(signature)) {}
  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return provider_; }
  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext&,
             std::vector<Tensor>* outputs) const override {
    ++runs;
    last_inputs = inputs;
    last_outputs = output_names;
    if (fail_on.has_value() && !inputs.empty() && inputs[0].dtype() == DataType::kFp32 &&
        inputs[0].element_count() > 0 && Values<float>(inputs[0])[0] == *fail_on) {
      return InvalidArgument("kernel rejected the value");
    }
    outputs->clear();
    return Status::Ok();
  }

  mutable int runs = 0;
  mutable std::vector<Tensor> last_inputs;
  mutable std::vector<std::string> last_outputs;
  std::optional<float> fail_on;

 private:
  ModelSignature signature_;
  std::string provider_ = "recording";
};

ModelSignature XSignature() { return Signature({{"x", DataType::kFp32, {-1, 2}}}, {{"y", DataType::kFp32, {-1, 2}}}); }

// A predict_log whose request feeds x = [[v, v]].
tfs::PredictionLog PredictLog(float v, const std::string& input_name = "x") {
  tfs::PredictionLog log;
  tfs::PredictRequest* request = log.mutable_predict_log()->mutable_request();
  request->mutable_model_spec()->set_name("whatever");  // ignored by warm-up
  tensorflow::TensorProto& tensor = (*request->mutable_inputs())[input_name];
  tensor.set_dtype(tensorflow::DT_FLOAT);
  tensor.mutable_tensor_shape()->add_dim()->set_size(1);
  tensor.mutable_tensor_shape()->add_dim()->set_size(2);
  tensor.add_float_val(v);
  tensor.add_float_val(v);
  return log;
}

class TfsWarmupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("serval_warmup_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "assets.extra");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WarmupPath() const { return (dir_ / kWarmupFileRelativePath).string(); }
  void WriteFile(const std::string& path, const std::string& bytes) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good());
  }
  void WriteLogs(const std::vector<tfs::PredictionLog>& logs) const {
    std::string bytes;
    for (const tfs::PredictionLog& log : logs) bytes += TfRecord(log.SerializeAsString());
    WriteFile(WarmupPath(), bytes);
  }
  // Reads every record of `bytes` (written to a file); returns the records, or the first error.
  StatusOr<std::vector<std::string>> ReadAll(const std::string& bytes, uint64_t max_record_bytes = kMaxTfRecordBytes) {
    const std::string path = (dir_ / "records.tfrecord").string();
    WriteFile(path, bytes);
    StatusOr<std::unique_ptr<TfRecordReader>> reader = TfRecordReader::Open(path, max_record_bytes);
    if (!reader.ok()) return reader.status();
    std::vector<std::string> records;
    for (int i = 0; i < 100; ++i) {
      std::string record;
      StatusOr<bool> more = (*reader)->Next(&record);
      if (!more.ok()) return more.status();
      if (!*more) return records;
      records.push_back(record);
    }
    return Internal("more than 100 records");
  }

  fs::path dir_;
};

// --- CRC --------------------------------------------------------------------------------------------------

TEST(Crc32cTest, MatchesPublishedVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);              // the standard check value
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32cTest, MaskIsTfRecordsRotationPlusDelta) {
  EXPECT_EQ(MaskCrc32c(0), 0xa282ead8u);
  EXPECT_EQ(MaskCrc32c(0x00008000u), 0x00000001u + 0xa282ead8u);  // bit 15 rotates to bit 0
}

// --- TfRecordReader ---------------------------------------------------------------------------------------

TEST_F(TfsWarmupTest, ReadsRecordsBackInOrder) {
  StatusOr<std::vector<std::string>> records =
      ReadAll(TfRecord("first") + TfRecord("") + TfRecord(std::string(1000, '\x7f')));
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0], "first");
  EXPECT_EQ((*records)[1], "");
  EXPECT_EQ((*records)[2], std::string(1000, '\x7f'));
}

TEST_F(TfsWarmupTest, EmptyFileHasNoRecords) {
  StatusOr<std::vector<std::string>> records = ReadAll("");
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  EXPECT_TRUE(records->empty());
}

TEST_F(TfsWarmupTest, ReadsRecordsWrittenByTensorFlow) {
  // A record as tf.io.TFRecordWriter writes b"abc": length 3, masked crc of the length, data, masked crc.
  const std::string bytes(
      "\x03\x00\x00\x00\x00\x00\x00\x00"
      "\xb0\x99\x49\x0e"
      "abc"
      "\x6e\x57\xf1\x21",
      19);
  // Cross-check the writer here against those bytes, so the other tests' writer is trustworthy.
  ASSERT_EQ(TfRecord("abc"), bytes);
  StatusOr<std::vector<std::string>> records = ReadAll(bytes);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0], "abc");
}

TEST_F(TfsWarmupTest, TruncatedHeaderIsInvalidNamingFileAndRecord) {
  const std::string whole = TfRecord("one") + TfRecord("two");
  StatusOr<std::vector<std::string>> records = ReadAll(whole.substr(0, TfRecord("one").size() + 5));
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(records.status().message().find("records.tfrecord"), std::string::npos) << records.status().message();
  EXPECT_NE(records.status().message().find("record 2"), std::string::npos) << records.status().message();
  EXPECT_NE(records.status().message().find("truncated"), std::string::npos) << records.status().message();
}

TEST_F(TfsWarmupTest, TruncatedDataIsInvalid) {
  const std::string whole = TfRecord("payload");
  for (size_t cut : {whole.size() - 1, whole.size() - 4, size_t{13}}) {
    StatusOr<std::vector<std::string>> records = ReadAll(whole.substr(0, cut));
    ASSERT_FALSE(records.ok()) << "cut at " << cut;
    EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument) << records.status().message();
    EXPECT_NE(records.status().message().find("record 1"), std::string::npos) << records.status().message();
  }
}

TEST_F(TfsWarmupTest, BadLengthChecksumIsInvalid) {
  std::string bytes = TfRecord("data");
  bytes[9] ^= 0x01;  // inside the length's crc
  StatusOr<std::vector<std::string>> records = ReadAll(bytes);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(records.status().message().find("length checksum"), std::string::npos) << records.status().message();
}

TEST_F(TfsWarmupTest, BadDataChecksumIsInvalid) {
  std::string bytes = TfRecord("good") + TfRecord("data");
  bytes[TfRecord("good").size() + 12] ^= 0x20;  // first data byte of record 2
  StatusOr<std::vector<std::string>> records = ReadAll(bytes);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(records.status().message().find("record 2"), std::string::npos) << records.status().message();
  EXPECT_NE(records.status().message().find("data checksum"), std::string::npos) << records.status().message();
}

TEST_F(TfsWarmupTest, HugeLengthWithValidChecksumIsRejectedBeforeAllocating) {
  for (uint64_t length : {uint64_t{1} << 40, ~uint64_t{0}, ~uint64_t{0} - 3, uint64_t{100}}) {
    std::string bytes;
    AppendLe(&bytes, length, 8);
    AppendLe(&bytes, MaskCrc32c(Crc32c(bytes)), 4);
    bytes += "short";
    StatusOr<std::vector<std::string>> records = ReadAll(bytes);
    ASSERT_FALSE(records.ok()) << length;
    EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument) << records.status().message();
    EXPECT_NE(records.status().message().find("past the end"), std::string::npos) << records.status().message();
  }
}

TEST_F(TfsWarmupTest, RecordOverTheLimitIsInvalid) {
  StatusOr<std::vector<std::string>> records = ReadAll(TfRecord("12345678") + TfRecord(std::string(100, 'x')), 64);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(records.status().message().find("exceeds the limit of 64 bytes"), std::string::npos)
      << records.status().message();
  EXPECT_NE(records.status().message().find("record 2"), std::string::npos) << records.status().message();
}

TEST_F(TfsWarmupTest, SkipCountsRecordsAndChecksHeaders) {
  const std::string path = (dir_ / "records.tfrecord").string();
  WriteFile(path, TfRecord("a") + TfRecord("bb") + TfRecord("ccc"));
  StatusOr<std::unique_ptr<TfRecordReader>> reader = TfRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  int skipped = 0;
  for (int i = 0; i < 10; ++i) {
    StatusOr<bool> more = (*reader)->Skip();
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ++skipped;
  }
  EXPECT_EQ(skipped, 3);
  EXPECT_EQ((*reader)->records_read(), 3);

  WriteFile(path, TfRecord("a") + TfRecord("bb").substr(0, 14));
  reader = TfRecordReader::Open(path);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Skip().ok());
  StatusOr<bool> second = (*reader)->Skip();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TfsWarmupTest, OpenRejectsMissingFilesAndDirectories) {
  StatusOr<std::unique_ptr<TfRecordReader>> missing = TfRecordReader::Open((dir_ / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  StatusOr<std::unique_ptr<TfRecordReader>> directory = TfRecordReader::Open(dir_.string());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kFailedPrecondition);
}

// --- ReplayWarmupFile -------------------------------------------------------------------------------------

TEST_F(TfsWarmupTest, NoWarmupFileRunsNothing) {
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 3);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 0);
  EXPECT_EQ(session.runs, 0);
}

TEST_F(TfsWarmupTest, ReplaysEachPredictRecordIterationsTimes) {
  WriteLogs({PredictLog(1), PredictLog(2), PredictLog(3)});
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 4);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 12);
  EXPECT_EQ(session.runs, 12);
  ASSERT_EQ(session.last_inputs.size(), 1u);
  EXPECT_EQ(session.last_inputs[0].name(), "x");
  EXPECT_EQ(session.last_inputs[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Values<float>(session.last_inputs[0]), (std::vector<float>{3, 3}));
}

TEST_F(TfsWarmupTest, IterationsBelowOneMeanOnce) {
  WriteLogs({PredictLog(1), PredictLog(2)});
  for (int iterations : {0, -5}) {
    RecordingSession session(XSignature());
    StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, iterations);
    ASSERT_TRUE(runs.ok()) << runs.status().ToString();
    EXPECT_EQ(*runs, 2);
    EXPECT_EQ(session.runs, 2);
  }
}

TEST_F(TfsWarmupTest, TooManyIterationsIsInvalidArgument) {
  WriteLogs({PredictLog(1)});
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, kMaxWarmupIterations + 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(session.runs, 0);
}

TEST_F(TfsWarmupTest, ExactlyTheMaximumNumberOfRecordsRuns) {
  const std::string one = TfRecord(PredictLog(1).SerializeAsString());
  std::string bytes;
  for (int i = 0; i < kMaxWarmupRecords; ++i) bytes += one;
  WriteFile(WarmupPath(), bytes);
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, kMaxWarmupRecords);
}

TEST_F(TfsWarmupTest, MoreThanTheMaximumNumberOfRecordsRunsNothing) {
  const std::string one = TfRecord(PredictLog(1).SerializeAsString());
  std::string bytes;
  for (int i = 0; i < kMaxWarmupRecords + 1; ++i) bytes += one;
  WriteFile(WarmupPath(), bytes);
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(runs.status().message().find("Number of warmup records exceeds the maximum (1000)"), std::string::npos)
      << runs.status().message();
  EXPECT_NE(runs.status().message().find("tf_serving_warmup_requests"), std::string::npos);
  EXPECT_EQ(session.runs, 0);
}

TEST_F(TfsWarmupTest, CorruptLastRecordRunsNothing) {
  std::string bytes = TfRecord(PredictLog(1).SerializeAsString()) + TfRecord(PredictLog(2).SerializeAsString());
  bytes.resize(bytes.size() - 2);
  WriteFile(WarmupPath(), bytes);
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(runs.status().message().find("tf_serving_warmup_requests: record 2"), std::string::npos)
      << runs.status().message();
  EXPECT_EQ(session.runs, 0);  // the header pass found the truncation before anything ran
}

TEST_F(TfsWarmupTest, EveryTruncationAndEveryFlippedByteIsAnErrorNotACrash) {
  const std::string first = TfRecord(PredictLog(1).SerializeAsString());
  const std::string whole = first + TfRecord(PredictLog(2).SerializeAsString());
  ASSERT_LT(whole.size(), 1000u);  // keeps the loops below small
  for (size_t cut = 1; cut < whole.size(); ++cut) {
    WriteFile(WarmupPath(), whole.substr(0, cut));
    RecordingSession session(XSignature());
    StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
    if (cut == first.size()) {
      ASSERT_TRUE(runs.ok()) << runs.status().ToString();  // a record boundary: one whole record
      EXPECT_EQ(*runs, 1);
    } else {
      ASSERT_FALSE(runs.ok()) << "cut at " << cut;
      EXPECT_EQ(session.runs, 0) << "cut at " << cut;  // found by the header pass
    }
  }
  for (size_t i = 0; i < whole.size(); ++i) {
    std::string bytes = whole;
    bytes[i] ^= 0x5a;
    WriteFile(WarmupPath(), bytes);
    RecordingSession session(XSignature());
    StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
    ASSERT_FALSE(runs.ok()) << "flipped byte " << i;  // every byte is covered by a checksum
    EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument) << runs.status().message();
  }
}

TEST_F(TfsWarmupTest, UnparsableRecordNamesFileAndRecord) {
  WriteFile(WarmupPath(), TfRecord(PredictLog(1).SerializeAsString()) + TfRecord("\xff\xff\xff malformed"));
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(runs.status().message().find(WarmupPath() + ": record 2"), std::string::npos) << runs.status().message();
  EXPECT_NE(runs.status().message().find("PredictionLog"), std::string::npos) << runs.status().message();
}

TEST_F(TfsWarmupTest, RequestThatDoesNotFitTheSignatureFails) {
  WriteLogs({PredictLog(1), PredictLog(1, "not_an_input")});
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(runs.status().message().find("record 2"), std::string::npos) << runs.status().message();
  EXPECT_NE(runs.status().message().find("not_an_input"), std::string::npos) << runs.status().message();
}

TEST_F(TfsWarmupTest, UnknownSignatureNameFails) {
  tfs::PredictionLog log = PredictLog(1);
  log.mutable_predict_log()->mutable_request()->mutable_model_spec()->set_signature_name("other");
  WriteLogs({log});
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(session.runs, 0);
}

TEST_F(TfsWarmupTest, RunFailureKeepsItsCodeAndNamesTheRecord) {
  WriteLogs({PredictLog(1), PredictLog(2), PredictLog(7)});
  RecordingSession session(XSignature());
  session.fail_on = 2;
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 3);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(runs.status().message().find("tf_serving_warmup_requests: record 2: kernel rejected the value"),
            std::string::npos)
      << runs.status().message();
  EXPECT_EQ(session.runs, 4);  // three runs of record 1, the first (failing) run of record 2
}

TEST_F(TfsWarmupTest, UnsupportedLogTypesAreInvalidArgument) {
  tfs::PredictionLog session_run;
  session_run.mutable_session_run_log()->mutable_request()->add_fetch("y");
  tfs::PredictionLog streamed;
  streamed.mutable_predict_streamed_log()->add_request();
  tfs::PredictionLog empty;
  empty.mutable_log_metadata()->set_timestamp_secs(1);
  for (const tfs::PredictionLog& log : {session_run, streamed, empty}) {
    WriteLogs({log});
    RecordingSession session(XSignature());
    StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
    ASSERT_FALSE(runs.ok());
    EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(runs.status().message().find("record 1"), std::string::npos) << runs.status().message();
    EXPECT_EQ(session.runs, 0);
  }
}

tensorflow::Example FloatExample(const std::string& feature, std::vector<float> values) {
  tensorflow::Example example;
  tensorflow::FloatList* list = (*example.mutable_features()->mutable_feature())[feature].mutable_float_list();
  for (float v : values) list->add_value(v);
  return example;
}

TEST_F(TfsWarmupTest, ClassifyRegressAndMultiInferenceLogsRunThroughTheExampleMapping) {
  const ModelSignature signature =
      Signature({{"features", DataType::kFp32, {-1, 2}}},
                {{"scores", DataType::kFp32, {-1, 3}}, {"outputs", DataType::kFp32, {-1}}});
  tfs::PredictionLog classify;
  tfs::ExampleList* examples =
      classify.mutable_classify_log()->mutable_request()->mutable_input()->mutable_example_list();
  *examples->add_examples() = FloatExample("features", {1, 2});
  *examples->add_examples() = FloatExample("features", {3, 4});
  tfs::PredictionLog regress;
  *regress.mutable_regress_log()->mutable_request()->mutable_input()->mutable_example_list()->add_examples() =
      FloatExample("features", {5, 6});
  tfs::PredictionLog multi;
  tfs::MultiInferenceRequest* request = multi.mutable_multi_inference_log()->mutable_request();
  request->add_tasks()->set_method_name(std::string(kTfsClassifyMethodName));
  request->add_tasks()->set_method_name(std::string(kTfsRegressMethodName));
  *request->mutable_input()->mutable_example_list()->add_examples() = FloatExample("features", {7, 8});

  WriteLogs({classify});
  RecordingSession classify_session(signature);
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), classify_session, 2);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 2);
  EXPECT_EQ(classify_session.last_outputs, (std::vector<std::string>{"scores"}));
  ASSERT_EQ(classify_session.last_inputs.size(), 1u);
  EXPECT_EQ(classify_session.last_inputs[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(classify_session.last_inputs[0]), (std::vector<float>{1, 2, 3, 4}));

  WriteLogs({regress, multi});
  RecordingSession session(signature);
  runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 2);
  EXPECT_EQ(session.last_outputs, (std::vector<std::string>{"scores", "outputs"}));
  EXPECT_EQ(Values<float>(session.last_inputs[0]), (std::vector<float>{7, 8}));
}

TEST_F(TfsWarmupTest, ClassifyLogOnAModelWithoutScoresFails) {
  tfs::PredictionLog classify;
  *classify.mutable_classify_log()->mutable_request()->mutable_input()->mutable_example_list()->add_examples() =
      FloatExample("x", {1, 2});
  WriteLogs({classify});
  RecordingSession session(XSignature());
  StatusOr<int> runs = ReplayWarmupFile(dir_.string(), session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(runs.status().message().find("record 1"), std::string::npos) << runs.status().message();
  EXPECT_EQ(session.runs, 0);
}

// --- RunSyntheticWarmup -----------------------------------------------------------------------------------

TEST(SyntheticWarmupTest, BuildsZerosFromTheSignature) {
  RecordingSession session(Signature({{"a", DataType::kFp32, {-1, 4}},
                                      {"s", DataType::kString, {-1}},
                                      {"i", DataType::kInt64, {2, 3}},
                                      {"scalar", DataType::kBool, {}}}));
  StatusOr<int> runs = RunSyntheticWarmup(session, 3);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 3);
  EXPECT_EQ(session.runs, 3);
  ASSERT_EQ(session.last_inputs.size(), 4u);
  EXPECT_EQ(session.last_inputs[0].shape(), (Shape{1, 4}));
  EXPECT_EQ(Values<float>(session.last_inputs[0]), (std::vector<float>(4, 0.0f)));
  EXPECT_EQ(session.last_inputs[1].shape(), (Shape{1}));
  EXPECT_EQ(session.last_inputs[1].strings(), (std::vector<std::string>{""}));
  EXPECT_EQ(session.last_inputs[2].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(session.last_inputs[2]), (std::vector<int64_t>(6, 0)));
  EXPECT_EQ(session.last_inputs[3].shape(), (Shape{}));
  EXPECT_EQ(session.last_inputs[3].bytes().size(), 1u);
  EXPECT_EQ(session.last_inputs[3].bytes()[0], std::byte{0});
  EXPECT_TRUE(session.last_outputs.empty());
}

TEST(SyntheticWarmupTest, HugeFixedInputIsRefusedWithoutRunning) {
  RecordingSession session(Signature({{"big", DataType::kFp32, {1 << 20, 1 << 20}}}));
  StatusOr<int> runs = RunSyntheticWarmup(session, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(runs.status().message().find("big"), std::string::npos) << runs.status().message();
  EXPECT_EQ(session.runs, 0);

  RecordingSession overflow(Signature({{"o", DataType::kFp64, {int64_t{1} << 40, int64_t{1} << 40}}}));
  runs = RunSyntheticWarmup(overflow, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(overflow.runs, 0);

  RecordingSession strings(Signature({{"s", DataType::kString, {int64_t{1} << 40}}}));
  runs = RunSyntheticWarmup(strings, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(strings.runs, 0);
}

TEST(SyntheticWarmupTest, RunFailureIsReported) {
  RecordingSession session(XSignature());
  session.fail_on = 0;
  StatusOr<int> runs = RunSyntheticWarmup(session, 5);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(runs.status().message().find("synthetic warm-up"), std::string::npos) << runs.status().message();
  EXPECT_EQ(session.runs, 1);
}

// --- MakeWarmupFunction -----------------------------------------------------------------------------------

TEST_F(TfsWarmupTest, WarmupFunctionFollowsTheFlags) {
  EXPECT_FALSE(static_cast<bool>(MakeWarmupFunction({.enable_model_warmup = false})));

  RecordingSession session(XSignature());
  // No file: nothing, or the synthetic request when enabled.
  auto plain = MakeWarmupFunction({.num_request_iterations = 2});
  ASSERT_TRUE(static_cast<bool>(plain));
  StatusOr<int> runs = plain(dir_.string(), session);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 0);
  auto synthetic = MakeWarmupFunction({.num_request_iterations = 2, .enable_synthetic_warmup = true});
  runs = synthetic(dir_.string(), session);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 2);
  EXPECT_EQ(session.runs, 2);
  EXPECT_EQ(Values<float>(session.last_inputs[0]), (std::vector<float>{0, 0}));

  // A file wins over the synthetic request.
  WriteLogs({PredictLog(5), PredictLog(6), PredictLog(7)});
  runs = synthetic(dir_.string(), session);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*runs, 6);
  EXPECT_EQ(Values<float>(session.last_inputs[0]), (std::vector<float>{7, 7}));
}

}  // namespace
}  // namespace serval

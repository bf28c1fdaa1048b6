#include "api/serving/serving_frontend.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "api/tfs/tfs_examples.h"
#include "core/inline_run.h"
#include "core/tensor_test_util.h"
#include "engine/engine_stats.h"
#include "repository/fake_model_session.h"

namespace serval {
namespace {
namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;

// x FP32[-1] → scores FP32[-1, 2] (x, -x) and outputs FP32[-1] (2x). Counts the runs that reached it.
class CountingSession : public ModelSession {
 public:
  explicit CountingSession(std::atomic<int>* runs) : runs_(runs) {
    signature_.inputs = {{"x", DataType::kFp32, {-1}}};
    signature_.outputs = {{"scores", DataType::kFp32, {-1, 2}}, {"outputs", DataType::kFp32, {-1}}};
  }
  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return provider_; }
  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& names, const RunContext&,
             std::vector<Tensor>* outputs) const override {
    runs_->fetch_add(1);
    const std::vector<float> x = Values<float>(inputs[0]);
    const auto n = static_cast<int64_t>(x.size());
    std::vector<float> scores, y;
    for (float v : x) {
      scores.insert(scores.end(), {v, -v});
      y.push_back(2 * v);
    }
    outputs->clear();
    const std::vector<std::string> wanted = names.empty() ? std::vector<std::string>{"scores", "outputs"} : names;
    for (const std::string& name : wanted) {
      if (name == "scores") outputs->push_back(MakeTensor("scores", DataType::kFp32, {n, 2}, scores));
      if (name == "outputs") outputs->push_back(MakeTensor("outputs", DataType::kFp32, {n}, y));
    }
    return Status::Ok();
  }

 private:
  std::atomic<int>* runs_;
  ModelSignature signature_;
  std::string provider_ = "counting";
};

class CountingEngine : public Engine {
 public:
  StatusOr<std::unique_ptr<ModelSession>> Load(const std::string&) const override {
    return std::unique_ptr<ModelSession>(std::make_unique<CountingSession>(&runs));
  }
  const EngineOptions& options() const override { return options_; }
  std::string runtime_version() const override { return "counting"; }
  int intra_op_threads() const override { return 1; }
  mutable std::atomic<int> runs{0};

 private:
  EngineOptions options_;
};

class ServingFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("serval_frontend_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    for (int version : {1, 2}) {
      fs::create_directories(base_ / std::to_string(version));
      std::ofstream(base_ / std::to_string(version) / "model.onnx") << "ok";
    }
    ModelConfig config;
    config.name = "m";
    config.base_path = base_.string();
    config.policy.kind = VersionPolicy::Kind::kAll;
    config.version_labels = {{"stable", 1}};
    ASSERT_TRUE(models_.SetConfig({config}).ok());
  }
  void TearDown() override { fs::remove_all(base_); }

  InferenceRequest Request(const std::vector<float>& x) {
    InferenceRequest request;
    const auto n = static_cast<int64_t>(x.size());
    request.inputs.push_back(MakeTensor("x", DataType::kFp32, {n}, x));
    return request;
  }
  ExampleBatch Batch() {
    StatusOr<TfsExamplesJsonRequest> decoded = DecodeTfsExamplesJson(R"({"examples":[{"x":1.5},{"x":-2.0}]})");
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    return decoded->batch;
  }

  fs::path base_;
  CountingEngine engine_;
  ModelManager models_{engine_, {.file_system_poll_wait_seconds = 0}};
  metrics::MetricsRegistry registry_;
  std::unique_ptr<metrics::ServingMetrics> metrics_ = std::move(metrics::ServingMetrics::Create(&registry_).value());
  std::atomic<bool> draining_{false};
  ServingFrontend frontend_{models_, {.metrics = metrics_.get(), .draining = &draining_}};
};

TEST(DeadlineRuleTest, FarFutureIsNoDeadlineOnBothClocks) {
  EXPECT_EQ(DeadlineFromRemaining(hours(24 * 365 * 2)), kNoDeadline);
  EXPECT_EQ(DeadlineFromRemaining(std::chrono::nanoseconds::max()), kNoDeadline);
  EXPECT_EQ(DeadlineFromSystemClock(std::chrono::system_clock::now() + hours(24 * 365 * 2)), kNoDeadline);
  EXPECT_EQ(DeadlineFromSystemClock(std::chrono::system_clock::time_point::max()), kNoDeadline);
  EXPECT_EQ(DeadlineFromSystemClock(std::chrono::system_clock::time_point::max() - hours(1)), kNoDeadline);
  // Within a year: a real deadline, about that far away.
  const Deadline in_a_second = DeadlineFromSystemClock(std::chrono::system_clock::now() + seconds(1));
  EXPECT_NE(in_a_second, kNoDeadline);
  EXPECT_GT(in_a_second, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
  EXPECT_LT(in_a_second, std::chrono::steady_clock::now() + seconds(2));
  EXPECT_NE(DeadlineFromRemaining(hours(24 * 300)), kNoDeadline);
}

TEST(DeadlineRuleTest, PassedDeadlineStaysPassed) {
  const Deadline past = DeadlineFromSystemClock(std::chrono::system_clock::now() - seconds(5));
  const Deadline oldest = DeadlineFromSystemClock(std::chrono::system_clock::time_point::min());
  const Deadline negative = DeadlineFromRemaining(-seconds(1));
  const Deadline zero = DeadlineFromRemaining(std::chrono::nanoseconds::zero());
  const Deadline after = std::chrono::steady_clock::now();
  for (Deadline deadline : {past, oldest, negative, zero}) EXPECT_LE(deadline, after);
}

TEST(VersionRuleTest, DigitsAreNumbersAnythingElseIsALabel) {
  EXPECT_FALSE(VersionSelectorFromString("").number.has_value());
  EXPECT_TRUE(VersionSelectorFromString("").label.empty());
  EXPECT_EQ(VersionSelectorFromString("12").number, 12);
  EXPECT_EQ(VersionSelectorFromString("stable").label, "stable");
  EXPECT_EQ(VersionSelectorFromString("-1").label, "-1");
  EXPECT_EQ(VersionSelectorFromString("+1").label, "+1");
  EXPECT_EQ(VersionSelectorFromString("99999999999999999999").label, "99999999999999999999");  // over int64
}

TEST_F(ServingFrontendTest, ResolvesNumberLabelAndLatest) {
  StatusOr<ServableHandle> latest = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version(), 2);
  StatusOr<ServableHandle> labelled = frontend_.Resolve({"m", {std::nullopt, "stable"}});
  ASSERT_TRUE(labelled.ok());
  EXPECT_EQ(labelled->version(), 1);
  EXPECT_EQ(frontend_.Resolve({"m", {7, ""}}).status().code(), StatusCode::kNotFound);
  StatusOr<ServableHandle> missing = frontend_.Resolve({"nope", {}});
  EXPECT_EQ(missing.status().message(), "Servable not found for request: Latest(nope)");
}

TEST_F(ServingFrontendTest, SignatureRuleEmptyMeansServingDefault) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  EXPECT_TRUE(ServingFrontend::ResolveSignature(*handle, "").ok());
  StatusOr<SignatureRef> named = ServingFrontend::ResolveSignature(*handle, "serving_default");
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(named->is_default);
  StatusOr<SignatureRef> other = ServingFrontend::ResolveSignature(*handle, "other");
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ServingFrontendTest, InferRunsWithTheResolvedVersion) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {1, ""}});
  ASSERT_TRUE(handle.ok());
  InferenceRequest request = Request({1, 2});
  request.outputs = {"outputs"};
  StatusOr<InferenceResponse> response = frontend_.Infer(*handle, std::move(request), {});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->model_name, "m");
  EXPECT_EQ(response->model_version, 1);
  ASSERT_EQ(response->outputs.size(), 1u);
  EXPECT_EQ(Values<float>(response->outputs[0]), (std::vector<float>{2, 4}));
  EXPECT_EQ(engine_.runs.load(), 1);
}

// On a receiving thread (an InlineAttempt current): the version's first runs are handed off without running
// anything (run time unknown), each run recorded on a worker makes it known, and then the call is admitted
// and runs where it is.
TEST_F(ServingFrontendTest, InlineAttemptIsAskedBeforeTheRunAndRunTimesAreRecorded) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {1, ""}});
  ASSERT_TRUE(handle.ok());
  EXPECT_FALSE(handle->waits_for_batch());
  InlineGate gate({.max_run_micros = 1'000'000, .max_body_bytes = 1024, .max_concurrent = 1});
  for (uint32_t i = 0; i < RunTimeEstimate::kMinSamples; ++i) {
    {
      InlineAttempt attempt(gate, 10);
      EXPECT_FALSE(frontend_.Infer(*handle, Request({1}), {}).ok());
      EXPECT_TRUE(attempt.deferred());
      EXPECT_EQ(attempt.verdict(), InlineVerdict::kRunTimeUnknown);
    }
    EXPECT_EQ(engine_.runs.load(), static_cast<int>(i));           // the refused attempt ran nothing
    ASSERT_TRUE(frontend_.Infer(*handle, Request({1}), {}).ok());  // as on a worker: no attempt
  }
  EXPECT_TRUE(handle->recent_run_micros().has_value());
  InlineAttempt attempt(gate, 10);
  StatusOr<InferenceResponse> response = frontend_.Infer(*handle, Request({3}), {});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_FALSE(attempt.deferred());
  EXPECT_EQ(Values<float>(response->outputs[1]), (std::vector<float>{6}));
  EXPECT_EQ(gate.slots_in_use(), 1);
}

TEST_F(ServingFrontendTest, FarFutureDeadlineRunsLikeNone) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  CallContext call{DeadlineFromSystemClock(std::chrono::system_clock::now() + hours(24 * 365 * 2)), {}};
  EXPECT_EQ(call.deadline, kNoDeadline);
  EXPECT_TRUE(frontend_.Infer(*handle, Request({1}), call).ok());
  EXPECT_EQ(engine_.runs.load(), 1);
}

TEST_F(ServingFrontendTest, ClientGoneBeforeRunIsNotRunAndIsCounted) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  const uint64_t before = GlobalEngineStats().client_gone_before_run.load();
  CallContext call{kNoDeadline, [] { return true; }};
  StatusOr<InferenceResponse> response = frontend_.Infer(*handle, Request({1}), call);
  EXPECT_EQ(response.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(engine_.runs.load(), 0);
  EXPECT_EQ(GlobalEngineStats().client_gone_before_run.load(), before + 1);
}

TEST_F(ServingFrontendTest, PassedDeadlineIsNotRunAndIsCounted) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  const uint64_t before = GlobalEngineStats().expired_before_run.load();
  CallContext call{DeadlineFromRemaining(-seconds(1)), [] { return true; }};  // both: the deadline wins
  EXPECT_EQ(frontend_.Infer(*handle, Request({1}), call).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(engine_.runs.load(), 0);
  EXPECT_EQ(GlobalEngineStats().expired_before_run.load(), before + 1);
}

TEST_F(ServingFrontendTest, ClientGoneDuringTheRunGetsNoAnswer) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  // The probe says "gone" from its second call on: the check before the run passes, the one after does not.
  int probes = 0;
  CallContext call{kNoDeadline, [&probes] { return ++probes > 1; }};
  StatusOr<InferenceResponse> response = frontend_.Infer(*handle, Request({1}), call);
  EXPECT_EQ(response.status().code(), StatusCode::kCancelled);
  EXPECT_NE(response.status().message().find("not encoded"), std::string::npos) << response.status().message();
  EXPECT_EQ(engine_.runs.load(), 1);
}

TEST_F(ServingFrontendTest, ClassifyAndRegressGoThroughTheSameChecks) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  StatusOr<ExampleTaskResult> classified = frontend_.Classify(*handle, "", Batch(), {});
  ASSERT_TRUE(classified.ok()) << classified.status().ToString();
  EXPECT_EQ(classified->model_version, 2);
  ASSERT_EQ(classified->classifications.size(), 2u);
  EXPECT_FLOAT_EQ(classified->classifications[0][0].score, 1.5f);
  EXPECT_FLOAT_EQ(classified->classifications[1][1].score, 2.0f);
  StatusOr<ExampleTaskResult> regressed = frontend_.Regress(*handle, "serving_default", Batch(), {});
  ASSERT_TRUE(regressed.ok()) << regressed.status().ToString();
  EXPECT_EQ(regressed->regressions, (std::vector<float>{3.0f, -4.0f}));
  EXPECT_EQ(engine_.runs.load(), 2);
  EXPECT_EQ(frontend_.Regress(*handle, "other", Batch(), {}).status().code(), StatusCode::kFailedPrecondition);
  // A gone client: planned, never run.
  EXPECT_EQ(frontend_.Classify(*handle, "", Batch(), {kNoDeadline, [] { return true; }}).status().code(),
            StatusCode::kCancelled);
  EXPECT_EQ(engine_.runs.load(), 2);
}

TEST_F(ServingFrontendTest, MultiInferenceSharesOneRunPerSignature) {
  StatusOr<ServableHandle> handle = frontend_.Resolve({"m", {}});
  ASSERT_TRUE(handle.ok());
  StatusOr<std::vector<ExampleTaskResult>> results =
      frontend_.MultiInference(*handle, {{true, ""}, {false, "serving_default"}}, Batch(), {});
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].classifications.size(), 2u);
  EXPECT_EQ((*results)[1].regressions, (std::vector<float>{3.0f, -4.0f}));
  EXPECT_EQ(engine_.runs.load(), 1);
  StatusOr<std::vector<ExampleTaskResult>> duplicate =
      frontend_.MultiInference(*handle, {{false, ""}, {false, "serving_default"}}, Batch(), {});
  EXPECT_EQ(duplicate.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(duplicate.status().message(), "Duplicate evaluation of signature: serving_default");
  EXPECT_EQ(engine_.runs.load(), 1);
}

TEST_F(ServingFrontendTest, MetadataAndStatus) {
  StatusOr<ModelMetadata> metadata = frontend_.Metadata({"m", {std::nullopt, "stable"}});
  ASSERT_TRUE(metadata.ok());
  EXPECT_EQ(metadata->handle.version(), 1);
  EXPECT_EQ(metadata->available_versions, (std::vector<int64_t>{2, 1}));
  ASSERT_EQ(metadata->signatures.size(), 1u);
  EXPECT_EQ(metadata->signatures[0].name, "serving_default");
  StatusOr<std::vector<VersionStatus>> all = frontend_.ModelStatus({"m", {}});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  StatusOr<std::vector<VersionStatus>> one = frontend_.ModelStatus({"m", {2, ""}});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].version, 2);
  EXPECT_EQ(frontend_.ModelStatus({"nope", {}}).status().code(), StatusCode::kNotFound);
}

TEST_F(ServingFrontendTest, StatisticsOfAvailableVersionsFromTheMetrics) {
  metrics_->RecordRequest("m", 2, metrics::api::kPredict, metrics::Protocol::kGrpc, StatusCode::kOk,
                          std::chrono::milliseconds(3));
  StatusOr<std::vector<VersionStatistics>> all = frontend_.Statistics({"", {}});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  StatusOr<std::vector<VersionStatistics>> labelled = frontend_.Statistics({"m", {std::nullopt, "stable"}});
  ASSERT_TRUE(labelled.ok());
  ASSERT_EQ(labelled->size(), 1u);
  EXPECT_EQ((*labelled)[0].version, 1);
  EXPECT_EQ((*labelled)[0].counters.inference_count, 0u);
  StatusOr<std::vector<VersionStatistics>> two = frontend_.Statistics({"m", {2, ""}});
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 1u);
  EXPECT_EQ((*two)[0].counters.inference_count, 1u);
  EXPECT_EQ(frontend_.Statistics({"nope", {}}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(frontend_.Statistics({"", {1, ""}}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServingFrontendTest, ReadinessOfServerAndModel) {
  EXPECT_TRUE(frontend_.ServerReady());
  draining_ = true;
  EXPECT_FALSE(frontend_.ServerReady());
  draining_ = false;
  EXPECT_TRUE(*frontend_.ModelReady({"m", {}}));
  EXPECT_FALSE(*frontend_.ModelReady({"m", {9, ""}}));
  EXPECT_FALSE(*frontend_.ModelReady({"nope", {}}));
  EXPECT_EQ(frontend_.CheckModelReady({"nope", {}}).code(), StatusCode::kNotFound);
  ASSERT_TRUE(models_.UnloadModel("m").ok());
  EXPECT_TRUE(frontend_.ServerReady());  // no model configured: nothing is missing
  EXPECT_FALSE(*frontend_.ModelReady({"m", {}}));
}

}  // namespace
}  // namespace serval

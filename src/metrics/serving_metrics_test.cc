#include "metrics/serving_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace serval::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

bool Contains(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

size_t CountLinesStartingWith(const std::string& text, const std::string& prefix) {
  size_t count = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, prefix.size(), prefix) == 0) ++count;
    pos = end + 1;
  }
  return count;
}

class ServingMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = ServingMetrics::Create(&registry_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    metrics_ = std::move(*created);
  }
  MetricsRegistry registry_;
  std::unique_ptr<ServingMetrics> metrics_;
};

TEST_F(ServingMetricsTest, RequestFeedsTfServingAndServalSeries) {
  metrics_->RecordRequest("add", 2, api::kPredict, Protocol::kRest, StatusCode::kOk, microseconds(150));
  metrics_->RecordRequest("add", 2, api::kPredict, Protocol::kGrpc, StatusCode::kInvalidArgument, microseconds(5));
  std::string text = metrics_->RenderPrometheus();
  EXPECT_TRUE(Contains(text, "# TYPE :tensorflow:serving:request_count counter\n")) << text;
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:request_count{model_name=\"add\",status=\"OK\"} 1\n"));
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:request_count{model_name=\"add\",status=\"INVALID_ARGUMENT\"} 1\n"));
  // µs as TF Serving: 150 µs lands in the le="188.957" bucket, not in le="104.976".
  EXPECT_TRUE(Contains(text,
                       ":tensorflow:serving:request_latency_bucket{model_name=\"add\",API=\"Predict\","
                       "entrypoint=\"REST\",le=\"104.976\"} 0\n"));
  EXPECT_TRUE(Contains(text,
                       ":tensorflow:serving:request_latency_bucket{model_name=\"add\",API=\"Predict\","
                       "entrypoint=\"REST\",le=\"188.957\"} 1\n"));
  EXPECT_TRUE(Contains(text,
                       ":tensorflow:serving:request_latency_sum{model_name=\"add\",API=\"Predict\","
                       "entrypoint=\"REST\"} 150\n"));
  EXPECT_TRUE(Contains(text,
                       "serval_requests_total{model=\"add\",version=\"2\",protocol=\"grpc\",api=\"Predict\","
                       "code=\"INVALID_ARGUMENT\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_request_duration_seconds_count{model=\"add\",version=\"2\"} 2\n"));
  EXPECT_TRUE(Contains(text, "serval_request_duration_seconds_bucket{model=\"add\",version=\"2\",le=\"0.00025\"} 2\n"));
}

TEST_F(ServingMetricsTest, BatchQueueComputeSeries) {
  metrics_->RecordQueue("m", 1, microseconds(300));
  metrics_->RecordCompute("m", 1, api::kKServeInfer, {microseconds(10), microseconds(200), microseconds(20)});
  metrics_->RecordBatch("m", 1, 3, 1);
  metrics_->RecordBatch("m", 1, 8, 0);
  metrics_->RecordUnbatchedRun("m", 1);
  metrics_->RecordExampleCount("m", 3);
  metrics_->RecordExampleCount("m", 5);
  std::string text = metrics_->RenderPrometheus();
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:request_example_counts_bucket{model=\"m\",le=\"4\"} 1\n"));
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:request_example_count_total{model=\"m\"} 8\n"));
  EXPECT_TRUE(Contains(
      text, ":tensorflow:serving:batching_session:queuing_latency_count{thread_pool_name=\"batch_threads\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:batching_session:input_batch_size_sum 11\n"));
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:batching_session:processed_batch_size_sum 12\n"));
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:batching_session:padding_size_sum{execution_batch_size=\"4\"} 1\n"));
  EXPECT_TRUE(Contains(text, ":tensorflow:serving:batching_session:wrapped_run_count 2\n"));
  EXPECT_TRUE(Contains(text,
                       ":tensorflow:serving:runtime_latency_sum{model_name=\"m\",API=\"kserve_infer\","
                       "runtime=\"onnxruntime\"} 200\n"));
  EXPECT_TRUE(Contains(text, "serval_queue_duration_seconds_count{model=\"m\",version=\"1\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_compute_duration_seconds_bucket{model=\"m\",version=\"1\",le=\"0.00025\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_batch_size_bucket{model=\"m\",version=\"1\",le=\"2\"} 0\n"));
  EXPECT_TRUE(Contains(text, "serval_batch_size_bucket{model=\"m\",version=\"1\",le=\"4\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_batch_size_bucket{model=\"m\",version=\"1\",le=\"8\"} 2\n"));
  EXPECT_TRUE(Contains(text, "serval_batch_padding_rows_bucket{model=\"m\",version=\"1\",le=\"0\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_model_executions_total{model=\"m\",version=\"1\"} 3\n"));
}

TEST_F(ServingMetricsTest, RejectsCancelsLoadsStatesAndScrapeCallbacks) {
  metrics_->RecordReject("m", reason::kQueueFull);
  metrics_->RecordReject("m", reason::kQueueFull);
  metrics_->RecordCancel("m", reason::kClientDisconnected);
  metrics_->RecordModelLoad("m", 1, 0.3, true);
  metrics_->RecordModelLoad("m", 2, 0.02, false);
  metrics_->SetVersionState("m", 1, VersionState::kAvailable);
  metrics_->SetVersionState("m", 2, VersionState::kEnd);
  uint64_t depth = 0;
  auto id = metrics_->AddScrapeCallback([&] {
    metrics_->SetQueueDepth("m", 1, ++depth);
    EngineRunCounts counts;
    counts.started = 10;
    counts.completed = 7;
    counts.cancelled_deadline = 2;
    counts.expired_before_run = 5;
    metrics_->SetEngineRunCounts(counts);
    metrics_->SetExpiredInQueue("m", 1, 4);
  });
  std::string text = metrics_->RenderPrometheus();
  EXPECT_TRUE(Contains(text, "serval_rejected_requests_total{model=\"m\",reason=\"queue_full\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "serval_cancelled_requests_total{model=\"m\",reason=\"client_disconnected\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_model_load_duration_seconds_count{model=\"m\",result=\"ok\"} 1\n"));
  EXPECT_TRUE(
      Contains(text, "serval_model_load_duration_seconds_bucket{model=\"m\",result=\"error\",le=\"0.05\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_model_version_state{model=\"m\",version=\"1\"} 30\n"));
  EXPECT_TRUE(Contains(text, "serval_model_version_state{model=\"m\",version=\"2\"} 50\n"));
  EXPECT_TRUE(Contains(text, "serval_queue_depth{model=\"m\",version=\"1\"} 1\n"));
  EXPECT_TRUE(Contains(text, "serval_engine_runs_started_total 10\n"));
  EXPECT_TRUE(Contains(text, "serval_engine_runs_completed_total 7\n"));
  EXPECT_TRUE(Contains(text, "serval_engine_runs_cancelled_total{reason=\"deadline_exceeded\"} 2\n"));
  EXPECT_TRUE(Contains(text, "serval_engine_runs_skipped_total{reason=\"deadline_exceeded\"} 5\n"));
  EXPECT_TRUE(Contains(text, "serval_requests_expired_in_queue_total{model=\"m\",version=\"1\"} 4\n"));
  EXPECT_TRUE(Contains(metrics_->RenderPrometheus(), "serval_queue_depth{model=\"m\",version=\"1\"} 2\n"));
  metrics_->RemoveScrapeCallback(id);
  EXPECT_TRUE(Contains(metrics_->RenderPrometheus(), "serval_queue_depth{model=\"m\",version=\"1\"} 2\n"));
}

TEST_F(ServingMetricsTest, ProcessMetricsArePresentAtScrape) {
  std::string text = metrics_->RenderPrometheus();
  for (const char* name :
       {"serval_process_resident_memory_bytes ", "serval_process_threads ", "serval_process_cpu_seconds_total ",
        "serval_process_open_fds ", "serval_process_virtual_memory_bytes "}) {
    EXPECT_EQ(CountLinesStartingWith(text, name), 1u) << name << "\n" << text;
  }
  EXPECT_FALSE(Contains(text, "serval_process_resident_memory_bytes 0\n"));
  EXPECT_FALSE(Contains(text, "serval_process_threads 0\n"));
}

TEST_F(ServingMetricsTest, TenThousandUnknownModelsAddAtMostOneSeriesPerFamily) {
  metrics_->RecordRequest("add", 1, api::kPredict, Protocol::kRest, StatusCode::kOk, microseconds(10));
  const std::string before = metrics_->RenderPrometheus();
  // Callers map unresolved names to kUnknownModel.
  for (int i = 0; i < 10000; ++i) {
    metrics_->RecordRequest(kUnknownModel, 0, api::kPredict, Protocol::kRest, StatusCode::kNotFound, microseconds(3));
  }
  const std::string after = metrics_->RenderPrometheus();
  EXPECT_EQ(CountLinesStartingWith(after, ":tensorflow:serving:request_count{") -
                CountLinesStartingWith(before, ":tensorflow:serving:request_count{"),
            1u);
  EXPECT_EQ(CountLinesStartingWith(after, "serval_requests_total{") -
                CountLinesStartingWith(before, "serval_requests_total{"),
            1u);
  EXPECT_TRUE(
      Contains(after, ":tensorflow:serving:request_count{model_name=\"__unknown__\",status=\"NOT_FOUND\"} 10000\n"));
  EXPECT_TRUE(metrics_->GetModelStatistics(kUnknownModel).empty());
}

TEST(ServingMetricsCapTest, HardCapHoldsEvenIfCallersPassRawNames) {
  MetricsRegistry registry;
  ServingMetrics::Options options;
  options.max_series_per_family = 50;
  options.max_model_versions = 20;
  auto metrics = ServingMetrics::Create(&registry, options);
  ASSERT_TRUE(metrics.ok());
  for (int i = 0; i < 10000; ++i) {
    (*metrics)->RecordRequest("bogus" + std::to_string(i), 1, api::kPredict, Protocol::kGrpc, StatusCode::kNotFound,
                              microseconds(1));
  }
  std::string text = (*metrics)->RenderPrometheus();
  EXPECT_EQ(CountLinesStartingWith(text, ":tensorflow:serving:request_count{"), 51u);
  EXPECT_EQ(CountLinesStartingWith(text, "serval_requests_total{"), 51u);
  EXPECT_TRUE(
      Contains(text, ":tensorflow:serving:request_count{model_name=\"__overflow__\",status=\"__overflow__\"} 9950\n"));
  EXPECT_EQ((*metrics)->GetModelStatistics().size(), 20u);
}

TEST_F(ServingMetricsTest, KServeStatisticsFromTheSameCounters) {
  metrics_->RecordQueue("m", 1, microseconds(100));
  metrics_->RecordCompute("m", 1, api::kKServeInfer, {microseconds(1), microseconds(2), microseconds(3)});
  metrics_->RecordBatch("m", 1, 2, 0);
  metrics_->RecordRequest("m", 1, api::kKServeInfer, Protocol::kGrpc, StatusCode::kOk, milliseconds(1), 2);
  metrics_->RecordRequest("m", 1, api::kKServeInfer, Protocol::kRest, StatusCode::kUnavailable, microseconds(7));
  metrics_->RecordRequest("m", 2, api::kKServeInfer, Protocol::kRest, StatusCode::kOk, microseconds(9));
  metrics_->RecordRequest("other", 1, api::kKServeInfer, Protocol::kRest, StatusCode::kOk, microseconds(9));

  std::vector<ModelStatistics> all = metrics_->GetModelStatistics();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "m");
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[1].version, 2);
  EXPECT_EQ(all[2].name, "other");

  std::vector<ModelStatistics> m1 = metrics_->GetModelStatistics("m", 1);
  ASSERT_EQ(m1.size(), 1u);
  const ModelStatistics& s = m1[0];
  EXPECT_EQ(s.inference_count, 2u);
  EXPECT_EQ(s.execution_count, 1u);
  EXPECT_EQ(s.success.count, 1u);
  EXPECT_EQ(s.success.ns, 1000000u);
  EXPECT_EQ(s.fail.count, 1u);
  EXPECT_EQ(s.fail.ns, 7000u);
  EXPECT_EQ(s.queue.count, 1u);
  EXPECT_EQ(s.queue.ns, 100000u);
  EXPECT_EQ(s.compute_input.ns, 1000u);
  EXPECT_EQ(s.compute_infer.ns, 2000u);
  EXPECT_EQ(s.compute_output.ns, 3000u);
  EXPECT_GT(s.last_inference_ms, 1600000000000u);  // after 2020: a wall-clock epoch time in ms
  EXPECT_EQ(metrics_->GetModelStatistics("m").size(), 2u);
  EXPECT_TRUE(metrics_->GetModelStatistics("absent").empty());
}

TEST_F(ServingMetricsTest, ConcurrentRecordingIsExact) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string model = "model" + std::to_string(t % 4);
      for (int i = 0; i < kIterations; ++i) {
        metrics_->RecordRequest(model, 1, api::kPredict, Protocol::kRest, StatusCode::kOk, microseconds(i % 100));
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 50; ++i) (void)metrics_->RenderPrometheus();
  });
  for (auto& thread : threads) thread.join();
  scraper.join();
  for (const ModelStatistics& s : metrics_->GetModelStatistics()) {
    EXPECT_EQ(s.success.count, uint64_t{2} * kIterations) << s.name;
    EXPECT_EQ(s.inference_count, uint64_t{2} * kIterations) << s.name;
  }
  EXPECT_EQ(metrics_->GetModelStatistics().size(), 4u);
  EXPECT_TRUE(Contains(metrics_->RenderPrometheus(),
                       ":tensorflow:serving:request_count{model_name=\"model3\",status=\"OK\"} 10000\n"));
}

TEST(ServingMetricsCreateTest, FailsWhenNamesAreTaken) {
  MetricsRegistry registry;
  ASSERT_TRUE(registry.AddGauge("serval_queue_depth", "", {}).ok());
  auto metrics = ServingMetrics::Create(&registry);
  ASSERT_FALSE(metrics.ok());
  EXPECT_EQ(metrics.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ServingMetrics::Create(nullptr).ok());
}

}  // namespace
}  // namespace serval::metrics

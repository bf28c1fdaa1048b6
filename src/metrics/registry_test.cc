#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace serval::metrics {
namespace {

TEST(RegistryTest, RendersExactExpositionText) {
  MetricsRegistry registry;
  auto requests = registry.AddCounter("app_requests_total", "Requests served.", {"model", "code"});
  ASSERT_TRUE(requests.ok()) << requests.status().ToString();
  auto depth = registry.AddGauge("app_queue_depth", "Queued requests.", {});
  ASSERT_TRUE(depth.ok());
  auto latency = registry.AddHistogram("app_latency_seconds", "Latency.", {"model"}, {0.125, 1, 2.5});
  ASSERT_TRUE(latency.ok());

  (*requests)->WithLabels({"b", "OK"})->Increment(2);
  (*requests)->WithLabels({"a", "NOT_FOUND"})->Increment();
  (*depth)->WithLabels({})->Set(7);
  Histogram* h = (*latency)->WithLabels({"a"});
  h->Observe(0.0625);
  h->Observe(0.125);  // le is inclusive
  h->Observe(2);
  h->Observe(100);

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP app_requests_total Requests served.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{model=\"a\",code=\"NOT_FOUND\"} 1\n"
            "app_requests_total{model=\"b\",code=\"OK\"} 2\n"
            "# HELP app_queue_depth Queued requests.\n"
            "# TYPE app_queue_depth gauge\n"
            "app_queue_depth 7\n"
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{model=\"a\",le=\"0.125\"} 2\n"
            "app_latency_seconds_bucket{model=\"a\",le=\"1\"} 2\n"
            "app_latency_seconds_bucket{model=\"a\",le=\"2.5\"} 3\n"
            "app_latency_seconds_bucket{model=\"a\",le=\"+Inf\"} 4\n"
            "app_latency_seconds_sum{model=\"a\"} 102.1875\n"
            "app_latency_seconds_count{model=\"a\"} 4\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");

  MetricsRegistry registry;
  auto family = registry.AddCounter("x_total", "line one\nback\\slash", {"v"});
  ASSERT_TRUE(family.ok());
  (*family)->WithLabels({"q\"\n\\"})->Increment();
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP x_total line one\\nback\\\\slash\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"q\\\"\\n\\\\\"} 1\n");
}

TEST(RegistryTest, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

TEST(RegistryTest, HistogramBucketsAreInclusiveUpperBounds) {
  std::vector<double> bounds = {1, 2, 4};
  Histogram h(bounds);
  for (double v : {-5.0, 0.0, 1.0, 1.5, 2.0, 3.9, 4.0, 4.1, 1e9}) h.Observe(v);
  h.Observe(std::nan(""));  // counted in +Inf, not in the sum
  Histogram::Snapshot s = h.Read();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 3u);   // -5, 0, 1
  EXPECT_EQ(s.cumulative[1], 5u);   // + 1.5, 2
  EXPECT_EQ(s.cumulative[2], 7u);   // + 3.9, 4
  EXPECT_EQ(s.cumulative[3], 10u);  // + 4.1, 1e9, NaN
  EXPECT_EQ(s.count, 10u);
  EXPECT_DOUBLE_EQ(s.sum, -5.0 + 0 + 1 + 1.5 + 2 + 3.9 + 4 + 4.1 + 1e9);
}

TEST(RegistryTest, ExponentialBucketsMatchTensorFlowRounding) {
  std::vector<double> b = ExponentialBuckets(10, 1.8, 33);
  ASSERT_EQ(b.size(), 33u);
  EXPECT_EQ(b[0], 10);
  EXPECT_EQ(b[1], 18);
  EXPECT_EQ(b[2], 32.4);
  EXPECT_EQ(b[5], 188.957);  // 10 * 1.8^5 = 188.9568, six significant digits
  EXPECT_EQ(FormatValue(b[5]), "188.957");
  std::vector<double> pow2 = ExponentialBuckets(1, 2, 14);
  ASSERT_EQ(pow2.size(), 14u);
  EXPECT_EQ(pow2.back(), 8192);
}

TEST(RegistryTest, RejectsBadDefinitions) {
  MetricsRegistry registry;
  EXPECT_FALSE(registry.AddCounter("9bad", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("bad-name", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_total", "", {"bad-label"}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_total", "", {"__reserved"}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_total", "", {"a", "a"}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_total", "", {}, 0).ok());
  EXPECT_FALSE(registry.AddHistogram("h", "", {"le"}, {1}).ok());
  EXPECT_FALSE(registry.AddHistogram("h", "", {}, {2, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram("h", "", {}, {1, std::numeric_limits<double>::infinity()}).ok());
  ASSERT_TRUE(registry.AddCounter(":tensorflow:serving:request_count", "", {"model_name"}).ok());
  StatusOr<GaugeFamily*> duplicate = registry.AddGauge(":tensorflow:serving:request_count", "", {});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kInvalidArgument);
}

TEST(RegistryTest, SameLabelsGiveSameSeries) {
  MetricsRegistry registry;
  auto family = registry.AddCounter("c_total", "", {"a", "b"});
  ASSERT_TRUE(family.ok());
  Counter* first = (*family)->WithLabels({"x", "y"});
  EXPECT_EQ(first, (*family)->WithLabels({"x", "y"}));
  // Length-prefixed keys: ("xy", "") and ("x", "y") are different label sets.
  EXPECT_NE(first, (*family)->WithLabels({"xy", ""}));
  EXPECT_EQ((*family)->series_count(), 2u);
}

TEST(RegistryTest, CardinalityCapAddsAtMostOneOverflowSeries) {
  MetricsRegistry registry;
  auto family = registry.AddCounter("req_total", "", {"model"}, /*max_series=*/3);
  ASSERT_TRUE(family.ok());
  for (int i = 0; i < 10000; ++i) (*family)->WithLabels({"bogus" + std::to_string(i)})->Increment();
  EXPECT_EQ((*family)->series_count(), 3u);
  EXPECT_TRUE((*family)->overflowed());
  std::string text = registry.RenderPrometheus();
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 2u + 3u + 1u);  // HELP, TYPE, three series, one overflow series
  EXPECT_NE(text.find("req_total{model=\"__overflow__\"} 9997\n"), std::string::npos) << text;
}

TEST(RegistryTest, WrongNumberOfLabelValuesGoesToOverflowNotACrash) {
  MetricsRegistry registry;
  auto family = registry.AddGauge("g", "", {"a", "b"});
  ASSERT_TRUE(family.ok());
  (*family)->WithLabels({"only-one"})->Set(1);
  EXPECT_EQ((*family)->series_count(), 0u);
  EXPECT_NE(registry.RenderPrometheus().find("g{a=\"__overflow__\",b=\"__overflow__\"} 1\n"), std::string::npos);
}

TEST(RegistryTest, ConcurrentIncrementsAreExact) {
  MetricsRegistry registry;
  auto counters = registry.AddCounter("n_total", "", {"worker_group"});
  auto histograms = registry.AddHistogram("h", "", {"worker_group"}, {1, 10});
  ASSERT_TRUE(counters.ok() && histograms.ok());
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;
  std::atomic<bool> stop_scraping{false};
  // A scraper runs alongside to exercise rendering against concurrent creation and updates.
  std::thread scraper([&] {
    for (int i = 0; i < 1000 && !stop_scraping.load(); ++i) (void)registry.RenderPrometheus();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string group = std::to_string(t % 2);
      for (int i = 0; i < kIterations; ++i) {
        (*counters)->WithLabels({group})->Increment();
        (*histograms)->WithLabels({group})->Observe(i % 3 == 0 ? 0.5 : 5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  stop_scraping = true;
  scraper.join();
  const uint64_t per_group = uint64_t{kThreads / 2} * kIterations;
  EXPECT_EQ((*counters)->WithLabels({"0"})->Value(), per_group);
  EXPECT_EQ((*counters)->WithLabels({"1"})->Value(), per_group);
  Histogram::Snapshot s = (*histograms)->WithLabels({"1"})->Read();
  EXPECT_EQ(s.count, per_group);
  EXPECT_EQ(s.cumulative[0], uint64_t{kThreads / 2} * ((kIterations + 2) / 3));
}

TEST(RegistryTest, ScrapeCallbacksRunBeforeRenderingAndCanBeRemoved) {
  MetricsRegistry registry;
  auto family = registry.AddGauge("depth", "", {});
  ASSERT_TRUE(family.ok());
  Gauge* gauge = (*family)->WithLabels({});
  int calls = 0;
  auto id = registry.AddScrapeCallback([&] { gauge->Set(++calls); });
  EXPECT_NE(registry.RenderPrometheus().find("depth 1\n"), std::string::npos);
  EXPECT_NE(registry.RenderPrometheus().find("depth 2\n"), std::string::npos);
  registry.RemoveScrapeCallback(id);
  EXPECT_NE(registry.RenderPrometheus().find("depth 2\n"), std::string::npos);
  EXPECT_EQ(calls, 2);
}

TEST(RegistryTest, CounterScaleRendersFractions) {
  MetricsRegistry registry;
  auto family = registry.AddCounter("cpu_seconds_total", "", {}, MetricsRegistry::kDefaultMaxSeries, 1e-6);
  ASSERT_TRUE(family.ok());
  (*family)->WithLabels({})->Set(1500000);
  EXPECT_NE(registry.RenderPrometheus().find("cpu_seconds_total 1.5\n"), std::string::npos);
}

}  // namespace
}  // namespace serval::metrics

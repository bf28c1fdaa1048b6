#include "metrics/monitoring_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "metrics/process_stats.h"

namespace serval::metrics {
namespace {

TEST(MonitoringConfigTest, ParsesTfServingText) {
  auto config =
      ParseMonitoringConfig("prometheus_config {\n  enable: true,\n  path: \"/monitoring/prometheus/metrics\"\n}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->prometheus_enabled);
  EXPECT_EQ(config->prometheus_path, "/monitoring/prometheus/metrics");

  auto custom = ParseMonitoringConfig("prometheus_config { enable: true path: '/my/metrics' }");
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ(custom->prometheus_path, "/my/metrics");
}

TEST(MonitoringConfigTest, DefaultsWhenFieldsAreAbsent) {
  auto empty = ParseMonitoringConfig("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->prometheus_enabled);
  EXPECT_EQ(empty->prometheus_path, kDefaultPrometheusPath);

  auto no_path = ParseMonitoringConfig("prometheus_config { enable: true }");
  ASSERT_TRUE(no_path.ok());
  EXPECT_TRUE(no_path->prometheus_enabled);
  EXPECT_EQ(no_path->prometheus_path, "/monitoring/prometheus/metrics");
}

TEST(MonitoringConfigTest, RejectsBadTextAndPaths) {
  for (const char* text : {"prometheus_config { enable: maybe }", "prometheus_config { enabled: true }",
                           "prometheus_config {", "prometheus_config { path: 'relative/path' }",
                           "prometheus_config { path: '/with space' }", "prometheus_config { path: '/q?x=1' }"}) {
    auto config = ParseMonitoringConfig(text);
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(MonitoringConfigTest, FileErrorsNameTheFile) {
  std::string path = ::testing::TempDir() + "/monitoring_config_test_" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream out(path);
    out << "prometheus_config { enable: true path: '/metrics' }";
  }
  auto good = ReadMonitoringConfigFile(path);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->prometheus_path, "/metrics");
  {
    std::ofstream out(path);
    out << "prometheus_config { bogus_field: 1 }";
  }
  auto bad = ReadMonitoringConfigFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(path), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("bogus_field"), std::string::npos) << bad.status().message();
  std::remove(path.c_str());

  auto missing = ReadMonitoringConfigFile(path + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(path + ".missing"), std::string::npos);
}

TEST(ProcessStatsTest, ParsesProcStatText) {
  // A comm with spaces and a ')' must not shift the fields.
  std::string text =
      "1234 (my) proc) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 150 0 0 20 0 7 0 100 123456789 300 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
  auto stats = ParseProcStat(text, 4096, 100);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->threads, 7u);
  EXPECT_EQ(stats->virtual_memory_bytes, 123456789u);
  EXPECT_EQ(stats->resident_memory_bytes, 300u * 4096u);
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 4.0);
  EXPECT_FALSE(ParseProcStat("1234 (x) S 1 2", 4096, 100).ok());
  EXPECT_FALSE(ParseProcStat("no parenthesis", 4096, 100).ok());
}

TEST(ProcessStatsTest, ReadsThisProcess) {
  auto stats = ReadProcessStats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GT(stats->resident_memory_bytes, 0u);
  EXPECT_GE(stats->threads, 1u);
  EXPECT_GT(stats->open_fds, 0u);  // stdin/stdout/stderr at least
}

}  // namespace
}  // namespace serval::metrics

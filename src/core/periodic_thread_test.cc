#include "core/periodic_thread.h"

#include <atomic>
#include <chrono>

#include <gtest/gtest.h>

namespace serval {
namespace {

using std::chrono::milliseconds;

TEST(PeriodicThreadTest, RunsEveryPeriodUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicThread thread;
  thread.Start(milliseconds(5), [&runs] { runs.fetch_add(1); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (runs.load() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
  thread.Stop();
  const int after_stop = runs.load();
  EXPECT_GE(after_stop, 3);
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(runs.load(), after_stop);  // nothing runs once Stop has returned
  thread.Stop();                       // idempotent
}

TEST(PeriodicThreadTest, StopDoesNotWaitOutThePeriod) {
  int runs = 0;
  PeriodicThread thread;
  thread.Start(std::chrono::hours(1), [&runs] { ++runs; });
  const auto started = std::chrono::steady_clock::now();
  thread.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace serval

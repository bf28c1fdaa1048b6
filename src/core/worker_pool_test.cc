#include "core/worker_pool.h"

#include <atomic>
#include <chrono>
#include <future>
#include <vector>

#include <gtest/gtest.h>

namespace serval {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskInOrderOnOneThread) {
  WorkerPool pool("test-worker", 1, 100);
  std::vector<int> seen;  // one thread: no lock needed, and Stop() orders the reads after the writes
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.TrySubmit([&seen, i] { seen.push_back(i); }));
  pool.Stop();
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
}

TEST(WorkerPoolTest, RefusesWhenTheQueueIsFullAndAcceptsAgainOnceItDrains) {
  WorkerPool pool("test-worker", 2, 3);
  EXPECT_EQ(pool.num_threads(), 2);
  EXPECT_EQ(pool.max_queued(), 3u);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> started{0};
  std::atomic<int> ran{0};
  auto blocker = [&, gate] {
    ++started;
    gate.wait();
    ++ran;
  };
  // Both threads take one task each and block; then three wait in the queue; the sixth is refused.
  ASSERT_TRUE(pool.TrySubmit(blocker));
  ASSERT_TRUE(pool.TrySubmit(blocker));
  while (started.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.TrySubmit(blocker));
  EXPECT_EQ(pool.queued(), 3u);
  bool refused_ran = false;
  EXPECT_FALSE(pool.TrySubmit([&refused_ran] { refused_ran = true; }));
  release.set_value();
  while (ran.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(pool.TrySubmit([&ran] { ++ran; }));
  pool.Stop();
  EXPECT_EQ(ran.load(), 6);
  EXPECT_FALSE(refused_ran);
}

TEST(WorkerPoolTest, StopRunsQueuedTasksThenRefusesNewOnes) {
  std::atomic<int> ran{0};
  WorkerPool pool("test-worker", 1, 10);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&ran] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++ran;
    }));
  }
  pool.Stop();
  EXPECT_EQ(ran.load(), 10);  // Stop drained the queue before joining
  EXPECT_FALSE(pool.TrySubmit([&ran] { ++ran; }));
  pool.Stop();  // idempotent
  EXPECT_EQ(ran.load(), 10);
}

TEST(WorkerPoolTest, ThreadCountIsFixed) {
  WorkerPool pool("test-worker", 3, 1000);
  std::atomic<int> ran{0};
  for (int i = 0; i < 500; ++i) {
    while (!pool.TrySubmit([&ran] { ++ran; })) std::this_thread::yield();
  }
  EXPECT_EQ(pool.num_threads(), 3);
  pool.Stop();
  EXPECT_EQ(ran.load(), 500);
}

}  // namespace
}  // namespace serval

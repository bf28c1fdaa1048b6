// WorkerPool: a fixed set of threads that run tasks from one bounded FIFO queue. The threads are created
// by the constructor and joined by Stop(); none is ever added or retired in between. TrySubmit never
// blocks: when `max_queued` tasks already wait for a thread it refuses the task, and the caller answers
// "overloaded" itself. The gRPC API runs model calls here, so that no gRPC callback thread ever waits for
// a model. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace serval {

class WorkerPool {
 public:
  using Task = std::function<void()>;

  // REQUIRES: num_threads >= 1. `name` names the threads (the first 15 bytes, as `top -H` shows them).
  WorkerPool(std::string name, int num_threads, size_t max_queued);
  ~WorkerPool();  // Stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` to run on one of the threads, in submission order. Returns false, without running or
  // keeping `task`, when `max_queued` tasks wait already or Stop() was called. A running task does not
  // count against `max_queued`.
  bool TrySubmit(Task task);
  // Refuses new tasks, lets the threads run every task already queued, and joins them. Idempotent.
  // REQUIRES: not called from a task.
  void Stop();

  int num_threads() const { return static_cast<int>(threads_.size()); }
  size_t max_queued() const { return max_queued_; }
  size_t queued() const;  // tasks waiting for a thread now

 private:
  void Work();

  const std::string name_;
  const size_t max_queued_;
  mutable std::mutex mutex_;  // guards queue_ and stopping_
  std::condition_variable wakeup_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::mutex stop_mutex_;  // serialises Stop()
  std::vector<std::thread> threads_;
};

}  // namespace serval

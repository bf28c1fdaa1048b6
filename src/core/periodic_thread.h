// PeriodicThread: one thread that runs a task every period until stopped. Stop() (or the destructor) wakes it at
// once, without waiting out the period, and joins it; a task already running finishes first.
// Thread-safety: Start and Stop from the owner's thread; the task runs on the periodic thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace serval {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Runs `task` every `period` (first after one period). No-op when already started.
  void Start(std::chrono::milliseconds period, std::function<void()> task);
  // Idempotent.
  void Stop();

 private:
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace serval

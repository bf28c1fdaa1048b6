#include "core/periodic_thread.h"

#include <utility>

namespace serval {

void PeriodicThread::Start(std::chrono::milliseconds period, std::function<void()> task) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, period, task = std::move(task)] {
    std::unique_lock lock(mutex_);
    while (!wakeup_.wait_for(lock, period, [this] { return stopping_; })) {
      lock.unlock();
      task();
      lock.lock();
    }
  });
}

void PeriodicThread::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace serval

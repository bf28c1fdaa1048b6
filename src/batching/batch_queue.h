// Internal to src/batching: one request (Task), one batch of them (Batch) and one model version's queue,
// shared by the scheduler (batch_scheduler.cc), the merge step (batch_merge.cc) and the session
// (batching_session.cc). Not part of the batching layer's interface.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "batching/batching_session.h"

namespace serval {
namespace batching {

using Clock = std::chrono::steady_clock;

// One request, shared by its caller (who waits on it) and the batch thread (which completes it).
struct Task {
  const std::vector<Tensor>* inputs = nullptr;  // in signature order (see Queue::Order)
  const std::vector<std::string>* output_names = nullptr;
  const RunContext* context = nullptr;
  int64_t rows = 0;
  std::string key;  // requests with equal keys may share a batch
  Clock::time_point enqueued;

  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  Status status;
  std::vector<Tensor> outputs;

  void Complete(Status result, std::vector<Tensor> result_outputs) {
    std::lock_guard<std::mutex> lock(mutex);
    status = std::move(result);
    outputs = std::move(result_outputs);
    done = true;
    done_cv.notify_all();
  }
};

struct Batch {
  std::string key;
  std::vector<std::shared_ptr<Task>> tasks;
  int64_t rows = 0;
  Clock::time_point opened;
  bool closed = false;  // a request did not fit: no more will be added
};

}  // namespace batching

class SharedBatchScheduler;

// One model version's queue. Its batches are guarded by the scheduler's mutex.
struct BatchingSession::Queue {
  std::shared_ptr<SharedBatchScheduler> scheduler;
  BatchingSessionOptions options;
  std::unique_ptr<ModelSession> session;
  BatchingStats stats;
  std::deque<std::unique_ptr<batching::Batch>> batches;  // oldest first
  int running = 0;                                       // batches taken by batch threads and not finished

  bool Ready(const batching::Batch& batch, batching::Clock::time_point now) const {
    return batch.closed || batch.rows >= options.batching.ExecutionBatchLimit() ||
           now >= batch.opened + std::chrono::microseconds(options.batching.batch_timeout_micros);
  }
};

// Adds one model run of `requests` merged requests that started at `started` to the queue's statistics sink,
// if it has one: one execution, and the run's time to compute_infer once per request (Triton's per-request
// accounting).
void RecordExecution(const BatchingSession::Queue& queue, batching::Clock::time_point started, size_t requests);

}  // namespace serval

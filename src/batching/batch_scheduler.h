// Internal to src/batching: the scheduler behind BatchScheduler::Create. One mutex for every queue, a fixed
// set of batch threads that take ready batches from the queues in turn, drop what nobody waits for, merge
// (batch_merge.h), run the model once and hand each caller its rows.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "batching/batch_queue.h"
#include "batching/batching_session.h"

namespace serval {

// The scheduler: one mutex for every queue (enqueue, take and withdraw are a few pointer moves), and
// a fixed set of threads that take ready batches from the queues in turn.
class SharedBatchScheduler final : public BatchScheduler {
 public:
  using Queue = BatchingSession::Queue;

  using Task = batching::Task;
  using Batch = batching::Batch;
  using Clock = batching::Clock;

  explicit SharedBatchScheduler(const BatchSchedulerOptions& options);
  ~SharedBatchScheduler() override;

  void Start();

  int num_batch_threads() const override { return num_threads_; }
  BatchingObserver* observer() const { return observer_.get(); }

  void Add(Queue* queue);

  // Fails what is still queued, then waits for running batches of `queue`.
  void Remove(Queue* queue);

  // Adds `task` to a batch of its key that has room, or opens a batch. UNAVAILABLE when that would pass
  // max_enqueued_batches.
  Status Enqueue(Queue* queue, std::shared_ptr<Task> task);

  // Takes `task` out of its queue if no batch thread took it yet. True when it was withdrawn.
  bool Withdraw(Queue* queue, const Task* task);

  void Reject(const Queue& queue, BatchRejectReason reason) const;

 private:
  // A ready batch, taken out of its queue (queues in turn, so that one busy model cannot starve the
  // others); null when none is ready, with `*wake` lowered to when the next one will be.
  std::unique_ptr<Batch> TakeReady(Clock::time_point now, Queue** from, Clock::time_point* wake);

  void Loop();

  void Process(Queue& queue, std::unique_ptr<Batch> batch);
  // Runs `live` as one model run of `padded_rows` rows (`rows` of them real) and completes each task.
  void RunBatch(Queue& queue, std::vector<std::shared_ptr<Task>> live, int64_t padded_rows, int64_t rows);

  std::shared_ptr<BatchingObserver> observer_;
  const int num_threads_;
  std::mutex mutex_;
  std::condition_variable work_cv_;  // a batch was queued, or stopping
  std::condition_variable idle_cv_;  // a queue's running count dropped to 0
  bool stopping_ = false;
  std::vector<Queue*> queues_;
  size_t next_queue_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace serval

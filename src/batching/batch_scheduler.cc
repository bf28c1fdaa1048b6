#include "batching/batch_scheduler.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "batching/batch_merge.h"
#include "core/usable_cores.h"

namespace serval {

using batching::InnerMax;
using batching::MergeInput;
using batching::MergeRaggedInput;
using batching::PaddingWithinBudget;
using batching::SliceRows;

// One model run of `requests` merged requests: one execution, and (as Triton counts per request) the run's
// time charged to each of them.
void RecordExecution(const BatchingSession::Queue& queue, batching::Clock::time_point started, size_t requests) {
  if (const auto& sink = queue.options.stats_sink) {
    sink->execution_count.fetch_add(1, std::memory_order_relaxed);
    sink->compute_infer_ns.fetch_add(
        static_cast<uint64_t>(std::chrono::nanoseconds(batching::Clock::now() - started).count()) * requests,
        std::memory_order_relaxed);
  }
}

SharedBatchScheduler::SharedBatchScheduler(const BatchSchedulerOptions& options)
    : observer_(options.observer),
      num_threads_(options.num_batch_threads > 0 ? options.num_batch_threads : UsableCores()) {}

SharedBatchScheduler::~SharedBatchScheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void SharedBatchScheduler::Start() {
  threads_.reserve(static_cast<size_t>(num_threads_));
  for (int i = 0; i < num_threads_; ++i) threads_.emplace_back([this] { Loop(); });
}

void SharedBatchScheduler::Add(Queue* queue) {
  std::lock_guard<std::mutex> lock(mutex_);
  queues_.push_back(queue);
}

// Fails what is still queued, then waits for running batches of `queue`.
void SharedBatchScheduler::Remove(Queue* queue) {
  std::vector<std::shared_ptr<Task>> orphans;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queues_.erase(std::find(queues_.begin(), queues_.end(), queue));
    next_queue_ = 0;
    for (std::unique_ptr<Batch>& batch : queue->batches) {
      for (std::shared_ptr<Task>& task : batch->tasks) orphans.push_back(std::move(task));
    }
    queue->batches.clear();
    queue->stats.queued_requests.store(0);
  }
  for (const std::shared_ptr<Task>& task : orphans) {
    queue->stats.shutdown_in_queue.fetch_add(1, std::memory_order_relaxed);
    Reject(*queue, BatchRejectReason::kShutdown);
    task->Complete(
        Unavailable("model " + queue->options.model_name + " version " + std::to_string(queue->options.version) +
                    " was unloaded while the request waited in its batch queue"),
        {});
  }
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [queue] { return queue->running == 0; });
}

// Adds `task` to a batch of its key that has room, or opens a batch. UNAVAILABLE when that would pass
// max_enqueued_batches.
Status SharedBatchScheduler::Enqueue(Queue* queue, std::shared_ptr<Task> task) {
  const BatchingOptions& options = queue->options.batching;
  const int64_t limit = options.ExecutionBatchLimit();
  int64_t depth = 0;
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Batch* target = nullptr;
    Batch* too_small = nullptr;  // the open batch of this key that the request does not fit
    for (std::unique_ptr<Batch>& batch : queue->batches) {
      if (batch->closed || batch->key != task->key) continue;
      if (batch->rows + task->rows <= limit) {
        target = batch.get();
        break;
      }
      too_small = batch.get();
    }
    if (target == nullptr) {
      full = static_cast<int64_t>(queue->batches.size()) >= options.max_enqueued_batches;
      if (!full) {
        if (too_small != nullptr) too_small->closed = true;  // as full as it gets: ready to run
        auto batch = std::make_unique<Batch>();
        batch->key = task->key;
        batch->opened = task->enqueued;
        target = batch.get();
        queue->batches.push_back(std::move(batch));
      }
    }
    if (target != nullptr) {
      target->rows += task->rows;
      target->tasks.push_back(std::move(task));
      depth = queue->stats.queued_requests.fetch_add(1, std::memory_order_relaxed) + 1;
    }
  }
  if (full) {
    queue->stats.rejected_queue_full.fetch_add(1, std::memory_order_relaxed);
    Reject(*queue, BatchRejectReason::kQueueFull);
    // TF Serving's wording, which clients may match on.
    return Unavailable("The batch scheduling queue to which this task was submitted is full");
  }
  work_cv_.notify_one();
  if (observer_) observer_->OnQueueDepth(queue->options.model_name, queue->options.version, depth);
  return Status::Ok();
}

// Takes `task` out of its queue if no batch thread took it yet. True when it was withdrawn.
bool SharedBatchScheduler::Withdraw(Queue* queue, const Task* task) {
  int64_t depth = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bool found = false;
    for (auto batch_it = queue->batches.begin(); batch_it != queue->batches.end(); ++batch_it) {
      std::vector<std::shared_ptr<Task>>& tasks = (*batch_it)->tasks;
      auto it = std::find_if(tasks.begin(), tasks.end(),
                             [task](const std::shared_ptr<Task>& queued) { return queued.get() == task; });
      if (it == tasks.end()) continue;
      (*batch_it)->rows -= task->rows;
      tasks.erase(it);
      if (tasks.empty()) queue->batches.erase(batch_it);
      found = true;
      break;
    }
    if (!found) return false;
    depth = queue->stats.queued_requests.fetch_sub(1, std::memory_order_relaxed) - 1;
  }
  if (observer_) observer_->OnQueueDepth(queue->options.model_name, queue->options.version, depth);
  return true;
}

void SharedBatchScheduler::Reject(const Queue& queue, BatchRejectReason reason) const {
  if (observer_) observer_->OnReject(queue.options.model_name, queue.options.version, reason);
}

// A ready batch, taken out of its queue (queues in turn, so that one busy model cannot starve the
// others); null when none is ready, with `*wake` lowered to when the next one will be.
std::unique_ptr<SharedBatchScheduler::Batch> SharedBatchScheduler::TakeReady(Clock::time_point now, Queue** from,
                                                                             Clock::time_point* wake) {
  const size_t count = queues_.size();
  for (size_t n = 0; n < count; ++n) {
    Queue* queue = queues_[(next_queue_ + n) % count];
    for (auto it = queue->batches.begin(); it != queue->batches.end(); ++it) {
      if (queue->Ready(**it, now)) {
        std::unique_ptr<Batch> batch = std::move(*it);
        queue->batches.erase(it);
        next_queue_ = (next_queue_ + n + 1) % count;
        *from = queue;
        return batch;
      }
      *wake = std::min(*wake, (*it)->opened + std::chrono::microseconds(queue->options.batching.batch_timeout_micros));
    }
  }
  return nullptr;
}

void SharedBatchScheduler::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    Clock::time_point wake = Clock::time_point::max();
    Queue* queue = nullptr;
    std::unique_ptr<Batch> batch = TakeReady(Clock::now(), &queue, &wake);
    if (batch == nullptr) {
      if (wake == Clock::time_point::max()) {
        work_cv_.wait(lock);
      } else {
        work_cv_.wait_until(lock, wake);
      }
      continue;
    }
    ++queue->running;
    const int64_t depth =
        queue->stats.queued_requests.fetch_sub(static_cast<int64_t>(batch->tasks.size()), std::memory_order_relaxed) -
        static_cast<int64_t>(batch->tasks.size());
    lock.unlock();
    if (observer_) observer_->OnQueueDepth(queue->options.model_name, queue->options.version, depth);
    Process(*queue, std::move(batch));
    lock.lock();
    if (--queue->running == 0) idle_cv_.notify_all();
  }
}

void SharedBatchScheduler::Process(Queue& queue, std::unique_ptr<Batch> batch) {
  // Drop what nobody waits for any more: it must never reach the model.
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<Task>> live;
  live.reserve(batch->tasks.size());
  for (std::shared_ptr<Task>& task : batch->tasks) {
    CancelReason reason = task->context->Check(now);
    if (reason == CancelReason::kNone) {
      live.push_back(std::move(task));
      continue;
    }
    if (reason == CancelReason::kDeadline) {
      queue.stats.expired_in_queue.fetch_add(1, std::memory_order_relaxed);
      Reject(queue, BatchRejectReason::kDeadline);
      task->Complete(DeadlineExceeded("deadline exceeded while the request waited in the batch queue"), {});
    } else {
      queue.stats.cancelled_in_queue.fetch_add(1, std::memory_order_relaxed);
      Reject(queue, BatchRejectReason::kClientGone);
      task->Complete(Cancelled("the client went away while the request waited in the batch queue"), {});
    }
  }
  if (live.empty()) return;
  if (const auto& sink = queue.options.stats_sink) {
    for (const std::shared_ptr<Task>& task : live) {
      sink->queue_ns.fetch_add(static_cast<uint64_t>(std::chrono::nanoseconds(now - task->enqueued).count()),
                               std::memory_order_relaxed);
    }
  }

  int64_t rows = 0;
  for (const std::shared_ptr<Task>& task : live) rows += task->rows;
  const int64_t padded_rows = queue.options.batching.PaddedBatchSize(rows);
  const int64_t queue_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now - live.front()->enqueued).count();
  queue.stats.batches.fetch_add(1, std::memory_order_relaxed);
  queue.stats.batched_requests.fetch_add(live.size(), std::memory_order_relaxed);
  queue.stats.padding_rows.fetch_add(static_cast<uint64_t>(padded_rows - rows), std::memory_order_relaxed);
  if (observer_) {
    observer_->OnBatch(queue.options.model_name, queue.options.version, static_cast<int>(live.size()), rows,
                       padded_rows, queue_micros);
  }

  if (queue.options.batching.pad_variable_length_inputs && live.size() > 1 && !PaddingWithinBudget(live, padded_rows)) {
    for (const std::shared_ptr<Task>& task : live) {
      RunBatch(queue, {task}, queue.options.batching.PaddedBatchSize(task->rows), task->rows);
    }
    return;
  }
  RunBatch(queue, std::move(live), padded_rows, rows);
}

void SharedBatchScheduler::RunBatch(Queue& queue, std::vector<std::shared_ptr<Task>> live, int64_t padded_rows,
                                    int64_t rows) {
  // One request that needs no padding runs on its own tensors: no copy in, no slicing out.
  if (live.size() == 1 && padded_rows == rows) {
    Task& task = *live.front();
    std::vector<Tensor> outputs;
    const Clock::time_point run_started = Clock::now();
    Status status = queue.session->Run(*task.inputs, *task.output_names, *task.context, &outputs);
    RecordExecution(queue, run_started, 1);
    task.Complete(std::move(status), std::move(outputs));
    return;
  }

  auto fail_all = [&live](const Status& status) {
    for (const std::shared_ptr<Task>& task : live) task->Complete(status, {});
  };
  std::vector<Tensor> merged;
  const size_t input_count = live.front()->inputs->size();
  merged.reserve(input_count);
  for (size_t i = 0; i < input_count; ++i) {
    bool ragged = false;
    Shape inner_max = InnerMax(live, i, &ragged);
    StatusOr<Tensor> input =
        ragged ? MergeRaggedInput(live, i, padded_rows, inner_max) : MergeInput(live, i, padded_rows);
    if (!input.ok()) return fail_all(input.status());
    merged.push_back(std::move(input).value());
  }
  // The batch runs until the last of its requests' deadlines, and is stopped when every client is gone.
  RunContext context;
  context.deadline = Clock::time_point::min();
  bool any_probe = false;
  for (const std::shared_ptr<Task>& task : live) {
    context.deadline = std::max(context.deadline, task->context->deadline);
    any_probe = any_probe || static_cast<bool>(task->context->client_gone);
  }
  if (any_probe) {
    context.client_gone = [&live] {
      return std::all_of(live.begin(), live.end(), [](const std::shared_ptr<Task>& task) {
        return task->context->client_gone && task->context->client_gone();
      });
    };
  }
  std::vector<Tensor> outputs;
  const Clock::time_point run_started = Clock::now();
  Status status = queue.session->Run(merged, *live.front()->output_names, context, &outputs);
  RecordExecution(queue, run_started, live.size());
  merged.clear();
  if (!status.ok()) return fail_all(status);
  for (const Tensor& output : outputs) {
    if (output.shape().empty() || output.shape()[0] != padded_rows) {
      return fail_all(Internal("model output '" + output.name() + "' has shape " + ShapeToString(output.shape()) +
                               " for a batch of " + std::to_string(padded_rows) +
                               " rows; outputs must keep the batch as their first dimension"));
    }
  }
  std::vector<std::shared_ptr<const Tensor>> owners;
  owners.reserve(outputs.size());
  for (Tensor& output : outputs) owners.push_back(std::make_shared<const Tensor>(std::move(output)));
  int64_t row = 0;
  for (const std::shared_ptr<Task>& task : live) {
    std::vector<Tensor> slices;
    slices.reserve(owners.size());
    for (const std::shared_ptr<const Tensor>& owner : owners)
      slices.push_back(SliceRows(*owner, owner, row, task->rows));
    row += task->rows;
    task->Complete(Status::Ok(), std::move(slices));
  }
}

std::shared_ptr<BatchScheduler> BatchScheduler::Create(const BatchSchedulerOptions& options) {
  auto scheduler = std::make_shared<SharedBatchScheduler>(options);
  scheduler->Start();
  return scheduler;
}

}  // namespace serval

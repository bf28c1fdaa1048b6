#include "batching/batching_session.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "core/usable_cores.h"

namespace serval {

using Clock = std::chrono::steady_clock;

std::string_view BatchRejectReasonName(BatchRejectReason reason) {
  switch (reason) {
    case BatchRejectReason::kQueueFull:
      return "queue_full";
    case BatchRejectReason::kTooLarge:
      return "too_large";
    case BatchRejectReason::kDeadline:
      return "deadline_exceeded";
    case BatchRejectReason::kClientGone:
      return "cancelled";
    case BatchRejectReason::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

bool IsBatchable(const ModelSignature& signature) {
  if (signature.inputs.empty() || signature.outputs.empty()) return false;
  auto variable_leading = [](const TensorSpec& spec) { return !spec.shape.empty() && spec.shape[0] == -1; };
  return std::all_of(signature.inputs.begin(), signature.inputs.end(), variable_leading) &&
         std::all_of(signature.outputs.begin(), signature.outputs.end(), variable_leading);
}

namespace {

// How often a queued caller with a client probe looks whether its client went away.
constexpr auto kClientProbeInterval = std::chrono::milliseconds(5);

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

}  // namespace

class SharedBatchScheduler;

// One model version's queue. Its batches are guarded by the scheduler's mutex.
struct BatchingSession::Queue {
  std::shared_ptr<SharedBatchScheduler> scheduler;
  BatchingSessionOptions options;
  std::unique_ptr<ModelSession> session;
  BatchingStats stats;
  std::deque<std::unique_ptr<Batch>> batches;  // oldest first
  int running = 0;                             // batches taken by batch threads and not finished

  bool Ready(const Batch& batch, Clock::time_point now) const {
    return batch.closed || batch.rows >= options.batching.ExecutionBatchLimit() ||
           now >= batch.opened + std::chrono::microseconds(options.batching.batch_timeout_micros);
  }
};

// The scheduler: one mutex for every queue (enqueue, take and withdraw are a few pointer moves), and
// a fixed set of threads that take ready batches from the queues in turn.
class SharedBatchScheduler final : public BatchScheduler {
 public:
  using Queue = BatchingSession::Queue;

  explicit SharedBatchScheduler(const BatchSchedulerOptions& options)
      : observer_(options.observer),
        num_threads_(options.num_batch_threads > 0 ? options.num_batch_threads : UsableCores()) {}

  ~SharedBatchScheduler() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  void Start() {
    threads_.reserve(static_cast<size_t>(num_threads_));
    for (int i = 0; i < num_threads_; ++i) threads_.emplace_back([this] { Loop(); });
  }

  int num_batch_threads() const override { return num_threads_; }
  BatchingObserver* observer() const { return observer_.get(); }

  void Add(Queue* queue) {
    std::lock_guard<std::mutex> lock(mutex_);
    queues_.push_back(queue);
  }

  // Fails what is still queued, then waits for running batches of `queue`.
  void Remove(Queue* queue) {
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
  Status Enqueue(Queue* queue, std::shared_ptr<Task> task) {
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
  bool Withdraw(Queue* queue, const Task* task) {
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

  void Reject(const Queue& queue, BatchRejectReason reason) const {
    if (observer_) observer_->OnReject(queue.options.model_name, queue.options.version, reason);
  }

 private:
  // A ready batch, taken out of its queue (queues in turn, so that one busy model cannot starve the
  // others); null when none is ready, with `*wake` lowered to when the next one will be.
  std::unique_ptr<Batch> TakeReady(Clock::time_point now, Queue** from, Clock::time_point* wake) {
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
        *wake =
            std::min(*wake, (*it)->opened + std::chrono::microseconds(queue->options.batching.batch_timeout_micros));
      }
    }
    return nullptr;
  }

  void Loop() {
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

namespace {

// ---- merging and splitting -------------------------------------------------------------------------------

// Input `index` (signature order) of every task, merged along dim 0 into `padded_rows` rows; rows past
// the real ones repeat the last real row (valid data: zeros could make some models divide by zero).
StatusOr<Tensor> MergeInput(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, int64_t padded_rows) {
  const Tensor& first = (*tasks.front()->inputs)[index];
  Shape shape = first.shape();
  shape[0] = padded_rows;
  if (first.dtype() == DataType::kString) {
    std::vector<std::string> values;
    for (const std::shared_ptr<Task>& task : tasks) {
      const std::vector<std::string>& strings = (*task->inputs)[index].strings();
      values.insert(values.end(), strings.begin(), strings.end());
    }
    const Task& last = *tasks.back();
    const std::vector<std::string>& last_strings = (*last.inputs)[index].strings();
    const size_t row_elements = last_strings.size() / static_cast<size_t>(last.rows);
    int64_t real_rows = 0;
    for (const std::shared_ptr<Task>& task : tasks) real_rows += task->rows;
    for (int64_t row = real_rows; row < padded_rows; ++row) {
      values.insert(values.end(), last_strings.end() - static_cast<std::ptrdiff_t>(row_elements), last_strings.end());
    }
    return Tensor::FromStrings(first.name(), std::move(shape), std::move(values));
  }
  StatusOr<Tensor> merged = Tensor::Allocate(first.name(), first.dtype(), shape);
  if (!merged.ok()) return merged.status();
  std::span<std::byte> out = merged->mutable_bytes();
  size_t offset = 0;
  for (const std::shared_ptr<Task>& task : tasks) {
    std::span<const std::byte> bytes = (*task->inputs)[index].bytes();
    if (offset + bytes.size() > out.size()) return Internal("batch input '" + first.name() + "' overflows");
    if (!bytes.empty()) std::memcpy(out.data() + offset, bytes.data(), bytes.size());
    offset += bytes.size();
  }
  const Task& last = *tasks.back();
  std::span<const std::byte> last_bytes = (*last.inputs)[index].bytes();
  const size_t row_bytes = last_bytes.size() / static_cast<size_t>(last.rows);
  if (row_bytes > 0) {
    while (offset + row_bytes <= out.size()) {
      std::memcpy(out.data() + offset, last_bytes.data() + last_bytes.size() - row_bytes, row_bytes);
      offset += row_bytes;
    }
  }
  if (offset != out.size()) return Internal("batch input '" + first.name() + "' has an unexpected size");
  return merged;
}

// The largest size of each non-leading dim of input `index` over `tasks`; `*ragged` when they differ.
Shape InnerMax(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, bool* ragged) {
  Shape max((*tasks.front()->inputs)[index].shape().begin() + 1, (*tasks.front()->inputs)[index].shape().end());
  for (const std::shared_ptr<Task>& task : tasks) {
    const Shape& shape = (*task->inputs)[index].shape();
    for (size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] != max[d - 1]) *ragged = true;
      max[d - 1] = std::max(max[d - 1], shape[d]);
    }
  }
  return max;
}

// pad_variable_length_inputs can make a batch much bigger than its requests (one long in one dim, one in
// another): padding is allowed up to 4x the real elements (or 256 Ki elements); past that the requests
// run one by one instead.
constexpr int64_t kMinPaddingBudget = 256 * 1024;
bool PaddingWithinBudget(const std::vector<std::shared_ptr<Task>>& tasks, int64_t padded_rows) {
  const size_t input_count = tasks.front()->inputs->size();
  for (size_t i = 0; i < input_count; ++i) {
    bool ragged = false;
    Shape shape = InnerMax(tasks, i, &ragged);
    if (!ragged) continue;
    shape.insert(shape.begin(), padded_rows);
    StatusOr<int64_t> padded = ElementCount(shape, "batch");
    if (!padded.ok()) return false;
    int64_t real = 0;
    for (const std::shared_ptr<Task>& task : tasks) real += (*task->inputs)[i].element_count();
    if (*padded > std::max(kMinPaddingBudget, 4 * real)) return false;
  }
  return true;
}

// Input `index` of every task in a [padded_rows, inner_max...] tensor, each request's values at the
// start of every dim and zeros (empty strings) elsewhere, as TF Serving's pad_variable_length_inputs.
StatusOr<Tensor> MergeRaggedInput(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, int64_t padded_rows,
                                  const Shape& inner_max) {
  const Tensor& first = (*tasks.front()->inputs)[index];
  Shape shape = inner_max;
  shape.insert(shape.begin(), padded_rows);
  StatusOr<int64_t> count = ElementCount(shape, first.name());
  if (!count.ok()) return count.status();
  const bool strings = first.dtype() == DataType::kString;
  std::vector<std::string> string_values;
  Tensor merged;
  size_t element_size = 0;
  if (strings) {
    string_values.resize(static_cast<size_t>(*count));
  } else {
    StatusOr<Tensor> allocated = Tensor::Allocate(first.name(), first.dtype(), shape);
    if (!allocated.ok()) return allocated.status();
    merged = std::move(allocated).value();
    std::memset(merged.mutable_bytes().data(), 0, merged.mutable_bytes().size());
    element_size = ElementSize(first.dtype());
  }
  // Strides of the merged tensor, in elements.
  std::vector<int64_t> stride(shape.size(), 1);
  for (size_t d = shape.size() - 1; d > 0; --d) stride[d - 1] = stride[d] * shape[d];
  int64_t row_offset = 0;
  for (const std::shared_ptr<Task>& task : tasks) {
    const Tensor& tensor = (*task->inputs)[index];
    const Shape& source = tensor.shape();
    const int64_t run = source.back();  // the innermost dim is copied as one run
    int64_t runs = 1;
    for (size_t d = 0; d + 1 < source.size(); ++d) runs *= source[d];
    for (int64_t r = 0; r < runs; ++r) {
      // r as an index over source[0 .. rank-2], mapped to the merged tensor's element offset.
      int64_t rest = r;
      int64_t target = 0;
      for (size_t d = source.size() - 1; d > 0; --d) {
        const int64_t idx = rest % source[d - 1];
        rest /= source[d - 1];
        target += (d - 1 == 0 ? idx + row_offset : idx) * stride[d - 1];
      }
      const int64_t from = r * run;
      if (strings) {
        for (int64_t e = 0; e < run; ++e) {
          string_values[static_cast<size_t>(target + e)] = tensor.strings()[static_cast<size_t>(from + e)];
        }
      } else if (run > 0) {
        std::memcpy(merged.mutable_bytes().data() + static_cast<size_t>(target) * element_size,
                    tensor.bytes().data() + static_cast<size_t>(from) * element_size,
                    static_cast<size_t>(run) * element_size);
      }
    }
    row_offset += task->rows;
  }
  if (strings) return Tensor::FromStrings(first.name(), std::move(shape), std::move(string_values));
  return merged;
}

// Rows [row, row + rows) of `output`: a tensor that borrows them and keeps `owner` (the whole batch
// output) alive; STRING outputs are copied.
Tensor SliceRows(const Tensor& output, const std::shared_ptr<const Tensor>& owner, int64_t row, int64_t rows) {
  Shape shape = output.shape();
  const int64_t total_rows = shape[0];
  shape[0] = rows;
  if (output.dtype() == DataType::kString) {
    const size_t row_elements = output.strings().size() / static_cast<size_t>(total_rows);
    auto begin = output.strings().begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(row) * row_elements);
    std::vector<std::string> values(begin,
                                    begin + static_cast<std::ptrdiff_t>(static_cast<size_t>(rows) * row_elements));
    return Tensor::FromStrings(output.name(), std::move(shape), std::move(values));
  }
  const size_t row_bytes = output.bytes().size() / static_cast<size_t>(total_rows);
  std::span<const std::byte> bytes =
      output.bytes().subspan(static_cast<size_t>(row) * row_bytes, static_cast<size_t>(rows) * row_bytes);
  return Tensor::Borrow(output.name(), output.dtype(), std::move(shape), bytes, owner);
}

}  // namespace

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
    Status status = queue.session->Run(*task.inputs, *task.output_names, *task.context, &outputs);
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
  Status status = queue.session->Run(merged, *live.front()->output_names, context, &outputs);
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

// ---- BatchingSession --------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<BatchingSession>> BatchingSession::Create(std::shared_ptr<BatchScheduler> scheduler,
                                                                   BatchingSessionOptions options,
                                                                   std::unique_ptr<ModelSession> session) {
  SERVAL_RETURN_IF_ERROR(ValidateBatchingOptions(options.batching));
  auto shared = std::dynamic_pointer_cast<SharedBatchScheduler>(scheduler);
  if (shared == nullptr || session == nullptr)
    return InvalidArgument("BatchingSession needs a scheduler and a session");
  auto queue = std::make_unique<Queue>();
  queue->scheduler = std::move(shared);
  queue->options = std::move(options);
  queue->session = std::move(session);
  queue->scheduler->Add(queue.get());
  return std::unique_ptr<BatchingSession>(new BatchingSession(std::move(queue)));
}

BatchingSession::BatchingSession(std::unique_ptr<Queue> queue) : queue_(std::move(queue)) {}

BatchingSession::~BatchingSession() { queue_->scheduler->Remove(queue_.get()); }

const ModelSignature& BatchingSession::signature() const { return queue_->session->signature(); }
const std::string& BatchingSession::execution_provider() const { return queue_->session->execution_provider(); }
const BatchingStats& BatchingSession::stats() const { return queue_->stats; }
const BatchingOptions& BatchingSession::options() const { return queue_->options.batching; }

Status BatchingSession::Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
                            const RunContext& context, std::vector<Tensor>* outputs) const {
  Queue& queue = *queue_;
  const ModelSignature& signature = queue.session->signature();
  auto run_directly = [&] {
    queue.stats.direct_runs.fetch_add(1, std::memory_order_relaxed);
    return queue.session->Run(inputs, output_names, context, outputs);
  };
  if (!IsBatchable(signature) || inputs.size() != signature.inputs.size()) return run_directly();

  // Inputs in signature order (the batch thread merges by position), the rows they agree on, and the key
  // that says which requests can share a batch.
  const bool pad_variable = queue.options.batching.pad_variable_length_inputs;
  std::vector<Tensor> ordered;
  ordered.reserve(inputs.size());
  int64_t rows = -1;
  std::string key;
  for (const TensorSpec& spec : signature.inputs) {
    auto it = std::find_if(inputs.begin(), inputs.end(), [&spec](const Tensor& t) { return t.name() == spec.name; });
    if (it == inputs.end() || it->shape().empty()) return run_directly();
    if (rows == -1) rows = it->shape()[0];
    if (it->shape()[0] != rows) return run_directly();
    key += std::to_string(static_cast<int>(it->dtype()));
    for (size_t d = 1; d < it->shape().size(); ++d) {
      // With pad_variable_length_inputs, requests that differ only in variable dims share batches.
      const bool padded = pad_variable && d < spec.shape.size() && spec.shape[d] == -1;
      key += padded ? std::string(",?") : "," + std::to_string(it->shape()[d]);
    }
    key += ";";
    ordered.push_back(*it);
  }
  for (const std::string& name : output_names) key += name + ";";
  if (rows <= 0) return run_directly();
  if (rows > queue.options.batching.max_batch_size) {
    queue.stats.rejected_too_large.fetch_add(1, std::memory_order_relaxed);
    queue.scheduler->Reject(queue, BatchRejectReason::kTooLarge);
    // TF Serving's wording.
    return InvalidArgument("Task size " + std::to_string(rows) + " is larger than maximum input batch size " +
                           std::to_string(queue.options.batching.max_batch_size));
  }
  if (rows > queue.options.batching.ExecutionBatchLimit()) return run_directly();

  auto task = std::make_shared<Task>();
  task->inputs = &ordered;
  task->output_names = &output_names;
  task->context = &context;
  task->rows = rows;
  task->key = std::move(key);
  task->enqueued = Clock::now();
  SERVAL_RETURN_IF_ERROR(queue.scheduler->Enqueue(&queue, task));

  // Wait; wake at the deadline and every few ms when there is a client to probe, so that a request
  // nobody wants any more leaves the queue at once instead of when a batch thread reaches it.
  const bool probing = static_cast<bool>(context.client_gone);
  bool watching = !context.Unbounded();
  std::unique_lock<std::mutex> lock(task->mutex);
  while (!task->done) {
    if (!watching) {
      task->done_cv.wait(lock);
      continue;
    }
    Clock::time_point wake = context.deadline;
    if (probing) wake = std::min(wake, Clock::now() + kClientProbeInterval);
    if (task->done_cv.wait_until(lock, wake, [&task] { return task->done; })) break;
    CancelReason reason = context.Check();
    if (reason == CancelReason::kNone) continue;
    lock.unlock();
    const bool withdrawn = queue.scheduler->Withdraw(&queue, task.get());
    lock.lock();
    if (!withdrawn) {
      watching = false;  // a batch thread has it: the engine stops the run if the whole batch is unwanted
      continue;
    }
    if (reason == CancelReason::kDeadline) {
      queue.stats.expired_in_queue.fetch_add(1, std::memory_order_relaxed);
      queue.scheduler->Reject(queue, BatchRejectReason::kDeadline);
      return DeadlineExceeded("deadline exceeded while the request waited in the batch queue");
    }
    queue.stats.cancelled_in_queue.fetch_add(1, std::memory_order_relaxed);
    queue.scheduler->Reject(queue, BatchRejectReason::kClientGone);
    return Cancelled("the client went away while the request waited in the batch queue");
  }
  if (task->status.ok()) *outputs = std::move(task->outputs);
  return task->status;
}

StatusOr<std::unique_ptr<ModelSession>> WrapInBatchingSession(std::shared_ptr<BatchScheduler> scheduler,
                                                              BatchingSessionOptions options,
                                                              std::unique_ptr<ModelSession> session) {
  if (session == nullptr || !IsBatchable(session->signature())) return session;
  StatusOr<std::unique_ptr<BatchingSession>> wrapped =
      BatchingSession::Create(std::move(scheduler), std::move(options), std::move(session));
  if (!wrapped.ok()) return wrapped.status();
  return std::unique_ptr<ModelSession>(std::move(wrapped).value());
}

}  // namespace serval

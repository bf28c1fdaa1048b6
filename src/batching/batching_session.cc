#include "batching/batching_session.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <utility>

#include "batching/batch_queue.h"
#include "batching/batch_scheduler.h"

namespace serval {

using batching::Clock;
using batching::Task;

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

}  // namespace

StatusOr<std::unique_ptr<BatchingSession>> BatchingSession::Create(const std::shared_ptr<BatchScheduler>& scheduler,
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
const std::vector<SignatureDef>& BatchingSession::signature_defs() const { return queue_->session->signature_defs(); }
Status BatchingSession::RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                                     const std::vector<std::string>& output_names, const RunContext& context,
                                     std::vector<Tensor>* outputs) const {
  return queue_->session->RunSignature(signature_name, inputs, output_names, context, outputs);
}
const BatchingStats& BatchingSession::stats() const { return queue_->stats; }
const BatchingOptions& BatchingSession::options() const { return queue_->options.batching; }

Status BatchingSession::Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
                            const RunContext& context, std::vector<Tensor>* outputs) const {
  Queue& queue = *queue_;
  const ModelSignature& signature = queue.session->signature();
  auto run_directly = [&] {
    queue.stats.direct_runs.fetch_add(1, std::memory_order_relaxed);
    const Clock::time_point started = Clock::now();
    Status status = queue.session->Run(inputs, output_names, context, outputs);
    RecordExecution(queue, started, 1);
    return status;
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

StatusOr<std::unique_ptr<ModelSession>> WrapInBatchingSession(const std::shared_ptr<BatchScheduler>& scheduler,
                                                              BatchingSessionOptions options,
                                                              std::unique_ptr<ModelSession> session) {
  if (session == nullptr || !IsBatchable(session->signature())) return session;
  StatusOr<std::unique_ptr<BatchingSession>> wrapped =
      BatchingSession::Create(scheduler, std::move(options), std::move(session));
  if (!wrapped.ok()) return wrapped.status();
  return std::unique_ptr<ModelSession>(std::move(wrapped).value());
}

}  // namespace serval
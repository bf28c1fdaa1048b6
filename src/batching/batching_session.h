// The dynamic batcher: BatchingSession wraps one loaded model version's ModelSession and merges
// concurrent requests into one model run along dimension 0; a BatchScheduler owns the batch threads
// that every BatchingSession of the process shares (TF Serving's SharedBatchScheduler + BatchingSession).
//
// Flow of one request: the caller's thread enqueues it into its version's queue and blocks; a batch
// thread takes a batch (full, closed, or older than batch_timeout_micros), drops requests whose deadline
// passed or whose client went away (never run: DEADLINE_EXCEEDED / CANCELLED), copies the rest into one
// input per model input (padded up to the next allowed_batch_sizes entry by repeating the last row), runs
// the model once and hands each caller tensors that borrow its rows of the batch outputs (no copy; the
// batch outputs stay alive while any of them does). A caller whose deadline passes or whose client goes
// away while its request is still queued gets its error at once and its request is withdrawn.
//
// What is batched: a request is queued only when every model input and output has a variable leading
// dimension (-1) and the request's inputs agree on it. Requests are merged only with requests of the same
// dtypes, the same non-leading dimensions and the same requested outputs — except that with
// pad_variable_length_inputs, dims that are variable (-1) in the signature may differ: each input is then
// zero-padded (empty strings for STRING) to the largest size in the batch, and every request gets the
// padded width back (outputs are split along dim 0 only, as TF Serving does). When such padding would
// exceed 4x the real elements (or 256 Ki elements) the batch's requests run one by one. Everything else (and a request
// with 0 rows, or with more rows than one execution batch under enable_large_batch_splitting) runs
// directly on the caller's thread. A request with more rows than max_batch_size is INVALID_ARGUMENT.
//
// Bounds: at most max_enqueued_batches batches wait per model version; a request that fits in none and
// would need one more is rejected at once with UNAVAILABLE (memory never grows with offered load).
//
// Thread-safety: everything here may be called from any thread. An observer's methods are called from
// request and batch threads concurrently and must be thread-safe, cheap, and must not call back into the
// batcher.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "batching/batching_parameters.h"
#include "core/run_context.h"
#include "core/status.h"
#include "engine/engine.h"
#include "repository/triton_session.h"

namespace serval {

// Why a request left the batcher without running.
enum class BatchRejectReason {
  kQueueFull,   // UNAVAILABLE: max_enqueued_batches reached
  kTooLarge,    // INVALID_ARGUMENT: more rows than max_batch_size
  kDeadline,    // DEADLINE_EXCEEDED while queued
  kClientGone,  // CANCELLED while queued
  kShutdown,    // UNAVAILABLE: its BatchingSession was destroyed while it was queued
};
std::string_view BatchRejectReasonName(BatchRejectReason reason);  // "queue_full", "too_large", ...

// How the metrics layer learns what the batcher does, without the batcher depending on it. Default
// implementations do nothing.
class BatchingObserver {
 public:
  virtual ~BatchingObserver() = default;
  // A batch is about to run: `requests` requests with `rows` rows in all, padded to `padded_rows`.
  // `queue_micros` is how long its oldest request waited.
  virtual void OnBatch(std::string_view /*model*/, int64_t /*version*/, int /*requests*/, int64_t /*rows*/,
                       int64_t /*padded_rows*/, int64_t /*queue_micros*/) {}
  virtual void OnReject(std::string_view /*model*/, int64_t /*version*/, BatchRejectReason /*reason*/) {}
  // The number of requests waiting in the version's queue, after each change.
  virtual void OnQueueDepth(std::string_view /*model*/, int64_t /*version*/, int64_t /*queued_requests*/) {}
};

struct BatchSchedulerOptions {
  int num_batch_threads = 0;                   // 0 = the usable cores
  std::shared_ptr<BatchingObserver> observer;  // may be null
};

// The batch threads shared by all BatchingSessions. Create once per process (the server), pass to
// every NewBatchingSession. Sessions hold a reference, so the scheduler lives until the last of them is
// gone; its threads are joined when it is destroyed.
class BatchScheduler {
 public:
  static std::shared_ptr<BatchScheduler> Create(const BatchSchedulerOptions& options);
  virtual ~BatchScheduler() = default;
  virtual int num_batch_threads() const = 0;
};

// Counters of one BatchingSession; they only grow except queued_requests.
struct BatchingStats {
  std::atomic<uint64_t> batches{0};           // model runs of merged requests
  std::atomic<uint64_t> batched_requests{0};  // requests that ran in those
  std::atomic<uint64_t> padding_rows{0};      // rows added to reach an allowed batch size
  std::atomic<uint64_t> direct_runs{0};       // requests that ran alone on their caller's thread
  std::atomic<uint64_t> rejected_queue_full{0};
  std::atomic<uint64_t> rejected_too_large{0};
  std::atomic<uint64_t> expired_in_queue{0};    // deadline passed while queued: never ran
  std::atomic<uint64_t> cancelled_in_queue{0};  // client went away while queued: never ran
  std::atomic<uint64_t> shutdown_in_queue{0};
  std::atomic<int64_t> queued_requests{0};
};

struct BatchingSessionOptions {
  std::string model_name;  // for the observer
  int64_t version = 0;
  BatchingOptions batching;  // REQUIRES: ValidateBatchingOptions passed
  // When set, every model run adds one execution and its time (compute_infer_ns), and every request that
  // ran adds its time in the queue (queue_ns): Triton's per-version statistics.
  std::shared_ptr<TritonStatistics> stats_sink;
};

// True when requests for a model with this signature can be batched: every input and output has rank
// >= 1 and a variable leading dimension.
bool IsBatchable(const ModelSignature& signature);

class BatchingSession final : public ModelSession {
 public:
  // Wraps `session`. INVALID_ARGUMENT when options.batching does not validate.
  static StatusOr<std::unique_ptr<BatchingSession>> Create(const std::shared_ptr<BatchScheduler>& scheduler,
                                                           BatchingSessionOptions options,
                                                           std::unique_ptr<ModelSession> session);
  // Requests still queued fail with UNAVAILABLE; waits for batches of this session that are running.
  ~BatchingSession() override;
  BatchingSession(const BatchingSession&) = delete;
  BatchingSession& operator=(const BatchingSession&) = delete;

  const ModelSignature& signature() const override;
  const std::string& execution_provider() const override;
  bool waits_for_batch() const override { return true; }
  // Other signatures than the default one are not batched: they run directly on the wrapped session.
  const std::vector<SignatureDef>& signature_defs() const override;
  Status RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                      const std::vector<std::string>& output_names, const RunContext& context,
                      std::vector<Tensor>* outputs) const override;
  using ModelSession::Run;
  // Blocks until the request's result is ready. Errors: those of the wrapped session, and UNAVAILABLE
  // (queue full), INVALID_ARGUMENT (more rows than max_batch_size), DEADLINE_EXCEEDED / CANCELLED
  // (dropped while queued, or stopped while running when every request of its batch is past its deadline
  // or gone).
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext& context,
             std::vector<Tensor>* outputs) const override;

  const BatchingStats& stats() const;
  const BatchingOptions& options() const;

  struct Queue;  // private to batching_session.cc

 private:
  explicit BatchingSession(std::unique_ptr<Queue> queue);
  std::unique_ptr<Queue> queue_;
};

// The wrap_session hook's work: the session unchanged when its signature cannot batch (IsBatchable),
// else a BatchingSession around it.
StatusOr<std::unique_ptr<ModelSession>> WrapInBatchingSession(const std::shared_ptr<BatchScheduler>& scheduler,
                                                              BatchingSessionOptions options,
                                                              std::unique_ptr<ModelSession> session);

}  // namespace serval

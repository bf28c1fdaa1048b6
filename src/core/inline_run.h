// Inline runs: when a short model call may run on the thread that received it (a gRPC callback thread, a
// REST io thread) instead of being handed to a worker pool and back. On a small machine the two thread
// wake-ups of a hand-off cost more than a tiny model's run; for such calls the surface runs the model where
// the request arrived. The one rule, for every surface:
//
//   a call runs inline only when the gate is on (max_run_micros > 0), its body is at most max_body_bytes,
//   its model version does not wait for a batch to fill (batching sessions, Triton dynamic batching), the
//   version's recent run time is known (RunTimeEstimate: at least kMinSamples runs) and at most
//   max_run_micros, and one of the gate's max_concurrent inline slots is free. Otherwise the call is handed
//   off exactly as without the gate.
//
// The cap keeps the receiving threads answering: at most max_concurrent receiving threads run models at
// once, so health probes and other connections are still read and answered by the rest; a long model is
// never inline (its estimate is over the threshold), and a short one blocks its thread for about
// max_run_micros at most.
//
// How a surface uses it: it opens an InlineAttempt (a scope, current on the thread) and runs the whole call
// on the receiving thread. The serving frontend asks InlineAttempt::Current()->Admit(...) once it knows the
// model version, right before the model would run. A refused attempt is `deferred()`: the call stopped
// there without running anything and without answering, and the surface hands the whole call to a worker,
// which does it again from the start (parsing a small body twice is the price of not knowing the model
// before parsing). The same deadline, cancellation, memory-budget and metrics code runs either way.
// Thread-safe (InlineAttempt: one thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace serval {

// The recent run time of one model version: an exponentially weighted moving average (weight 1/8 per
// run) of the run times recorded. Unknown until kMinSamples runs were recorded. Lock-free; concurrent
// records may lose one another's update (an estimate, not a counter).
class RunTimeEstimate {
 public:
  static constexpr uint32_t kMinSamples = 3;

  void Record(std::chrono::nanoseconds run);
  // The estimate in microseconds; nullopt while fewer than kMinSamples runs were recorded.
  std::optional<int64_t> micros() const;

 private:
  std::atomic<int64_t> ewma_ns_{0};
  std::atomic<uint32_t> samples_{0};
};

struct InlinePolicy {
  int64_t max_run_micros = 0;        // 0 = never inline
  size_t max_body_bytes = 64 << 10;  // request body as received
  int max_concurrent = 1;            // inline runs at once on this surface; 0 = never inline
};

// Why a call is (not) run inline; kInline is the only yes.
enum class InlineVerdict { kInline, kOff, kBodyTooLarge, kBatched, kRunTimeUnknown, kTooSlow, kNoSlot };

// The decision without the slot: everything but the cap. Pure.
InlineVerdict DecideInline(const InlinePolicy& policy, size_t body_bytes, bool waits_for_batch,
                           std::optional<int64_t> recent_run_micros);

// One surface's gate: the policy and its inline slots.
class InlineGate {
 public:
  explicit InlineGate(InlinePolicy policy) : policy_(policy) {}
  InlineGate(const InlineGate&) = delete;
  InlineGate& operator=(const InlineGate&) = delete;

  const InlinePolicy& policy() const { return policy_; }
  // True when a call with a body of `body_bytes` may be tried inline at all (cheap pre-check, no slot).
  bool MayTry(size_t body_bytes) const {
    return policy_.max_run_micros > 0 && policy_.max_concurrent > 0 && body_bytes <= policy_.max_body_bytes;
  }
  // Takes a slot when one is free.
  bool TryTakeSlot();
  void ReleaseSlot() { in_use_.fetch_sub(1, std::memory_order_acq_rel); }
  int slots_in_use() const { return in_use_.load(std::memory_order_relaxed); }

  // Calls run inline / attempts deferred to a worker, since start.
  uint64_t inlined() const { return inlined_.load(std::memory_order_relaxed); }
  uint64_t deferred() const { return deferred_.load(std::memory_order_relaxed); }

 private:
  friend class InlineAttempt;
  const InlinePolicy policy_;
  std::atomic<int> in_use_{0};
  std::atomic<uint64_t> inlined_{0};
  std::atomic<uint64_t> deferred_{0};
};

// One call tried inline on the calling thread: current from construction to destruction (attempts do not
// nest: an inner one would be a bug). Holds its slot, when Admit took one, until destroyed.
class InlineAttempt {
 public:
  InlineAttempt(InlineGate& gate, size_t body_bytes);
  ~InlineAttempt();
  InlineAttempt(const InlineAttempt&) = delete;
  InlineAttempt& operator=(const InlineAttempt&) = delete;

  // The attempt on this thread; null on workers and outside attempts.
  static InlineAttempt* Current();

  // Called right before a model version runs: true = run it here. The first call decides (and takes a
  // slot); later calls of the same attempt (a MultiInference's tasks) repeat the answer. False makes the
  // attempt deferred: the caller must stop without side effects the retry would repeat wrongly.
  bool Admit(bool waits_for_batch, std::optional<int64_t> recent_run_micros);
  bool deferred() const { return decided_ && !admitted_; }
  InlineVerdict verdict() const { return verdict_; }

 private:
  InlineGate& gate_;
  const size_t body_bytes_;
  bool decided_ = false;
  bool admitted_ = false;
  InlineVerdict verdict_ = InlineVerdict::kOff;
};

}  // namespace serval

#include "core/inline_run.h"

namespace serval {
namespace {

thread_local InlineAttempt* current_attempt = nullptr;

}  // namespace

void RunTimeEstimate::Record(std::chrono::nanoseconds run) {
  const int64_t sample = run.count() < 0 ? 0 : run.count();
  const uint32_t seen = samples_.load(std::memory_order_relaxed);
  const int64_t old = ewma_ns_.load(std::memory_order_relaxed);
  // The first run sets the average; each later one moves it 1/8 of the way.
  ewma_ns_.store(seen == 0 ? sample : old + (sample - old) / 8, std::memory_order_relaxed);
  if (seen < kMinSamples) samples_.store(seen + 1, std::memory_order_release);
}

std::optional<int64_t> RunTimeEstimate::micros() const {
  if (samples_.load(std::memory_order_acquire) < kMinSamples) return std::nullopt;
  return ewma_ns_.load(std::memory_order_relaxed) / 1000;
}

InlineVerdict DecideInline(const InlinePolicy& policy, size_t body_bytes, bool waits_for_batch,
                           std::optional<int64_t> recent_run_micros) {
  if (policy.max_run_micros <= 0 || policy.max_concurrent <= 0) return InlineVerdict::kOff;
  if (body_bytes > policy.max_body_bytes) return InlineVerdict::kBodyTooLarge;
  if (waits_for_batch) return InlineVerdict::kBatched;
  if (!recent_run_micros.has_value()) return InlineVerdict::kRunTimeUnknown;
  if (*recent_run_micros > policy.max_run_micros) return InlineVerdict::kTooSlow;
  return InlineVerdict::kInline;
}

bool InlineGate::TryTakeSlot() {
  int used = in_use_.load(std::memory_order_relaxed);
  while (used < policy_.max_concurrent) {
    if (in_use_.compare_exchange_weak(used, used + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

InlineAttempt::InlineAttempt(InlineGate& gate, size_t body_bytes) : gate_(gate), body_bytes_(body_bytes) {
  current_attempt = this;
}

InlineAttempt::~InlineAttempt() {
  current_attempt = nullptr;
  if (admitted_) gate_.ReleaseSlot();
}

InlineAttempt* InlineAttempt::Current() { return current_attempt; }

bool InlineAttempt::Admit(bool waits_for_batch, std::optional<int64_t> recent_run_micros) {
  if (decided_) return admitted_;
  decided_ = true;
  verdict_ = DecideInline(gate_.policy(), body_bytes_, waits_for_batch, recent_run_micros);
  if (verdict_ == InlineVerdict::kInline && !gate_.TryTakeSlot()) verdict_ = InlineVerdict::kNoSlot;
  admitted_ = verdict_ == InlineVerdict::kInline;
  (admitted_ ? gate_.inlined_ : gate_.deferred_).fetch_add(1, std::memory_order_relaxed);
  return admitted_;
}

}  // namespace serval

// RunContext: what one inference's caller knows about how long its answer is wanted — a deadline, and a
// probe that says whether the client has gone away. It travels from the api layer through the batcher
// into the engine, which never starts a run whose deadline has passed and stops (ORT run-terminate) a
// run whose deadline passes or whose client goes away while it runs.
//
// Thread-safety: a RunContext is read, never written, once handed to a run. `client_gone` is called
// from other threads (the engine's watchdog, batch threads, the waiting caller) while the run is in
// flight, every few milliseconds: it must be thread-safe, cheap and must not block.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "core/status.h"

namespace serval {

using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// Why a run was not started or was stopped.
enum class CancelReason { kNone, kDeadline, kClientGone };

struct RunContext {
  Deadline deadline = kNoDeadline;
  // True once the client that asked is gone (HTTP: the connection closed; gRPC:
  // ServerContext::IsCancelled()). Empty = the client never goes away. REQUIRES: callable until the call
  // that received this context returns (the caller blocks until then, so capturing its locals is fine).
  std::function<bool()> client_gone;

  // True when neither a deadline nor a probe is set: nothing can cancel the run.
  bool Unbounded() const { return deadline == kNoDeadline && !client_gone; }
  // The deadline is checked first: a client that timed out is reported as a timeout.
  CancelReason Check(Deadline now = std::chrono::steady_clock::now()) const {
    if (now >= deadline) return CancelReason::kDeadline;
    if (client_gone && client_gone()) return CancelReason::kClientGone;
    return CancelReason::kNone;
  }
};

// DEADLINE_EXCEEDED or CANCELLED with `message` (OK for kNone).
Status CancelStatus(CancelReason reason, std::string_view message);

}  // namespace serval

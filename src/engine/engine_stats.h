// EngineStats: process-wide counters of model runs, for the metrics layer to read. ORT-free, lock-free;
// every counter only grows. One object per process because ORT keeps one environment per process and
// every Engine and session shares it.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/run_context.h"
#include "core/status.h"

namespace serval {

struct EngineStats {
  std::atomic<uint64_t> runs_started{0};    // handed to ONNX Runtime
  std::atomic<uint64_t> runs_completed{0};  // returned outputs
  std::atomic<uint64_t> runs_failed{0};     // returned an error other than a cancellation
  // Stopped while running (RunOptions terminate), by reason.
  std::atomic<uint64_t> runs_cancelled_deadline{0};
  std::atomic<uint64_t> runs_cancelled_client_gone{0};
  // Never started: the deadline had passed or the client was gone when the run was asked for.
  std::atomic<uint64_t> expired_before_run{0};
  std::atomic<uint64_t> client_gone_before_run{0};
};

// The process's counters (never destroyed).
EngineStats& GlobalEngineStats();

// Every engine's check before it starts a run: DEADLINE_EXCEEDED when the deadline has passed, CANCELLED
// when the client is gone (counted in expired_before_run / client_gone_before_run), OK otherwise.
Status CheckBeforeRun(const RunContext& context);

}  // namespace serval

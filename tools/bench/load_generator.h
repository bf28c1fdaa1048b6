// The load loop of serval-bench. Worker threads, each with its own Client, drive one Target:
//   closed loop: each worker sends its next request when the previous answer arrived (N outstanding);
//   open loop:   requests are scheduled at a fixed rate (constant or Poisson gaps); a worker takes the next
//                scheduled slot, sleeps until it, sends, and the latency is measured from the SCHEDULED
//                time (no coordinated omission, as wrk2/LoadGen). `concurrency` caps outstanding requests.
// Time is split into windows; warm-up is excluded. The run ends after a fixed duration, a request count,
// or when the last `stable_windows` windows agree within `stability` (perf_analyzer's rule), whichever
// comes first, bounded by max_windows. Raw latencies are kept (bounded by max_samples) for percentiles.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench_stats.h"
#include "targets.h"

namespace serval::bench {

struct LoadOptions {
  int concurrency = 1;
  double rate = 0;       // requests/s; 0 = closed loop
  bool poisson = false;  // open loop: exponential gaps instead of constant ones
  double warmup_s = 2;
  double window_s = 1;
  double duration_s = 0;  // > 0: measure exactly this long (windows still reported), no stability stop
  int64_t requests = 0;   // > 0: stop after this many measured requests
  int stable_windows = 3;
  double stability = 0.10;
  int max_windows = 10;   // stability mode: give up (stable=false) after this many windows
  int check_every = 100;  // check outputs on every Nth response of each worker (and its first)
  int64_t max_samples = 10'000'000;
  uint64_t seed = 1;
  pid_t server_pid = 0;   // sampled from /proc; 0 = none. For inprocess pass getpid().
  bool progress = false;  // a progress line per window on stderr
};

struct LoadResult {
  int concurrency = 0;
  double target_rate = 0;
  double seconds = 0;         // measured time (windows counted)
  int64_t completed = 0;      // successful requests counted
  int64_t errors = 0;         // failed requests (any phase, including warm-up)
  int64_t checked = 0;        // responses whose outputs were compared (any phase)
  int64_t wrong_answers = 0;  // of those, how many differed
  std::string first_error;
  double throughput = 0;
  LatencySummary latency;
  bool stable = false;
  std::vector<WindowStats> windows;
  // Open loop: share of requests sent more than 1 ms (or one gap, if larger) after their scheduled time,
  // and the achieved rate. valid = late share ≤ 1 % and achieved ≥ 99 % of target.
  double late_fraction = 0;
  double achieved_rate = 0;
  bool valid = true;
  std::string invalid_reason;
  double client_cpu_percent = 0;  // this process's CPU (user+sys) over the measured time, % of one core
  bool server_sampled = false;
  double server_cpu_percent = 0;  // the server's, same span
  double server_cpu_us_per_request = 0;
  ProcessSample server_after_warmup;
  ProcessSample server_after_run;
};

// Runs one load point. Errors (a client that cannot connect, a bad option) come back as a Status; failed
// requests during the run are counted in the result, not returned as errors.
StatusOr<LoadResult> RunLoad(Target* target, const LoadOptions& options);

}  // namespace serval::bench

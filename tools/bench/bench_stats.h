// Statistics for serval-bench: latency percentiles over raw samples, perf_analyzer's window stability rule,
// and CPU/memory readings of a process from /proc. Pure functions except the /proc readers; no threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace serval::bench {

struct LatencySummary {
  int64_t count = 0;
  double mean_us = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, min_us = 0;
};

// Summarizes latencies given in nanoseconds. Sorts `samples_ns` in place. Percentile p is the sample at
// rank ceil(p × n) (nearest-rank: a reported p99 was really observed). All zero for an empty input.
LatencySummary Summarize(std::vector<int64_t>* samples_ns);

// One measurement window: requests that completed in it and their latency.
struct WindowStats {
  double seconds = 0;
  int64_t completed = 0;
  double throughput = 0;  // completed / seconds
  double p50_us = 0;
  double mean_us = 0;
};

// perf_analyzer's stability rule: the last `count` windows each have completions, and for throughput and
// for mean latency max/min ≤ 1 + tolerance. False with fewer than `count` windows.
bool LastWindowsStable(const std::vector<WindowStats>& windows, int count, double tolerance);

// CPU time and memory of one process, as /proc shows it.
struct ProcessSample {
  double cpu_seconds = 0;  // utime + stime of all its threads
  int64_t vm_rss_kb = 0;
  int64_t vm_hwm_kb = 0;
  int64_t threads = 0;
};

// Reads /proc/<pid>/stat and /proc/<pid>/status. NOT_FOUND when the process is gone.
StatusOr<ProcessSample> ReadProcess(pid_t pid);

// Parses the text of /proc/<pid>/stat (the command name may contain spaces and parentheses) and of
// /proc/<pid>/status into `out`. `ticks_per_second` converts utime/stime. INVALID_ARGUMENT on malformed text.
Status ParseProcStat(const std::string& stat_text, double ticks_per_second, ProcessSample* out);
Status ParseProcStatus(const std::string& status_text, ProcessSample* out);

}  // namespace serval::bench

// ProcessStats: this process's resident memory, threads and CPU time, read from /proc/self at the moment of
// the call (Linux). Meant for scrape time, not the request path: one read of /proc/self/stat.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace serval::metrics {

struct ProcessStats {
  uint64_t resident_memory_bytes = 0;
  uint64_t virtual_memory_bytes = 0;
  uint64_t threads = 0;
  double cpu_seconds = 0;  // user + system
  uint64_t open_fds = 0;   // entries of /proc/self/fd; 0 if it cannot be listed
};

// Reads /proc/self/stat (and counts /proc/self/fd). UNAVAILABLE if /proc cannot be read.
StatusOr<ProcessStats> ReadProcessStats();

// Parses the text of a /proc/<pid>/stat file. INVALID_ARGUMENT when it does not have the fields.
// `page_size` and `ticks_per_second` convert rss and utime/stime.
StatusOr<ProcessStats> ParseProcStat(std::string_view text, uint64_t page_size, uint64_t ticks_per_second);

}  // namespace serval::metrics

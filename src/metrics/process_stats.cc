#include "metrics/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace serval::metrics {
namespace {

uint64_t CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t count = 0;
  // Bounded: a process has at most RLIMIT_NOFILE descriptors.
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;  // not the descriptor opendir itself holds
}

}  // namespace

StatusOr<ProcessStats> ParseProcStat(std::string_view text, uint64_t page_size, uint64_t ticks_per_second) {
  // Field 2 (comm) is in parentheses and may itself hold spaces or ')': the fields we want follow the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return InvalidArgument("/proc stat text has no ')'");
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  size_t pos = close + 1;
  while (pos < text.size() && fields.size() < 64) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) ++pos;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n') ++end;
    if (end > pos) fields.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  // Field numbers (man 5 proc): utime 14, stime 15, num_threads 20, vsize 23, rss 24.
  auto field = [&](int number, uint64_t* value) {
    size_t index = static_cast<size_t>(number - 3);
    if (index >= fields.size()) return false;
    std::string_view f = fields[index];
    auto result = std::from_chars(f.data(), f.data() + f.size(), *value);
    return result.ec == std::errc() && result.ptr == f.data() + f.size();
  };
  uint64_t utime = 0, stime = 0, threads = 0, vsize = 0, rss = 0;
  if (!field(14, &utime) || !field(15, &stime) || !field(20, &threads) || !field(23, &vsize) || !field(24, &rss)) {
    return InvalidArgument("/proc stat text lacks the expected fields");
  }
  ProcessStats stats;
  stats.resident_memory_bytes = rss * page_size;
  stats.virtual_memory_bytes = vsize;
  stats.threads = threads;
  stats.cpu_seconds =
      ticks_per_second > 0 ? static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second) : 0;
  return stats;
}

StatusOr<ProcessStats> ReadProcessStats() {
  std::ifstream file("/proc/self/stat");
  if (!file) return Unavailable("cannot read /proc/self/stat");
  std::stringstream text;
  text << file.rdbuf();
  long page_size = sysconf(_SC_PAGESIZE);
  long ticks = sysconf(_SC_CLK_TCK);
  StatusOr<ProcessStats> stats = ParseProcStat(text.str(), page_size > 0 ? static_cast<uint64_t>(page_size) : 4096,
                                               ticks > 0 ? static_cast<uint64_t>(ticks) : 100);
  if (!stats.ok()) return Unavailable(stats.status().message());
  stats->open_fds = CountOpenFds();
  return stats;
}

}  // namespace serval::metrics

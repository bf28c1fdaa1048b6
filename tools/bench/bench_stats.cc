#include "bench_stats.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace serval::bench {

namespace {

double AtRank(const std::vector<int64_t>& sorted, double p) {
  const size_t n = sorted.size();
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

}  // namespace

LatencySummary Summarize(std::vector<int64_t>* samples_ns) {
  LatencySummary s;
  if (samples_ns->empty()) return s;
  std::sort(samples_ns->begin(), samples_ns->end());
  const auto& v = *samples_ns;
  s.count = static_cast<int64_t>(v.size());
  long double sum = 0;
  for (int64_t x : v) sum += x;
  s.mean_us = static_cast<double>(sum / v.size()) / 1000.0;
  s.p50_us = AtRank(v, 0.50);
  s.p90_us = AtRank(v, 0.90);
  s.p99_us = AtRank(v, 0.99);
  s.p999_us = AtRank(v, 0.999);
  s.min_us = static_cast<double>(v.front()) / 1000.0;
  s.max_us = static_cast<double>(v.back()) / 1000.0;
  return s;
}

bool LastWindowsStable(const std::vector<WindowStats>& windows, int count, double tolerance) {
  if (count <= 0 || windows.size() < static_cast<size_t>(count)) return false;
  double tmin = 0, tmax = 0, lmin = 0, lmax = 0;
  for (size_t i = windows.size() - count; i < windows.size(); ++i) {
    const WindowStats& w = windows[i];
    if (w.completed <= 0 || w.throughput <= 0 || w.mean_us <= 0) return false;
    if (i == windows.size() - count) {
      tmin = tmax = w.throughput;
      lmin = lmax = w.mean_us;
    }
    tmin = std::min(tmin, w.throughput);
    tmax = std::max(tmax, w.throughput);
    lmin = std::min(lmin, w.mean_us);
    lmax = std::max(lmax, w.mean_us);
  }
  return tmax <= tmin * (1 + tolerance) && lmax <= lmin * (1 + tolerance);
}

Status ParseProcStat(const std::string& stat_text, double ticks_per_second, ProcessSample* out) {
  // "pid (comm) state ppid ..." — comm may hold ") ", so fields are counted after the LAST ')'.
  const size_t close = stat_text.rfind(')');
  if (close == std::string::npos || ticks_per_second <= 0) return InvalidArgument("malformed /proc stat text");
  std::istringstream fields(stat_text.substr(close + 1));
  std::string field;
  // After ')': field 3 (state) is the first; utime and stime are fields 14 and 15.
  double utime = -1, stime = -1;
  for (int index = 3; index <= 15 && (fields >> field); ++index) {
    if (index == 14) utime = std::strtod(field.c_str(), nullptr);
    if (index == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  if (utime < 0 || stime < 0) return InvalidArgument("malformed /proc stat text: no utime/stime");
  out->cpu_seconds = (utime + stime) / ticks_per_second;
  return Status::Ok();
}

Status ParseProcStatus(const std::string& status_text, ProcessSample* out) {
  std::istringstream lines(status_text);
  std::string line;
  bool rss = false;
  while (std::getline(lines, line)) {
    auto value = [&](const char* key, int64_t* dst) {
      const std::string k = key;
      if (line.compare(0, k.size(), k) != 0) return false;
      *dst = std::strtoll(line.c_str() + k.size(), nullptr, 10);
      return true;
    };
    if (value("VmRSS:", &out->vm_rss_kb)) rss = true;
    value("VmHWM:", &out->vm_hwm_kb);
    value("Threads:", &out->threads);
  }
  if (!rss) return InvalidArgument("malformed /proc status text: no VmRSS");
  return Status::Ok();
}

StatusOr<ProcessSample> ReadProcess(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string stat, status;
  if (!ReadFile(dir + "/stat", &stat) || !ReadFile(dir + "/status", &status)) {
    return NotFound("process " + std::to_string(pid) + " is gone");
  }
  ProcessSample sample;
  SERVAL_RETURN_IF_ERROR(ParseProcStat(stat, static_cast<double>(sysconf(_SC_CLK_TCK)), &sample));
  SERVAL_RETURN_IF_ERROR(ParseProcStatus(status, &sample));
  return sample;
}

}  // namespace serval::bench

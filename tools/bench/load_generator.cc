#include "load_generator.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace serval::bench {

namespace {

using Clock = std::chrono::steady_clock;

int64_t Nanos(Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Hands out scheduled send times for the open loop. Shared by the workers.
class Schedule {
 public:
  Schedule(Clock::time_point start, double rate, bool poisson, uint64_t seed)
      : next_(start), mean_gap_ns_(1e9 / rate), poisson_(poisson), rng_(seed) {}
  Clock::time_point Next() {
    std::lock_guard lock(mu_);
    const Clock::time_point slot = next_;
    double gap = mean_gap_ns_;
    if (poisson_) gap = std::exponential_distribution<double>(1.0 / mean_gap_ns_)(rng_);
    next_ += std::chrono::nanoseconds(static_cast<int64_t>(gap));
    return slot;
  }
  double mean_gap_ns() const { return mean_gap_ns_; }

 private:
  std::mutex mu_;
  Clock::time_point next_;
  double mean_gap_ns_;
  bool poisson_;
  std::mt19937_64 rng_;
};

// What a worker records; drained by the main thread at each window boundary.
struct WorkerLog {
  std::mutex mu;
  std::vector<int64_t> latencies_ns;
  int64_t errors = 0;
  int64_t checked = 0;
  int64_t wrong = 0;
  int64_t sent = 0;
  int64_t late = 0;
  std::string first_error;
};

struct Drained {
  std::vector<int64_t> latencies_ns;
  int64_t sent = 0, late = 0;
};

}  // namespace

StatusOr<LoadResult> RunLoad(Target* target, const LoadOptions& options) {
  if (options.concurrency < 1 || options.concurrency > 4096) return InvalidArgument("concurrency must be 1..4096");
  if (options.rate < 0 || options.window_s <= 0 || options.warmup_s < 0) {
    return InvalidArgument("rate, window and warm-up must not be negative (window > 0)");
  }
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < options.concurrency; ++i) {
    auto client = target->NewClient(i);
    if (!client.ok()) return client.status();
    clients.push_back(std::move(client).value());
  }

  std::vector<std::unique_ptr<WorkerLog>> logs;
  for (int i = 0; i < options.concurrency; ++i) logs.push_back(std::make_unique<WorkerLog>());
  std::atomic<bool> stop{false};
  const Clock::time_point start = Clock::now();
  const bool open_loop = options.rate > 0;
  Schedule schedule(start, open_loop ? options.rate : 1.0, options.poisson, options.seed);
  const int64_t late_threshold_ns =
      open_loop ? std::max<int64_t>(1'000'000, static_cast<int64_t>(schedule.mean_gap_ns())) : 0;

  auto worker = [&](int index) {
    Client* client = clients[index].get();
    WorkerLog& log = *logs[index];
    const int check_every = std::max(1, options.check_every);
    for (int64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
      Clock::time_point scheduled;
      bool late = false;
      if (open_loop) {
        scheduled = schedule.Next();
        // Sleep in short slices so that a stop request is seen promptly.
        while (!stop.load(std::memory_order_relaxed)) {
          const auto now = Clock::now();
          if (now >= scheduled) break;
          std::this_thread::sleep_for(std::min<Clock::duration>(scheduled - now, std::chrono::milliseconds(20)));
        }
        if (stop.load(std::memory_order_relaxed)) break;
        late = Nanos(Clock::now() - scheduled) > late_threshold_ns;
      } else {
        scheduled = Clock::now();
      }
      const bool check = n % check_every == 0;
      Status status = client->Call(check);
      const int64_t latency = Nanos(Clock::now() - scheduled);
      std::lock_guard lock(log.mu);
      ++log.sent;
      log.late += late;
      if (check) ++log.checked;
      if (!status.ok()) {
        ++log.errors;
        if (status.message().rfind("wrong answer", 0) == 0) ++log.wrong;
        if (log.first_error.empty()) log.first_error = status.ToString();
      } else if (static_cast<int64_t>(log.latencies_ns.size()) < options.max_samples / options.concurrency) {
        log.latencies_ns.push_back(latency);
      }
    }
  };

  auto drain = [&]() {
    Drained d;
    for (auto& log : logs) {
      std::lock_guard lock(log->mu);
      d.latencies_ns.insert(d.latencies_ns.end(), log->latencies_ns.begin(), log->latencies_ns.end());
      log->latencies_ns.clear();
      d.sent += log->sent;
      d.late += log->late;
      log->sent = log->late = 0;
    }
    return d;
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) threads.emplace_back(worker, i);

  LoadResult result;
  result.concurrency = options.concurrency;
  result.target_rate = options.rate;

  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_s));
  drain();  // warm-up samples are discarded
  if (options.server_pid > 0) {
    auto sample = ReadProcess(options.server_pid);
    if (sample.ok()) {
      result.server_after_warmup = *sample;
      result.server_sampled = true;
    }
  }
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point measure_start = Clock::now();

  std::vector<std::vector<int64_t>> window_samples;
  int64_t measured = 0, sent = 0, late = 0;
  const int max_windows = options.duration_s > 0
                              ? std::max(1, static_cast<int>(std::ceil(options.duration_s / options.window_s)))
                              : std::max(options.max_windows, options.stable_windows);
  Clock::time_point window_start = measure_start;
  for (int w = 0; w < max_windows; ++w) {
    double length = options.window_s;
    if (options.duration_s > 0) length = std::min(length, options.duration_s - w * options.window_s);
    const Clock::time_point window_end = window_start + std::chrono::nanoseconds(static_cast<int64_t>(length * 1e9));
    // Poll so that a request-count target stops the run promptly.
    while (Clock::now() < window_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (options.requests > 0) {
        int64_t done = 0;
        for (auto& log : logs) {
          std::lock_guard lock(log->mu);
          done += static_cast<int64_t>(log->latencies_ns.size());
        }
        if (measured + done >= options.requests) break;
      }
    }
    const Clock::time_point now = Clock::now();
    Drained d = drain();
    WindowStats ws;
    ws.seconds = std::chrono::duration<double>(now - window_start).count();
    ws.completed = static_cast<int64_t>(d.latencies_ns.size());
    ws.throughput = ws.seconds > 0 ? ws.completed / ws.seconds : 0;
    std::vector<int64_t> copy = d.latencies_ns;
    const LatencySummary s = Summarize(&copy);
    ws.p50_us = s.p50_us;
    ws.mean_us = s.mean_us;
    result.windows.push_back(ws);
    window_samples.push_back(std::move(d.latencies_ns));
    measured += ws.completed;
    sent += d.sent;
    late += d.late;
    window_start = now;
    if (options.progress) {
      std::fprintf(stderr, "\r  window %2d: %10.1f req/s  p50 %9.1f us  mean %9.1f us   ", w + 1, ws.throughput,
                   ws.p50_us, ws.mean_us);
      std::fflush(stderr);
    }
    if (options.requests > 0 && measured >= options.requests) break;
    if (options.duration_s <= 0 && options.requests <= 0 &&
        LastWindowsStable(result.windows, options.stable_windows, options.stability)) {
      break;
    }
  }
  const Clock::time_point measure_end = Clock::now();
  const double cpu_end = ProcessCpuSeconds();
  if (options.server_pid > 0) {
    auto sample = ReadProcess(options.server_pid);
    if (sample.ok())
      result.server_after_run = *sample;
    else
      result.server_sampled = false;
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  if (options.progress) std::fprintf(stderr, "\n");

  result.stable = LastWindowsStable(result.windows, options.stable_windows, options.stability);
  // In stability mode the result is the stable tail (as perf_analyzer reports it); otherwise all windows.
  size_t first = 0;
  if (options.duration_s <= 0 && options.requests <= 0 && result.stable) {
    first = result.windows.size() - static_cast<size_t>(options.stable_windows);
  }
  std::vector<int64_t> all;
  for (size_t w = first; w < window_samples.size(); ++w) {
    all.insert(all.end(), window_samples[w].begin(), window_samples[w].end());
    result.seconds += result.windows[w].seconds;
  }
  result.completed = static_cast<int64_t>(all.size());
  result.latency = Summarize(&all);
  result.throughput = result.seconds > 0 ? result.completed / result.seconds : 0;
  for (auto& log : logs) {
    result.errors += log->errors;
    result.checked += log->checked;
    result.wrong_answers += log->wrong;
    if (result.first_error.empty()) result.first_error = log->first_error;
  }
  const double measured_s = std::chrono::duration<double>(measure_end - measure_start).count();
  if (measured_s > 0) {
    result.client_cpu_percent = 100.0 * (cpu_end - cpu_start) / measured_s;
    if (result.server_sampled) {
      const double server_cpu = result.server_after_run.cpu_seconds - result.server_after_warmup.cpu_seconds;
      result.server_cpu_percent = 100.0 * server_cpu / measured_s;
      if (measured > 0) result.server_cpu_us_per_request = 1e6 * server_cpu / static_cast<double>(measured);
    }
  }
  if (open_loop) {
    result.achieved_rate = measured_s > 0 ? static_cast<double>(sent) / measured_s : 0;
    result.late_fraction = sent > 0 ? static_cast<double>(late) / static_cast<double>(sent) : 0;
    if (result.late_fraction > 0.01) {
      result.valid = false;
      result.invalid_reason = "fell behind schedule: " + std::to_string(result.late_fraction * 100) + " % late";
    } else if (result.achieved_rate < 0.99 * options.rate) {
      result.valid = false;
      result.invalid_reason = "achieved rate below 99 % of target";
    }
  }
  return result;
}

}  // namespace serval::bench

#include "metrics/serving_metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <mutex>

#include "core/memory_budget.h"
#include "metrics/process_stats.h"

namespace serval::metrics {
namespace {

// A version label: decimal, or empty when no version was resolved. Fits any int64.
struct VersionLabel {
  explicit VersionLabel(int64_t version) {
    if (version > 0)
      size = static_cast<size_t>(std::to_chars(buf.data(), buf.data() + buf.size(), version).ptr - buf.data());
  }
  std::string_view view() const { return {buf.data(), size}; }
  std::array<char, 24> buf{};
  size_t size = 0;
};

double Micros(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e3; }
double Seconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }
uint64_t Nanos(std::chrono::nanoseconds d) { return d.count() > 0 ? static_cast<uint64_t>(d.count()) : 0; }

// Latency buckets in seconds for Serval's own histograms: 50 µs to 60 s.
const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,     0.25,   0.5,     1,      2.5,   5,      10,    30,   60};
  return kBounds;
}

}  // namespace

std::string_view ProtocolName(Protocol protocol) { return protocol == Protocol::kGrpc ? "grpc" : "rest"; }

namespace {
std::string_view TfsEntrypoint(Protocol protocol) { return protocol == Protocol::kGrpc ? "GRPC" : "REST"; }
}  // namespace

struct ServingMetrics::StatsCell {
  struct Duration {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> ns{0};
    void Add(uint64_t nanos) {
      count.fetch_add(1, std::memory_order_relaxed);
      ns.fetch_add(nanos, std::memory_order_relaxed);
    }
    DurationStat Read() const { return {count.load(std::memory_order_relaxed), ns.load(std::memory_order_relaxed)}; }
  };
  std::string name;
  int64_t version = 0;
  std::atomic<uint64_t> last_inference_ms{0};
  std::atomic<uint64_t> inference_count{0};
  std::atomic<uint64_t> execution_count{0};
  Duration success, fail, queue, compute_input, compute_infer, compute_output;
};

struct ServingMetrics::Families {
  // TF Serving's names and units (µs).
  CounterFamily* tfs_request_count = nullptr;
  HistogramFamily* tfs_request_latency = nullptr;
  HistogramFamily* tfs_runtime_latency = nullptr;
  HistogramFamily* tfs_queuing_latency = nullptr;
  HistogramFamily* tfs_input_batch_size = nullptr;
  HistogramFamily* tfs_processed_batch_size = nullptr;
  HistogramFamily* tfs_padding_size = nullptr;
  CounterFamily* tfs_wrapped_run_count = nullptr;
  HistogramFamily* tfs_example_counts = nullptr;
  CounterFamily* tfs_example_count_total = nullptr;
  // Serval's own (seconds).
  CounterFamily* requests = nullptr;
  HistogramFamily* request_duration = nullptr;
  HistogramFamily* queue_duration = nullptr;
  HistogramFamily* compute_duration = nullptr;
  HistogramFamily* batch_size = nullptr;
  HistogramFamily* batch_padding = nullptr;
  CounterFamily* executions = nullptr;
  GaugeFamily* queue_depth = nullptr;
  CounterFamily* rejects = nullptr;
  CounterFamily* cancels = nullptr;
  HistogramFamily* load_duration = nullptr;
  GaugeFamily* version_state = nullptr;
  CounterFamily* runs_started = nullptr;
  CounterFamily* runs_completed = nullptr;
  CounterFamily* runs_failed = nullptr;
  CounterFamily* runs_cancelled = nullptr;
  CounterFamily* runs_skipped = nullptr;
  CounterFamily* expired_in_queue = nullptr;
  // Process, read at scrape time.
  GaugeFamily* process_rss = nullptr;
  GaugeFamily* process_vsize = nullptr;
  GaugeFamily* process_threads = nullptr;
  GaugeFamily* process_open_fds = nullptr;
  CounterFamily* process_cpu = nullptr;  // µs, rendered as seconds
  GaugeFamily* request_memory = nullptr;
  CounterFamily* request_memory_refused = nullptr;
};

ServingMetrics::ServingMetrics(MetricsRegistry* registry, Options options)
    : registry_(registry), options_(std::move(options)), families_(std::make_unique<Families>()) {}

ServingMetrics::~ServingMetrics() {
  if (process_callback_) registry_->RemoveScrapeCallback(*process_callback_);
}

StatusOr<std::unique_ptr<ServingMetrics>> ServingMetrics::Create(MetricsRegistry* registry, Options options) {
  if (registry == nullptr) return InvalidArgument("ServingMetrics needs a registry");
  std::unique_ptr<ServingMetrics> metrics(new ServingMetrics(registry, std::move(options)));
  SERVAL_RETURN_IF_ERROR(metrics->RegisterFamilies());
  return metrics;
}

Status ServingMetrics::RegisterFamilies() {
  MetricsRegistry& r = *registry_;
  Families& f = *families_;
  const size_t cap = options_.max_series_per_family;
  Status status;
  // Assigns the family or keeps the first error; registration stops being useful after one failure.
  auto set = [&status](auto* out, auto result) {
    if (!status.ok()) return;
    if (!result.ok()) {
      status = result.status();
      return;
    }
    *out = *result;
  };
  const std::vector<double> tfs_latency = ExponentialBuckets(10, 1.8, 33);
  const std::vector<double> tfs_batch = ExponentialBuckets(1, 2, 14);

  set(&f.tfs_request_count, r.AddCounter(":tensorflow:serving:request_count", "The total number of requests.",
                                         {"model_name", "status"}, cap));
  set(&f.tfs_request_latency,
      r.AddHistogram(":tensorflow:serving:request_latency",
                     "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
                     {"model_name", "API", "entrypoint"}, tfs_latency, cap));
  set(&f.tfs_runtime_latency, r.AddHistogram(":tensorflow:serving:runtime_latency",
                                             "Distribution of wall time (in microseconds) for Tensorflow runtime.",
                                             {"model_name", "API", "runtime"}, tfs_latency, cap));
  set(&f.tfs_queuing_latency, r.AddHistogram(":tensorflow:serving:batching_session:queuing_latency",
                                             "Distribution of wall time spent (in microseconds) in queuing",
                                             {"thread_pool_name"}, ExponentialBuckets(100, 1.2, 52), cap));
  set(&f.tfs_input_batch_size, r.AddHistogram(":tensorflow:serving:batching_session:input_batch_size",
                                              "Tracks the batch size distribution on the inputs.", {}, tfs_batch, cap));
  set(&f.tfs_processed_batch_size,
      r.AddHistogram(":tensorflow:serving:batching_session:processed_batch_size",
                     "Tracks the batch size distribution on processing.", {}, tfs_batch, cap));
  set(&f.tfs_padding_size,
      r.AddHistogram(":tensorflow:serving:batching_session:padding_size",
                     "Tracks the padding size distribution on batches.", {"execution_batch_size"}, tfs_batch, cap));
  set(&f.tfs_wrapped_run_count, r.AddCounter(":tensorflow:serving:batching_session:wrapped_run_count",
                                             "Total count of run calls on the wrapped session", {}, cap));
  set(&f.tfs_example_counts,
      r.AddHistogram(":tensorflow:serving:request_example_counts", "The number of tensorflow.Examples per request.",
                     {"model"}, ExponentialBuckets(1, 2, 15), cap));
  set(&f.tfs_example_count_total, r.AddCounter(":tensorflow:serving:request_example_count_total",
                                               "The total number of tensorflow.Examples.", {"model"}, cap));

  set(&f.requests, r.AddCounter("serval_requests_total", "Requests finished, by protocol, API and status code.",
                                {"model", "version", "protocol", "api", "code"}, cap));
  set(&f.request_duration,
      r.AddHistogram("serval_request_duration_seconds", "Time from request decoded to response ready, in seconds.",
                     {"model", "version"}, LatencyBuckets(), cap));
  set(&f.queue_duration,
      r.AddHistogram("serval_queue_duration_seconds", "Time a request waited in the batcher queue, in seconds.",
                     {"model", "version"}, LatencyBuckets(), cap));
  set(&f.compute_duration, r.AddHistogram("serval_compute_duration_seconds",
                                          "Compute time of a request (input, inference, output), in seconds.",
                                          {"model", "version"}, LatencyBuckets(), cap));
  set(&f.batch_size, r.AddHistogram("serval_batch_size", "Rows of real requests in each batch the batcher formed.",
                                    {"model", "version"}, {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}, cap));
  set(&f.batch_padding,
      r.AddHistogram("serval_batch_padding_rows", "Padding rows added to each batch to reach an allowed size.",
                     {"model", "version"}, {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512}, cap));
  set(&f.executions, r.AddCounter("serval_model_executions_total", "Model executions (a batch counts once).",
                                  {"model", "version"}, cap));
  set(&f.queue_depth,
      r.AddGauge("serval_queue_depth", "Requests waiting in the batcher queue.", {"model", "version"}, cap));
  set(&f.rejects, r.AddCounter("serval_rejected_requests_total", "Requests refused before they ran, by reason.",
                               {"model", "reason"}, cap));
  set(&f.cancels,
      r.AddCounter("serval_cancelled_requests_total", "Requests cancelled, by reason.", {"model", "reason"}, cap));
  set(&f.load_duration,
      r.AddHistogram("serval_model_load_duration_seconds", "Time to load one model version, in seconds.",
                     {"model", "result"}, {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}, cap));
  set(&f.version_state,
      r.AddGauge("serval_model_version_state",
                 "State of a model version (TF Serving numbers: 10 START, 20 LOADING, 30 AVAILABLE, 40 UNLOADING, "
                 "50 END).",
                 {"model", "version"}, cap));
  set(&f.runs_started, r.AddCounter("serval_engine_runs_started_total", "Engine runs handed to ONNX Runtime.", {}));
  set(&f.runs_completed, r.AddCounter("serval_engine_runs_completed_total", "Engine runs that returned outputs.", {}));
  set(&f.runs_failed, r.AddCounter("serval_engine_runs_failed_total",
                                   "Engine runs that returned an error other than a cancellation.", {}));
  set(&f.runs_cancelled, r.AddCounter("serval_engine_runs_cancelled_total",
                                      "Engine runs terminated while running, by reason.", {"reason"}));
  set(&f.runs_skipped,
      r.AddCounter("serval_engine_runs_skipped_total",
                   "Engine runs never started because the request was already dead, by reason.", {"reason"}));
  set(&f.expired_in_queue,
      r.AddCounter("serval_requests_expired_in_queue_total",
                   "Requests whose deadline passed while queued; they never ran.", {"model", "version"}, cap));

  if (options_.process_metrics) {
    set(&f.process_rss, r.AddGauge("serval_process_resident_memory_bytes", "Resident memory size in bytes.", {}));
    set(&f.process_vsize, r.AddGauge("serval_process_virtual_memory_bytes", "Virtual memory size in bytes.", {}));
    set(&f.process_threads, r.AddGauge("serval_process_threads", "Threads of the process.", {}));
    set(&f.process_open_fds, r.AddGauge("serval_process_open_fds", "Open file descriptors.", {}));
    set(&f.process_cpu, r.AddCounter("serval_process_cpu_seconds_total", "User and system CPU time, in seconds.", {},
                                     MetricsRegistry::kDefaultMaxSeries, 1e-6));
    set(&f.request_memory, r.AddGauge("serval_request_memory_bytes",
                                      "Decoded request memory charged by requests in flight (the memory budget).", {}));
    set(&f.request_memory_refused,
        r.AddCounter("serval_request_memory_refused_total",
                     "Requests refused by the memory budget, by reason (request: over the per-request cap; budget: "
                     "the process-wide budget was in use; response: the response would pass --max_response_bytes).",
                     {"reason"}));
  }
  SERVAL_RETURN_IF_ERROR(status);

  if (options_.process_metrics) {
    Gauge* rss = f.process_rss->WithLabels({});
    Gauge* vsize = f.process_vsize->WithLabels({});
    Gauge* threads = f.process_threads->WithLabels({});
    Gauge* fds = f.process_open_fds->WithLabels({});
    Counter* cpu = f.process_cpu->WithLabels({});
    Gauge* memory = f.request_memory->WithLabels({});
    Counter* refused_request = f.request_memory_refused->WithLabels({"request"});
    Counter* refused_budget = f.request_memory_refused->WithLabels({"budget"});
    Counter* refused_response = f.request_memory_refused->WithLabels({"response"});
    process_callback_ = registry_->AddScrapeCallback(
        [rss, vsize, threads, fds, cpu, memory, refused_request, refused_budget, refused_response] {
          if (const MemoryBudget* budget = MemoryBudget::Global(); budget != nullptr) {
            memory->Set(static_cast<double>(budget->in_use()));
            refused_request->Set(budget->refused_per_request());
            refused_budget->Set(budget->refused_total());
            refused_response->Set(budget->refused_response());
          }
          StatusOr<ProcessStats> stats = ReadProcessStats();
          if (!stats.ok()) return;  // not Linux /proc: the series stay at their last value
          rss->Set(static_cast<double>(stats->resident_memory_bytes));
          vsize->Set(static_cast<double>(stats->virtual_memory_bytes));
          threads->Set(static_cast<double>(stats->threads));
          fds->Set(static_cast<double>(stats->open_fds));
          cpu->Set(static_cast<uint64_t>(stats->cpu_seconds * 1e6));
        });
  }
  return Status::Ok();
}

ServingMetrics::StatsCell* ServingMetrics::Stats(std::string_view model, int64_t version) {
  if (model == kUnknownModel) return nullptr;
  thread_local std::string key;
  key.assign(model);
  key.push_back('\0');
  key.append(VersionLabel(version).view());
  {
    std::shared_lock lock(stats_mu_);
    auto it = stats_.find(key);
    if (it != stats_.end()) return it->second.get();
    if (stats_.size() >= options_.max_model_versions) return nullptr;
  }
  std::unique_lock lock(stats_mu_);
  auto it = stats_.find(key);
  if (it != stats_.end()) return it->second.get();
  if (stats_.size() >= options_.max_model_versions) return nullptr;
  auto cell = std::make_unique<StatsCell>();
  cell->name = std::string(model);
  cell->version = version;
  StatsCell* raw = cell.get();
  stats_.emplace(key, std::move(cell));
  return raw;
}

void ServingMetrics::RecordRequest(std::string_view model, int64_t version, std::string_view api, Protocol protocol,
                                   StatusCode code, std::chrono::nanoseconds latency, uint64_t items) {
  const Families& f = *families_;
  const VersionLabel v(version);
  const std::string_view code_name = StatusCodeName(code);
  f.tfs_request_count->WithLabels({model, code_name})->Increment();
  f.tfs_request_latency->WithLabels({model, api, TfsEntrypoint(protocol)})->Observe(Micros(latency));
  f.requests->WithLabels({model, v.view(), ProtocolName(protocol), api, code_name})->Increment();
  f.request_duration->WithLabels({model, v.view()})->Observe(Seconds(latency));
  if (StatsCell* cell = Stats(model, version)) {
    auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    cell->last_inference_ms.store(static_cast<uint64_t>(std::max<int64_t>(now.count(), 0)), std::memory_order_relaxed);
    if (code == StatusCode::kOk) {
      cell->success.Add(Nanos(latency));
      cell->inference_count.fetch_add(items, std::memory_order_relaxed);
    } else {
      cell->fail.Add(Nanos(latency));
    }
  }
}

void ServingMetrics::RecordExampleCount(std::string_view model, uint64_t examples) {
  families_->tfs_example_counts->WithLabels({model})->Observe(static_cast<double>(examples));
  families_->tfs_example_count_total->WithLabels({model})->Increment(examples);
}

void ServingMetrics::RecordQueue(std::string_view model, int64_t version, std::chrono::nanoseconds wait) {
  const Families& f = *families_;
  const VersionLabel v(version);
  f.tfs_queuing_latency->WithLabels({options_.batch_thread_pool_name})->Observe(Micros(wait));
  f.queue_duration->WithLabels({model, v.view()})->Observe(Seconds(wait));
  if (StatsCell* cell = Stats(model, version)) cell->queue.Add(Nanos(wait));
}

void ServingMetrics::RecordCompute(std::string_view model, int64_t version, std::string_view api,
                                   const ComputeTimes& times) {
  const Families& f = *families_;
  const VersionLabel v(version);
  f.tfs_runtime_latency->WithLabels({model, api, options_.runtime_name})->Observe(Micros(times.infer));
  f.compute_duration->WithLabels({model, v.view()})->Observe(Seconds(times.input + times.infer + times.output));
  if (StatsCell* cell = Stats(model, version)) {
    cell->compute_input.Add(Nanos(times.input));
    cell->compute_infer.Add(Nanos(times.infer));
    cell->compute_output.Add(Nanos(times.output));
  }
}

void ServingMetrics::RecordRunTime(std::string_view model, int64_t version, std::chrono::nanoseconds run) {
  if (StatsCell* cell = Stats(model, version)) cell->compute_infer.Add(Nanos(run));
}

void ServingMetrics::RecordBatch(std::string_view model, int64_t version, uint64_t size, uint64_t padded) {
  const Families& f = *families_;
  const VersionLabel v(version);
  const uint64_t processed = size + padded;
  char processed_text[24];
  auto end = std::to_chars(processed_text, processed_text + sizeof(processed_text), processed).ptr;
  f.tfs_input_batch_size->WithLabels({})->Observe(static_cast<double>(size));
  f.tfs_processed_batch_size->WithLabels({})->Observe(static_cast<double>(processed));
  f.tfs_padding_size->WithLabels({std::string_view(processed_text, static_cast<size_t>(end - processed_text))})
      ->Observe(static_cast<double>(padded));
  f.tfs_wrapped_run_count->WithLabels({})->Increment();
  f.batch_size->WithLabels({model, v.view()})->Observe(static_cast<double>(size));
  f.batch_padding->WithLabels({model, v.view()})->Observe(static_cast<double>(padded));
  f.executions->WithLabels({model, v.view()})->Increment();
  if (StatsCell* cell = Stats(model, version)) cell->execution_count.fetch_add(1, std::memory_order_relaxed);
}

void ServingMetrics::RecordUnbatchedRun(std::string_view model, int64_t version) {
  const VersionLabel v(version);
  families_->executions->WithLabels({model, v.view()})->Increment();
  if (StatsCell* cell = Stats(model, version)) cell->execution_count.fetch_add(1, std::memory_order_relaxed);
}

void ServingMetrics::RecordReject(std::string_view model, std::string_view reason) {
  families_->rejects->WithLabels({model, reason})->Increment();
}

void ServingMetrics::RecordCancel(std::string_view model, std::string_view reason) {
  families_->cancels->WithLabels({model, reason})->Increment();
}

void ServingMetrics::RecordModelLoad(std::string_view model, int64_t version, double seconds, bool ok) {
  (void)version;  // one histogram per model: versions come and go, their load times are one distribution
  families_->load_duration->WithLabels({model, ok ? "ok" : "error"})->Observe(seconds);
}

void ServingMetrics::SetVersionState(std::string_view model, int64_t version, VersionState state) {
  const VersionLabel v(version);
  families_->version_state->WithLabels({model, v.view()})->Set(static_cast<double>(static_cast<int>(state)));
}

void ServingMetrics::SetQueueDepth(std::string_view model, int64_t version, uint64_t depth) {
  const VersionLabel v(version);
  families_->queue_depth->WithLabels({model, v.view()})->Set(static_cast<double>(depth));
}

void ServingMetrics::SetEngineRunCounts(const EngineRunCounts& counts) {
  const Families& f = *families_;
  f.runs_started->WithLabels({})->Set(counts.started);
  f.runs_completed->WithLabels({})->Set(counts.completed);
  f.runs_failed->WithLabels({})->Set(counts.failed);
  f.runs_cancelled->WithLabels({reason::kDeadlineExceeded})->Set(counts.cancelled_deadline);
  f.runs_cancelled->WithLabels({reason::kClientDisconnected})->Set(counts.cancelled_client_gone);
  f.runs_skipped->WithLabels({reason::kDeadlineExceeded})->Set(counts.expired_before_run);
  f.runs_skipped->WithLabels({reason::kClientDisconnected})->Set(counts.client_gone_before_run);
}

void ServingMetrics::SetExpiredInQueue(std::string_view model, int64_t version, uint64_t count) {
  const VersionLabel v(version);
  families_->expired_in_queue->WithLabels({model, v.view()})->Set(count);
}

MetricsRegistry::ScrapeCallbackId ServingMetrics::AddScrapeCallback(std::function<void()> callback) {
  return registry_->AddScrapeCallback(std::move(callback));
}

void ServingMetrics::RemoveScrapeCallback(MetricsRegistry::ScrapeCallbackId id) { registry_->RemoveScrapeCallback(id); }

std::vector<ModelStatistics> ServingMetrics::GetModelStatistics(std::string_view model,
                                                                std::optional<int64_t> version) const {
  std::vector<ModelStatistics> out;
  {
    std::shared_lock lock(stats_mu_);
    for (const auto& [key, cell] : stats_) {
      if (!model.empty() && cell->name != model) continue;
      if (version && cell->version != *version) continue;
      ModelStatistics s;
      s.name = cell->name;
      s.version = cell->version;
      s.last_inference_ms = cell->last_inference_ms.load(std::memory_order_relaxed);
      s.inference_count = cell->inference_count.load(std::memory_order_relaxed);
      s.execution_count = cell->execution_count.load(std::memory_order_relaxed);
      s.success = cell->success.Read();
      s.fail = cell->fail.Read();
      s.queue = cell->queue.Read();
      s.compute_input = cell->compute_input.Read();
      s.compute_infer = cell->compute_infer.Read();
      s.compute_output = cell->compute_output.Read();
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(), [](const ModelStatistics& a, const ModelStatistics& b) {
    return a.name != b.name ? a.name < b.name : a.version < b.version;
  });
  return out;
}

}  // namespace serval::metrics

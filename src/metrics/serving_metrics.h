// ServingMetrics: the concrete series Serval records, so that wiring is one call per event.
//
// It exports TF Serving's series under TF Serving's names (`:tensorflow:serving:request_count`,
// `…:request_latency`, `…:runtime_latency`, `…:batching_session:*`, µs like TF Serving) so existing
// dashboards work, Serval's own `serval_*` series (seconds, per model and version), process series read at
// scrape time, and keeps the per-model-version counters KServe's ModelStatistics reports.
//
// Thread safety: every method may be called from any thread at any time. Record* and Set* cost a few hash
// lookups under shared locks and relaxed atomic adds; none blocks on a scrape for longer than the copy of
// one family's series list.
//
// Cardinality: callers pass kUnknownModel (version 0) for a request whose model does not resolve to a
// served model, so that unknown names share one series; every family also has a hard cap
// (Options::max_series_per_family), beyond which label sets share an "__overflow__" series. KServe
// statistics are kept for at most Options::max_model_versions model versions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/model_status.h"
#include "core/status.h"
#include "metrics/registry.h"

namespace serval::metrics {

// Model name to record for requests naming a model that is not served.
inline constexpr std::string_view kUnknownModel = "__unknown__";

enum class Protocol { kRest, kGrpc };
// "rest" / "grpc" (Serval's label) and "REST" / "GRPC" (TF Serving's `entrypoint`).
std::string_view ProtocolName(Protocol protocol);

// Values of the `API` / `api` labels. TF Serving's names for its APIs; KServe's under "kserve_*".
namespace api {
inline constexpr std::string_view kPredict = "Predict";
inline constexpr std::string_view kClassify = "Classify";
inline constexpr std::string_view kRegress = "Regress";
inline constexpr std::string_view kMultiInference = "MultiInference";
inline constexpr std::string_view kGetModelMetadata = "GetModelMetadata";
inline constexpr std::string_view kGetModelStatus = "GetModelStatus";
inline constexpr std::string_view kKServeInfer = "kserve_infer";
inline constexpr std::string_view kKServeStreamInfer = "kserve_stream_infer";
}  // namespace api

// Values of the `reason` label of rejects and cancellations.
namespace reason {
inline constexpr std::string_view kQueueFull = "queue_full";                // batcher queue at its bound
inline constexpr std::string_view kShuttingDown = "shutting_down";          // arrived after SIGTERM
inline constexpr std::string_view kDeadlineExceeded = "deadline_exceeded";  // deadline passed (queued or running)
inline constexpr std::string_view kClientDisconnected = "client_disconnected";
inline constexpr std::string_view kTooLarge = "too_large";  // over a size limit
}  // namespace reason

// Durations of one request's compute phases (Triton's compute_input / compute_infer / compute_output).
struct ComputeTimes {
  std::chrono::nanoseconds input{0};   // decoding and batching inputs
  std::chrono::nanoseconds infer{0};   // the ORT Run
  std::chrono::nanoseconds output{0};  // splitting and encoding outputs
};

// Process-wide engine run counts (the fields of engine/engine_stats.h's EngineStats, copied by the caller so
// that metrics need not depend on the engine); mirrored into counters at scrape time.
struct EngineRunCounts {
  uint64_t started = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;                  // returned an error other than a cancellation
  uint64_t cancelled_deadline = 0;      // terminated while running: deadline passed
  uint64_t cancelled_client_gone = 0;   // terminated while running: client went away
  uint64_t expired_before_run = 0;      // never started: deadline already passed
  uint64_t client_gone_before_run = 0;  // never started: client already gone
};

// KServe ModelStatistics for one model version (Triton's InferStatistics; durations in ns).
struct DurationStat {
  uint64_t count = 0;
  uint64_t ns = 0;
};
struct ModelStatistics {
  std::string name;
  int64_t version = 0;
  uint64_t last_inference_ms = 0;  // ms since the Unix epoch of the last request; 0 if none
  uint64_t inference_count = 0;    // items (batch rows) inferred successfully
  uint64_t execution_count = 0;    // model executions (one batch = one execution)
  DurationStat success, fail, queue, compute_input, compute_infer, compute_output;
};

class ServingMetrics {
 public:
  struct Options {
    size_t max_series_per_family = 2000;
    size_t max_model_versions = 1000;                      // KServe statistics entries
    std::string batch_thread_pool_name = "batch_threads";  // TF Serving's queuing_latency label
    std::string runtime_name = "onnxruntime";              // TF Serving's runtime_latency `runtime` label
    bool process_metrics = true;                           // serval_process_* read at scrape time
  };

  // Registers every family in `registry`. REQUIRES: `registry` outlives the result and holds none of these
  // names yet (else INVALID_ARGUMENT).
  static StatusOr<std::unique_ptr<ServingMetrics>> Create(MetricsRegistry* registry, Options options);
  static StatusOr<std::unique_ptr<ServingMetrics>> Create(MetricsRegistry* registry) {
    return Create(registry, Options());
  }
  ~ServingMetrics();
  ServingMetrics(const ServingMetrics&) = delete;
  ServingMetrics& operator=(const ServingMetrics&) = delete;

  // One finished request (any outcome), end to end. `version` 0 when none was resolved. `items`: batch
  // rows of a successful inference (KServe inference_count). Updates TF Serving's request_count and
  // request_latency, serval_requests_total, serval_request_duration_seconds and the KServe statistics.
  void RecordRequest(std::string_view model, int64_t version, std::string_view api, Protocol protocol, StatusCode code,
                     std::chrono::nanoseconds latency, uint64_t items = 1);
  // tf.Examples in one Classify / Regress / MultiInference request (TF Serving's request_example_counts
  // histogram and request_example_count_total counter).
  void RecordExampleCount(std::string_view model, uint64_t examples);
  // Time one request waited in a batcher queue before its batch started.
  void RecordQueue(std::string_view model, int64_t version, std::chrono::nanoseconds wait);
  // Compute time of one request (in a batch: the batch's times). Updates TF Serving's runtime_latency
  // (from `times.infer`), serval_compute_duration_seconds (total) and the KServe compute_* statistics.
  void RecordCompute(std::string_view model, int64_t version, std::string_view api, const ComputeTimes& times);
  // The model run of one request that is not a Triton-repository model (those count their own): its time
  // goes to the KServe compute_infer statistics only (no Prometheus series changes).
  void RecordRunTime(std::string_view model, int64_t version, std::chrono::nanoseconds run);
  // One batch formed by the batcher and run: `size` real rows, `padded` rows added to reach an allowed
  // batch size. Counts one execution.
  void RecordBatch(std::string_view model, int64_t version, uint64_t size, uint64_t padded);
  // One model execution outside the batcher (the request ran on its own). Counts one execution.
  void RecordUnbatchedRun(std::string_view model, int64_t version);
  // A request refused before it ran (queue full, shutting down, ...).
  void RecordReject(std::string_view model, std::string_view reason);
  // A request cancelled (deadline passed, client disconnected, ...), queued or running.
  void RecordCancel(std::string_view model, std::string_view reason);
  // A finished load attempt of one version.
  void RecordModelLoad(std::string_view model, int64_t version, double seconds, bool ok);
  // The version's state (value: TF Serving's ModelVersionStatus.State number: 30 AVAILABLE, 50 END, ...).
  void SetVersionState(std::string_view model, int64_t version, VersionState state);
  // Current number of requests queued for a version (called by a scrape callback or by the batcher).
  void SetQueueDepth(std::string_view model, int64_t version, uint64_t depth);
  // Mirrors the engine's own monotonic run counts (call from a scrape callback).
  void SetEngineRunCounts(const EngineRunCounts& counts);
  // Mirrors a batcher queue's own monotonic count of requests whose deadline passed while queued (they
  // never ran; call from a scrape callback).
  void SetExpiredInQueue(std::string_view model, int64_t version, uint64_t count);

  // A callback run at every scrape, before rendering, typically calling SetQueueDepth / SetEngineRunCounts
  // for every live version. See MetricsRegistry::AddScrapeCallback / RemoveScrapeCallback for the contract.
  MetricsRegistry::ScrapeCallbackId AddScrapeCallback(std::function<void()> callback);
  void RemoveScrapeCallback(MetricsRegistry::ScrapeCallbackId id);

  // KServe statistics of the model versions of `model` (every model if empty), of `version` only if given,
  // sorted by name then version. Empty if nothing was recorded.
  std::vector<ModelStatistics> GetModelStatistics(std::string_view model = {},
                                                  std::optional<int64_t> version = std::nullopt) const;

  // Prometheus text of the whole registry (runs scrape callbacks).
  std::string RenderPrometheus() const { return registry_->RenderPrometheus(); }
  MetricsRegistry* registry() const { return registry_; }

 private:
  struct StatsCell;
  struct Families;
  ServingMetrics(MetricsRegistry* registry, Options options);
  Status RegisterFamilies();
  // The statistics cell of a version; null for kUnknownModel or when the table is full.
  StatsCell* Stats(std::string_view model, int64_t version);

  MetricsRegistry* const registry_;
  const Options options_;
  std::unique_ptr<Families> families_;
  std::optional<MetricsRegistry::ScrapeCallbackId> process_callback_;

  mutable std::shared_mutex stats_mu_;
  std::unordered_map<std::string, std::unique_ptr<StatsCell>> stats_;  // key: name + '\0' + version
};

}  // namespace serval::metrics

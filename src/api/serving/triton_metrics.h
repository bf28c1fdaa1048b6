// Triton's per-model Prometheus series (nv_inference_*, labels `model` and `version`, as Triton's
// metrics.cc names them), so that dashboards built on Triton's /metrics work unchanged. At every scrape they
// mirror the numbers the KServe statistics routes report (ServingFrontend::Statistics of every AVAILABLE
// version): the same counts, the durations in microseconds.
#pragma once

#include <memory>
#include <vector>

#include "api/serving/serving_frontend.h"
#include "core/status.h"
#include "metrics/registry.h"

namespace serval {

class TritonPrometheusSeries {
 public:
  // Registers the families. INVALID_ARGUMENT when a name is taken.
  static StatusOr<std::unique_ptr<TritonPrometheusSeries>> Create(metrics::MetricsRegistry* registry);

  // Sets every series from `statistics` (counters mirror monotonic counts; call from a scrape callback).
  void Update(const std::vector<VersionStatistics>& statistics) const;

 private:
  TritonPrometheusSeries() = default;

  metrics::CounterFamily* success_ = nullptr;
  metrics::CounterFamily* failure_ = nullptr;
  metrics::CounterFamily* inference_count_ = nullptr;
  metrics::CounterFamily* exec_count_ = nullptr;
  metrics::CounterFamily* request_duration_us_ = nullptr;
  metrics::CounterFamily* queue_duration_us_ = nullptr;
  metrics::CounterFamily* compute_input_duration_us_ = nullptr;
  metrics::CounterFamily* compute_infer_duration_us_ = nullptr;
  metrics::CounterFamily* compute_output_duration_us_ = nullptr;
};

}  // namespace serval

#include "api/serving/triton_metrics.h"

#include <string>

namespace serval {

StatusOr<std::unique_ptr<TritonPrometheusSeries>> TritonPrometheusSeries::Create(metrics::MetricsRegistry* registry) {
  std::unique_ptr<TritonPrometheusSeries> series(new TritonPrometheusSeries());
  const std::vector<std::string> labels = {"model", "version"};
  // Triton's names and help texts.
  const std::pair<metrics::CounterFamily**, std::pair<const char*, const char*>> families[] = {
      {&series->success_, {"nv_inference_request_success", "Number of successful inference requests, all batch sizes"}},
      {&series->failure_, {"nv_inference_request_failure", "Number of failed inference requests, all batch sizes"}},
      {&series->inference_count_,
       {"nv_inference_count",
        "Number of inferences performed (does not include cached "
        "requests)"}},
      {&series->exec_count_,
       {"nv_inference_exec_count",
        "Number of model executions performed (does not include "
        "cached requests)"}},
      {&series->request_duration_us_,
       {"nv_inference_request_duration_us",
        "Cumulative inference request duration in microseconds (includes cached "
        "requests)"}},
      {&series->queue_duration_us_,
       {"nv_inference_queue_duration_us",
        "Cumulative inference queuing duration in microseconds (includes cached "
        "requests)"}},
      {&series->compute_input_duration_us_,
       {"nv_inference_compute_input_duration_us",
        "Cumulative compute input duration in microseconds (does not "
        "include cached requests)"}},
      {&series->compute_infer_duration_us_,
       {"nv_inference_compute_infer_duration_us",
        "Cumulative compute inference duration in microseconds (does not "
        "include cached requests)"}},
      {&series->compute_output_duration_us_,
       {"nv_inference_compute_output_duration_us",
        "Cumulative inference compute output duration in microseconds "
        "(does not include cached requests)"}},
  };
  for (const auto& [slot, text] : families) {
    SERVAL_ASSIGN_OR_RETURN(*slot, registry->AddCounter(text.first, text.second, labels));
  }
  return series;
}

void TritonPrometheusSeries::Update(const std::vector<VersionStatistics>& statistics) const {
  for (const VersionStatistics& version : statistics) {
    const std::string number = std::to_string(version.version);
    const std::initializer_list<std::string_view> labels = {version.name, number};
    const metrics::ModelStatistics& stats = version.counters;
    success_->WithLabels(labels)->Set(stats.success.count);
    failure_->WithLabels(labels)->Set(stats.fail.count);
    inference_count_->WithLabels(labels)->Set(stats.inference_count);
    exec_count_->WithLabels(labels)->Set(stats.execution_count);
    request_duration_us_->WithLabels(labels)->Set(stats.success.ns / 1000);
    queue_duration_us_->WithLabels(labels)->Set(stats.queue.ns / 1000);
    compute_input_duration_us_->WithLabels(labels)->Set(stats.compute_input.ns / 1000);
    compute_infer_duration_us_->WithLabels(labels)->Set(stats.compute_infer.ns / 1000);
    compute_output_duration_us_->WithLabels(labels)->Set(stats.compute_output.ns / 1000);
  }
}

}  // namespace serval

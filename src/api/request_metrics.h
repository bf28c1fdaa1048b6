// RequestTrace: what the api layer learns about one inference request while handling it (which API, which
// model version it reached, how it ended), recorded once into ServingMetrics when the request finishes.
// A request whose model did not resolve is recorded under metrics::kUnknownModel, so that hostile names
// never add series.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "metrics/serving_metrics.h"

namespace serval {

class RequestTrace {
 public:
  RequestTrace(metrics::ServingMetrics* metrics, metrics::Protocol protocol)
      : metrics_(metrics), protocol_(protocol), started_(std::chrono::steady_clock::now()) {}
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;

  // The request is an inference of `api` (metrics::api::kPredict, ...); other requests are not recorded.
  void set_api(std::string_view api) { api_ = api; }
  // The version the request acquired (after ModelManager::Acquire succeeded).
  void set_version(std::string_view model, int64_t version) {
    model_ = model;
    version_ = version;
  }
  bool is_inference() const { return !api_.empty(); }

  // Records the request with its final status. Call at most once.
  void Finish(StatusCode code) {
    if (metrics_ == nullptr || api_.empty()) return;
    const std::string_view model = model_.empty() ? metrics::kUnknownModel : std::string_view(model_);
    metrics_->RecordRequest(model, model_.empty() ? 0 : version_, api_, protocol_, code,
                            std::chrono::steady_clock::now() - started_);
    if (code == StatusCode::kDeadlineExceeded) metrics_->RecordCancel(model, metrics::reason::kDeadlineExceeded);
    if (code == StatusCode::kCancelled) metrics_->RecordCancel(model, metrics::reason::kClientDisconnected);
    // Rejects (queue full, shutting down) are counted where they happen: the batcher's observer.
  }

 private:
  metrics::ServingMetrics* const metrics_;
  const metrics::Protocol protocol_;
  const std::chrono::steady_clock::time_point started_;
  std::string_view api_;
  std::string model_;
  int64_t version_ = 0;
};

// The StatusCode behind an HTTP status that Serval's REST API answers with (the inverse of the TF Serving and
// KServe mappings, which agree on these codes).
StatusCode StatusCodeFromHttp(int http_status);

}  // namespace serval

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

  // Records the request with its final status (and, for gRPC with the access log on, logs it). Call once.
  void Finish(StatusCode code);
  std::chrono::nanoseconds elapsed() const { return std::chrono::steady_clock::now() - started_; }

 private:
  metrics::ServingMetrics* const metrics_;
  const metrics::Protocol protocol_;
  const std::chrono::steady_clock::time_point started_;
  std::string_view api_;
  std::string model_;
  int64_t version_ = 0;
};

// --access_log: one log line per request (REST: every route, in RestApi; gRPC: every inference call, in
// RequestTrace). Set once at start-up, before requests arrive.
void SetAccessLog(bool enabled);
bool AccessLogEnabled();
// `text` made safe for one log line: printable ASCII is kept (with '\\' and '"' escaped), every other byte
// becomes \xHH; at most `max_chars` bytes of input, then "...".
std::string EscapeForLog(std::string_view text, size_t max_chars = 256);

}  // namespace serval

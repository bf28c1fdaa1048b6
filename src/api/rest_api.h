// RestApi: the REST endpoints of both protocols on one port — TF Serving (/v1/...) and KServe v2
// (/v2/...). It routes a request, acquires the model version from the ModelManager, decodes with the
// protocol's codec, runs, and encodes. Inference runs on the calling (HTTP I/O) thread: no hand-off.
// Model control routes (/v2/repository/...) also run on the I/O thread: a load blocks that thread until the
// model is AVAILABLE or has failed.
// Thread-safe: Handle may be called from every I/O thread at once.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "api/http/http_message.h"
#include "api/model_control.h"
#include "api/request_metrics.h"
#include "repository/model_manager.h"

namespace serval {

struct RestApiOptions {
  std::string server_version;   // reported by GET /v2
  std::string runtime_version;  // ONNX Runtime version, reported by GET /v2
  // Triton's repository extension (POST /v2/repository/index, /v2/repository/models/{m}/load|unload).
  // Null: every such route answers 403, as with control disabled. REQUIRES: outlives the RestApi.
  ModelControl* model_control = nullptr;
  // Request counts and latencies (TF Serving's and Serval's series, KServe statistics). Null: not recorded.
  metrics::ServingMetrics* metrics = nullptr;
  // Prometheus text on GET <prometheus_path> and GET /metrics (--monitoring_config_file). Empty: not served.
  std::string prometheus_path;
  // True once a graceful shutdown began: /v2/health/ready and /v1/health/ready answer 503.
  const std::atomic<bool>* draining = nullptr;
  // Deadline of every inference (--rest_api_timeout_in_ms): queued past it, it never runs; running past it,
  // it is stopped. 0 = none.
  std::chrono::milliseconds inference_timeout{0};
};

class RestApi {
 public:
  RestApi(const ModelManager& models, RestApiOptions options);
  void Handle(HttpRequest& request, HttpResponse& response) const;

 private:
  void HandleTfs(HttpRequest& request, HttpResponse& response, RequestTrace& trace) const;
  void HandleKServe(HttpRequest& request, HttpResponse& response, RequestTrace& trace) const;
  // GET /v2/models/{m}[/versions/{v}]/stats: KServe statistics from the metrics.
  void HandleStats(const std::string& model, const VersionSelector& version, HttpResponse& response) const;
  bool Ready() const;
  // Deadline and client-gone probe of an inference arriving now on `request`'s connection.
  void SetRunContext(const HttpRequest& request, InferenceRequest& inference) const;
  // Every path under /v2/repository: authorised first (ModelControl), then routed.
  void HandleRepository(HttpRequest& request, HttpResponse& response) const;

  const ModelManager& models_;
  const RestApiOptions options_;
};

}  // namespace serval

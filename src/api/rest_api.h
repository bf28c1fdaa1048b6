// RestApi: the REST surface on one port — TF Serving (/v1/..., TfsRestService) and KServe v2 (/v2/...,
// KServeRestService) over one serving frontend, plus /metrics. It picks the service by prefix, turns the
// service's RestStatus into HTTP at one edge (rest_status.h: TF Serving's mapping on /v1, KServe's on /v2),
// records the request and writes the access log. Inference and model control run on the calling thread.
// Thread-safe: Handle may be called from every thread at once.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "api/http/http_message.h"
#include "api/kserve/kserve_rest_service.h"
#include "api/model_control.h"
#include "api/request_metrics.h"
#include "api/serving/serving_frontend.h"
#include "api/tfs/tfs_rest_service.h"
#include "repository/model_manager.h"

namespace serval {

struct RestApiOptions {
  std::string server_version;   // reported by GET /v2
  std::string runtime_version;  // ONNX Runtime version (not reported by a route today)
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
  // True for the routes that run a model (TF Serving :predict / :classify / :regress, KServe /infer): the
  // ones the HTTP server may try on its io thread (HttpServerOptions::inline_candidate).
  static bool IsInferencePath(std::string_view path);

 private:
  const RestApiOptions options_;
  const ServingFrontend frontend_;
  const TfsRestService tfs_;
  const KServeRestService kserve_;
};

}  // namespace serval

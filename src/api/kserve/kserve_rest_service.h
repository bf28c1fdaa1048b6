// KServeRestService: the KServe v2 / Open Inference Protocol REST API (/v2/..., docs/protocols.md §2.6)
// over the serving frontend — server and model metadata, health, readiness, configuration, statistics,
// infer (with Triton's binary tensor data extension) and Triton's repository extension through
// ModelControl. Each route is a row of a RestRouter table; each handler decodes (kserve_rest_codec.h), asks
// the frontend, encodes, and returns a RestStatus that the caller turns into HTTP once (rest_status.h,
// KServe's mapping). Inference and model control run on the calling thread (a load blocks it until the
// model is AVAILABLE or has failed). Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "api/http/http_message.h"
#include "api/model_control.h"
#include "api/request_metrics.h"
#include "api/rest/rest_router.h"
#include "api/rest/rest_status.h"
#include "api/serving/serving_frontend.h"

namespace serval {

struct KServeRestOptions {
  std::string server_version;  // reported by GET /v2
  // Triton's repository extension (POST /v2/repository/index, /v2/repository/models/{m}/load|unload).
  // Null: every such route answers 403, as with control disabled. REQUIRES: outlives the service.
  ModelControl* model_control = nullptr;
  // Deadline of every inference (--rest_api_timeout_in_ms). 0 = none.
  std::chrono::milliseconds inference_timeout{0};
};

class KServeRestService {
 public:
  // REQUIRES: `frontend` outlives the service.
  KServeRestService(const ServingFrontend& frontend, KServeRestOptions options);
  KServeRestService(const KServeRestService&) = delete;
  KServeRestService& operator=(const KServeRestService&) = delete;

  // Serves a request whose path is "/v2" or starts with "/v2/". Fills `response` on success; `trace` learns
  // the API and version of an inference.
  RestStatus Handle(const HttpRequest& request, HttpResponse& response, RequestTrace& trace) const;

 private:
  using Handler = std::function<RestStatus(const KServeRestService&, const HttpRequest&, const RouteParams&,
                                           HttpResponse&, RequestTrace&)>;

  RestStatus GetServerMetadata(HttpResponse& response) const;
  RestStatus GetModelMetadata(const ModelRef& model, HttpResponse& response, RequestTrace& trace) const;
  RestStatus GetModelConfig(const ModelRef& model, HttpResponse& response, RequestTrace& trace) const;
  RestStatus GetModelStatistics(const ModelRef& model, HttpResponse& response) const;
  RestStatus Infer(const HttpRequest& request, const ModelRef& model, HttpResponse& response,
                   RequestTrace& trace) const;
  // Every path under /v2/repository: authorised first (ModelControl), then routed.
  RestStatus Repository(const HttpRequest& request, HttpResponse& response) const;

  const ServingFrontend& frontend_;
  const KServeRestOptions options_;
  RestRouter<Handler> routes_;
  RestRouter<Handler> repository_routes_;
};

}  // namespace serval

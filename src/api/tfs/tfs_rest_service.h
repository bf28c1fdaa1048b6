// TfsRestService: TF Serving's REST API (/v1/..., docs/protocols.md §2.1) over the serving frontend — model
// status, metadata, :predict, :classify, :regress, and Serval's /v1/health/ready. Each route is a row of a
// RestRouter table; each handler decodes (tfs_rest_codec.h, tfs_examples.h), asks the frontend, encodes, and
// returns a RestStatus that the caller turns into HTTP once (rest_status.h, TF Serving's mapping).
// Inference runs on the calling thread. Thread-safe.
#pragma once

#include <chrono>
#include <functional>

#include "api/http/http_message.h"
#include "api/request_metrics.h"
#include "api/rest/rest_router.h"
#include "api/rest/rest_status.h"
#include "api/serving/serving_frontend.h"

namespace serval {

struct TfsRestOptions {
  // Deadline of every inference (--rest_api_timeout_in_ms): queued past it, it never runs; running past it,
  // it is stopped. 0 = none.
  std::chrono::milliseconds inference_timeout{0};
};

class TfsRestService {
 public:
  // REQUIRES: `frontend` outlives the service.
  TfsRestService(const ServingFrontend& frontend, TfsRestOptions options);
  TfsRestService(const TfsRestService&) = delete;
  TfsRestService& operator=(const TfsRestService&) = delete;

  // Serves a request whose path starts with "/v1/". Fills `response` on success; `trace` learns the API and
  // version of an inference.
  RestStatus Handle(const HttpRequest& request, HttpResponse& response, RequestTrace& trace) const;

 private:
  using Handler = std::function<RestStatus(const TfsRestService&, const HttpRequest&, const ModelRef&, HttpResponse&,
                                           RequestTrace&)>;

  RestStatus ModelStatus(const ModelRef& model, HttpResponse& response) const;
  RestStatus Metadata(const ModelRef& model, HttpResponse& response, RequestTrace& trace) const;
  RestStatus Predict(const HttpRequest& request, const ModelRef& model, HttpResponse& response,
                     RequestTrace& trace) const;
  RestStatus Examples(bool classify, const HttpRequest& request, const ModelRef& model, HttpResponse& response,
                      RequestTrace& trace) const;

  const ServingFrontend& frontend_;
  const TfsRestOptions options_;
  RestRouter<Handler> routes_;
};

}  // namespace serval

#include "api/rest_api.h"

#include <spdlog/spdlog.h>

#include <string_view>

#include "api/rest/rest_status.h"
#include "core/inline_run.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

RestApi::RestApi(const ModelManager& models, RestApiOptions options)
    : options_(std::move(options)),
      frontend_(models, {.metrics = options_.metrics, .draining = options_.draining, .limits = {}}),
      tfs_(frontend_, {.inference_timeout = options_.inference_timeout}),
      kserve_(frontend_, {.server_version = options_.server_version,
                          .model_control = options_.model_control,
                          .inference_timeout = options_.inference_timeout}) {}

bool RestApi::IsInferencePath(std::string_view path) {
  if (StartsWithIgnoreCase(path, "/v1/models/")) {
    return path.ends_with(":predict") || path.ends_with(":classify") || path.ends_with(":regress");
  }
  return path.starts_with("/v2/models/") && path.ends_with("/infer");
}

void RestApi::Handle(HttpRequest& request, HttpResponse& response) const {
  // HEAD is GET without a body; the HTTP server drops the body.
  if (request.method == "HEAD") request.method = "GET";
  if (!options_.prometheus_path.empty() && (request.path == options_.prometheus_path || request.path == "/metrics") &&
      options_.metrics != nullptr) {
    if (request.method != "GET") {
      return WriteRestError(RestProtocol::kKServe, RestStatus(405, InvalidArgument("use GET")), response);
    }
    response.content_type = std::string(metrics::kPrometheusContentType);
    response.body = options_.metrics->RenderPrometheus();
    return;
  }
  RequestTrace trace(options_.metrics, metrics::Protocol::kRest);
  RequestMemoryScope memory;  // what this request decodes and encodes is charged to the memory budget
  // TF Serving matches its prefix in any case; the routes below it are exact.
  const bool tfs = StartsWithIgnoreCase(request.path, "/v1/");
  if (tfs) request.path.replace(0, 4, "/v1/");
  const RestProtocol protocol = tfs ? RestProtocol::kTfServing : RestProtocol::kKServe;
  RestStatus outcome = Status::Ok();
  if (tfs) {
    outcome = tfs_.Handle(request, response, trace);
  } else if (request.path == "/v2" || request.path.starts_with("/v2/")) {
    outcome = kserve_.Handle(request, response, trace);
  } else {
    outcome = NotFound("unknown route '" + request.path + "'");
  }
  // The one edge where a handler's outcome becomes HTTP.
  // Tried on an io thread and not admitted: nothing ran; a worker does the request again and records it.
  if (const InlineAttempt* attempt = InlineAttempt::Current(); attempt != nullptr && attempt->deferred()) return;
  if (!outcome.ok()) WriteRestError(protocol, outcome, response);
  if (request.path == "/v1/health/ready") return;  // a probe, not a request: not recorded (as before)
  trace.Finish(outcome.status.code());
  if (AccessLogEnabled()) {
    spdlog::info("access rest {} \"{}\" {} {:.3f} ms", EscapeForLog(request.method, 16), EscapeForLog(request.path),
                 response.status, std::chrono::duration<double, std::milli>(trace.elapsed()).count());
  }
}

}  // namespace serval

#include "api/rest_api.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <string_view>

#include "api/json/json_writer.h"
#include "api/kserve/kserve_model_config.h"
#include "api/kserve/kserve_rest_codec.h"
#include "api/kserve/kserve_statistics.h"
#include "api/tfs/tfs_example_task.h"
#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_rest_codec.h"

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

// Splits "a/b/c" into segments; empty segments are kept so that "a//b" does not match a route.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

std::optional<int64_t> ParseVersionNumber(std::string_view text) {
  int64_t value = 0;
  if (text.empty() || text.size() > 18) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// The parts of /v1/models/{m}[/versions/{v}|/labels/{l}][/metadata][:verb] or
// /v2/models/{m}[/versions/{v}][/ready|/infer|/config].
struct ModelRoute {
  std::string model;
  VersionSelector version;
  std::string
      action;  // "" (status / metadata), "metadata", "predict", "classify", "regress", "ready", "infer", "config"
};

void SetError(HttpResponse& response, int http_status, std::string body) {
  response.status = http_status;
  response.content_type = "application/json";
  response.body = std::move(body);
}

void TfsError(HttpResponse& response, const Status& status) {
  SetError(response, TfServingHttpStatus(status.code()), EncodeTfsError(status));
}

void KServeError(HttpResponse& response, const Status& status) {
  SetError(response, KServeHttpStatus(status.code()), EncodeKServeError(status));
  if (status.code() == StatusCode::kUnauthenticated) response.headers.emplace_back("WWW-Authenticate", "Bearer");
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// "application/json", any case, parameters (e.g. "; charset=utf-8") allowed.
bool IsJsonMediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return EqualsNoCase(type, "application/json");
}

// An Origin ("http://host[:port]") names the same authority as the Host header. "null" and anything that
// is not a plain http(s) origin do not match.
bool OriginMatchesHost(std::string_view origin, std::string_view host) {
  const size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos || host.empty()) return false;
  const std::string_view scheme = origin.substr(0, scheme_end);
  if (!EqualsNoCase(scheme, "http") && !EqualsNoCase(scheme, "https")) return false;
  std::string_view authority = origin.substr(scheme_end + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (EqualsNoCase(authority, host)) return true;
  // The default port may be written on one side and left out on the other.
  const std::string_view default_port = EqualsNoCase(scheme, "https") ? ":443" : ":80";
  auto strip = [&](std::string_view s) {
    return s.ends_with(default_port) ? s.substr(0, s.size() - default_port.size()) : s;
  };
  return EqualsNoCase(strip(authority), strip(host));
}

// Triton's index JSON: [{"name", "version" (when known), "state", "reason" (when not READY)}, ...].
std::string EncodeRepositoryIndex(const std::vector<RepositoryIndexEntry>& entries) {
  std::string body = "[";
  for (const RepositoryIndexEntry& entry : entries) {
    if (body.size() > 1) body += ',';
    body += "{\"name\":";
    AppendJsonString(&body, entry.name);
    if (!entry.version.empty()) {
      body += ",\"version\":";
      AppendJsonString(&body, entry.version);
    }
    body += ",\"state\":";
    AppendJsonString(&body, entry.state);
    if (!entry.reason.empty()) {
      body += ",\"reason\":";
      AppendJsonString(&body, entry.reason);
    }
    body += '}';
  }
  body += ']';
  return body;
}

// Parses the segments after "models/". TF Serving puts the verb after a ':' on the last segment.
StatusOr<ModelRoute> ParseModelRoute(std::vector<std::string_view> segments, bool tfs) {
  ModelRoute route;
  if (segments.empty()) return NotFound("unknown route");
  std::string_view& last = segments.back();
  if (tfs) {
    size_t colon = last.rfind(':');
    if (colon != std::string_view::npos) {
      route.action = std::string(last.substr(colon + 1));
      last = last.substr(0, colon);
      if (route.action != "predict" && route.action != "classify" && route.action != "regress") {
        return NotFound("unknown method ':" + route.action + "'");
      }
    }
  }
  route.model = std::string(segments[0]);
  SERVAL_RETURN_IF_ERROR(ValidateModelName(route.model));
  size_t next = 1;
  if (next < segments.size() && (segments[next] == "versions" || (tfs && segments[next] == "labels"))) {
    if (next + 1 >= segments.size()) return NotFound("missing version after '" + std::string(segments[next]) + "'");
    std::string_view value = segments[next + 1];
    if (segments[next] == "labels") {
      if (value.empty()) return InvalidArgument("empty version label");
      route.version.label = std::string(value);
    } else if (auto number = ParseVersionNumber(value)) {
      route.version.number = number;
    } else if (tfs) {
      return InvalidArgument("version '" + std::string(value) + "' is not a number");
    } else {
      // KServe's model_version is a string: Serval resolves a label there too.
      route.version.label = std::string(value);
    }
    next += 2;
  }
  if (next < segments.size()) {
    if (next + 1 != segments.size() || !route.action.empty()) return NotFound("unknown route");
    route.action = std::string(segments[next]);
    bool known = tfs ? route.action == "metadata"
                     : (route.action == "ready" || route.action == "infer" || route.action == "config" ||
                        route.action == "stats");
    if (!known) return NotFound("unknown route");
  }
  return route;
}

// :classify / :regress: tf.Example JSON, planned and run by api/tfs/tfs_example_task.h (shared with the gRPC
// Classify / Regress).
void HandleTfsExamples(const ModelRoute& route, const ServableHandle& handle, std::string_view body,
                       const InferenceRequest& context, HttpResponse& response) {
  const bool classify = route.action == "classify";
  StatusOr<TfsExamplesJsonRequest> decoded = DecodeTfsExamplesJson(body);
  if (!decoded.ok()) return TfsError(response, decoded.status());
  StatusOr<ExampleTask> task = PlanExampleTask(handle, decoded->signature_name, classify);
  if (!task.ok()) return TfsError(response, task.status());
  StatusOr<InferenceResponse> result = RunExampleTask(handle, *task, decoded->batch, task->Outputs(), context.deadline,
                                                      context.client_gone, CodecLimits{});
  if (!result.ok()) return TfsError(response, result.status());
  const int64_t batch = static_cast<int64_t>(decoded->batch.examples.size());
  if (classify) {
    StatusOr<ClassificationRows> rows = ReadClassifications(*result, task->classify_plan, batch);
    if (!rows.ok()) return TfsError(response, rows.status());
    response.body = EncodeTfsClassifyJson(*rows);
  } else {
    StatusOr<std::vector<float>> values = ReadRegressions(*result, task->regress_output, batch);
    if (!values.ok()) return TfsError(response, values.status());
    response.body = EncodeTfsRegressJson(*values);
  }
}

// Triton's platform names for the engine that serves a version.
std::string_view KServePlatform(const ServableHandle& handle) {
  return handle.platform() == kTensorFlowPlatform ? kKServeTensorFlowPlatform : kKServeOnnxPlatform;
}

}  // namespace

RestApi::RestApi(const ModelManager& models, RestApiOptions options) : models_(models), options_(std::move(options)) {}

void RestApi::Handle(HttpRequest& request, HttpResponse& response) const {
  // HEAD is GET without a body; the HTTP server drops the body.
  if (request.method == "HEAD") request.method = "GET";
  if (!options_.prometheus_path.empty() && (request.path == options_.prometheus_path || request.path == "/metrics") &&
      options_.metrics != nullptr) {
    if (request.method != "GET") return SetError(response, 405, EncodeKServeError(InvalidArgument("use GET")));
    response.content_type = std::string(metrics::kPrometheusContentType);
    response.body = options_.metrics->RenderPrometheus();
    return;
  }
  if (request.path == "/v1/health/ready") {  // Serval's TF Serving-side readiness route (TF Serving has none)
    if (request.method != "GET") return SetError(response, 405, EncodeTfsError(InvalidArgument("use GET")));
    if (!Ready()) return SetError(response, 503, EncodeTfsError(Unavailable("not ready")));
    response.body = "{\"status\":\"ready\"}";
    return;
  }
  RequestTrace trace(options_.metrics, metrics::Protocol::kRest);
  if (StartsWithIgnoreCase(request.path, "/v1/")) {
    HandleTfs(request, response, trace);
  } else if (request.path == "/v2" || request.path.starts_with("/v2/")) {
    HandleKServe(request, response, trace);
  } else {
    SetError(response, 404, EncodeKServeError(NotFound("unknown route '" + request.path + "'")));
  }
  trace.Finish(StatusCodeFromHttp(response.status));
  if (AccessLogEnabled()) {
    spdlog::info("access rest {} \"{}\" {} {:.3f} ms", EscapeForLog(request.method, 16), EscapeForLog(request.path),
                 response.status, std::chrono::duration<double, std::milli>(trace.elapsed()).count());
  }
}

void RestApi::SetRunContext(const HttpRequest& request, InferenceRequest& inference) const {
  inference.client_gone = request.peer_gone;
  if (options_.inference_timeout.count() > 0) {
    inference.deadline = std::chrono::steady_clock::now() + options_.inference_timeout;
  }
}

bool RestApi::Ready() const {
  return (options_.draining == nullptr || !options_.draining->load()) && models_.AllModelsReady();
}

void RestApi::HandleStats(const std::string& model, const VersionSelector& version, HttpResponse& response) const {
  // An empty `model`: every served model (GET /v2/models/stats).
  const bool all_models = model.empty();
  const std::vector<std::string> names = all_models ? models_.ModelNames() : std::vector<std::string>{model};
  // Model names are validated ([A-Za-z0-9_.-]) and every other field is a number: nothing needs escaping.
  std::string body = "{\"model_stats\":[";
  bool first = true;
  for (const std::string& name : names) {
    StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(name, version);
    if (!statuses.ok()) {
      if (!all_models) return KServeError(response, statuses.status());
      continue;  // unloaded meanwhile
    }
    for (const VersionStatus& status : *statuses) {
      if (status.state != VersionState::kAvailable) continue;
      metrics::ModelStatistics stats;
      if (options_.metrics != nullptr) {
        std::vector<metrics::ModelStatistics> found = options_.metrics->GetModelStatistics(name, status.version);
        if (!found.empty()) stats = found.front();
      }
      VersionSelector exact;
      exact.number = status.version;
      if (StatusOr<ServableHandle> handle = models_.Acquire(name, exact); handle.ok()) {
        if (std::optional<TritonStatisticsSnapshot> triton = handle->triton_statistics()) {
          ApplyTritonStatistics(*triton, &stats);
        }
      }
      if (!first) body += ',';
      first = false;
      body += "{\"name\":\"" + name + "\",\"version\":\"" + std::to_string(status.version) +
              "\",\"last_inference\":" + std::to_string(stats.last_inference_ms) +
              ",\"inference_count\":" + std::to_string(stats.inference_count) +
              ",\"execution_count\":" + std::to_string(stats.execution_count) + ",\"inference_stats\":{";
      const std::pair<const char*, const metrics::DurationStat*> parts[] = {{"success", &stats.success},
                                                                            {"fail", &stats.fail},
                                                                            {"queue", &stats.queue},
                                                                            {"compute_input", &stats.compute_input},
                                                                            {"compute_infer", &stats.compute_infer},
                                                                            {"compute_output", &stats.compute_output}};
      for (size_t i = 0; i < std::size(parts); ++i) {
        body += std::string(i == 0 ? "" : ",") + "\"" + parts[i].first +
                "\":{\"count\":" + std::to_string(parts[i].second->count) +
                ",\"ns\":" + std::to_string(parts[i].second->ns) + "}";
      }
      body += "},\"batch_stats\":[]}";
    }
  }
  body += "]}";
  response.body = std::move(body);
}

void RestApi::HandleTfs(HttpRequest& request, HttpResponse& response, RequestTrace& trace) const {
  std::vector<std::string_view> segments = SplitPath(std::string_view(request.path).substr(4));
  if (segments.size() < 2 || segments[0] != "models") return TfsError(response, NotFound("unknown route"));
  segments.erase(segments.begin());
  StatusOr<ModelRoute> route = ParseModelRoute(std::move(segments), /*tfs=*/true);
  if (!route.ok()) return TfsError(response, route.status());

  bool is_post_action = route->action == "predict" || route->action == "classify" || route->action == "regress";
  if (is_post_action != (request.method == "POST") || (!is_post_action && request.method != "GET")) {
    return SetError(response, 405, EncodeTfsError(InvalidArgument("method " + request.method + " not allowed here")));
  }
  if (route->action.empty()) {
    StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(route->model, route->version);
    if (!statuses.ok()) return TfsError(response, statuses.status());
    response.body = EncodeTfsModelStatus(*statuses);
    return;
  }
  if (route->action != "metadata") {
    trace.set_api(route->action == "classify"  ? metrics::api::kClassify
                  : route->action == "regress" ? metrics::api::kRegress
                                               : metrics::api::kPredict);
  }
  StatusOr<ServableHandle> handle = models_.Acquire(route->model, route->version);
  if (!handle.ok()) return TfsError(response, handle.status());
  trace.set_version(handle->model_name(), handle->version());
  if (route->action == "metadata") {
    const std::vector<SignatureDef> signatures = handle->AllSignatures();
    std::vector<TfsSignatureDef> defs;
    defs.reserve(signatures.size());
    for (const SignatureDef& def : signatures) defs.push_back({def.name, &def.io, def.method_name});
    response.body = EncodeTfsModelMetadata(handle->model_name(), handle->version(), defs);
    return;
  }
  if (route->action == "classify" || route->action == "regress") {
    InferenceRequest inference;  // the run context travels in it
    SetRunContext(request, inference);
    return HandleTfsExamples(*route, *handle, *request.body, inference, response);
  }
  const ServableHandle& served = *handle;
  StatusOr<TfsPredictRequest> decoded =
      DecodeTfsPredictRequest(*request.body, [&served](std::string_view name) -> StatusOr<const ModelSignature*> {
        StatusOr<ServableHandle::SignatureRef> ref = served.FindSignature(name);
        if (!ref.ok()) return ref.status();
        return ref->io;
      });
  if (!decoded.ok()) return TfsError(response, decoded.status());
  decoded->request.signature_name = decoded->signature_name;
  decoded->request.model_name = route->model;
  SetRunContext(request, decoded->request);
  InferenceResponse result;
  Status run = handle->Run(decoded->request, &result);
  if (!run.ok()) return TfsError(response, run);
  Status encoded = EncodeTfsPredictResponse(result, decoded->format, &response.body);
  if (!encoded.ok()) return TfsError(response, encoded);
}

void RestApi::HandleKServe(HttpRequest& request, HttpResponse& response, RequestTrace& trace) const {
  const std::string& path = request.path;
  if (path == "/v2/repository" || path.starts_with("/v2/repository/")) return HandleRepository(request, response);
  if (path == "/v2" || path == "/v2/health/live" || path == "/v2/health/ready") {
    if (request.method != "GET") return SetError(response, 405, EncodeKServeError(InvalidArgument("use GET")));
    if (path == "/v2") {
      std::vector<std::string> extensions = {"binary_tensor_data"};
      if (options_.model_control != nullptr && options_.model_control->enabled()) {
        extensions.push_back("model_repository");
      }
      response.body = EncodeKServeServerMetadata("serval", options_.server_version, extensions);
    } else if (path == "/v2/health/ready" && !Ready()) {
      SetError(response, 503, EncodeKServeError(Unavailable("not every model is available")));
    } else {
      response.body.clear();
    }
    return;
  }
  if (path == "/v2/models/stats") {  // every model's statistics (Triton's route without a model name)
    if (request.method != "GET") return SetError(response, 405, EncodeKServeError(InvalidArgument("use GET")));
    return HandleStats("", {}, response);
  }
  std::vector<std::string_view> segments = SplitPath(std::string_view(path).substr(4));
  if (segments.size() < 2 || segments[0] != "models") return KServeError(response, NotFound("unknown route"));
  segments.erase(segments.begin());
  StatusOr<ModelRoute> route = ParseModelRoute(std::move(segments), /*tfs=*/false);
  if (!route.ok()) return KServeError(response, route.status());
  const bool is_infer = route->action == "infer";
  if ((is_infer && request.method != "POST") || (!is_infer && request.method != "GET")) {
    return SetError(response, 405,
                    EncodeKServeError(InvalidArgument("method " + request.method + " not allowed here")));
  }
  if (route->action == "stats") return HandleStats(route->model, route->version, response);
  if (is_infer) trace.set_api(metrics::api::kKServeInfer);
  StatusOr<ServableHandle> handle = models_.Acquire(route->model, route->version);
  if (!handle.ok()) return KServeError(response, handle.status());
  trace.set_version(handle->model_name(), handle->version());
  if (route->action == "ready") {
    response.body.clear();
    return;
  }
  if (route->action == "config") {
    response.body = handle->triton() != nullptr
                        ? EncodeTritonModelConfigJson(handle->triton()->config)
                        : EncodeKServeModelConfig(handle->model_name(), KServePlatform(*handle), handle->signature());
    return;
  }
  if (route->action.empty()) {
    std::vector<std::string> versions;
    StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(route->model, {});
    if (statuses.ok()) {
      for (const VersionStatus& status : *statuses) {
        if (status.state == VersionState::kAvailable) versions.push_back(std::to_string(status.version));
      }
    }
    response.body =
        EncodeKServeModelMetadata(handle->model_name(), versions, KServePlatform(*handle), handle->signature());
    return;
  }
  std::optional<size_t> header_length;
  if (request.HasHeader("inference-header-content-length")) {
    StatusOr<size_t> length = ParseInferenceHeaderContentLength(request.Header("inference-header-content-length"));
    if (!length.ok()) return KServeError(response, length.status());
    header_length = *length;
  }
  StatusOr<KServeInferRequest> decoded = DecodeKServeInferRequest(request.body, header_length, handle->signature());
  if (!decoded.ok()) return KServeError(response, decoded.status());
  decoded->request.model_name = route->model;
  SetRunContext(request, decoded->request);
  InferenceResponse result;
  Status run = handle->Run(decoded->request, &result);
  if (!run.ok()) return KServeError(response, run);
  size_t json_length = 0;
  Status encoded = EncodeKServeInferResponse(result, decoded->output_options, &response.body, &json_length);
  if (!encoded.ok()) return KServeError(response, encoded);
  if (json_length > 0) {
    response.content_type = "application/octet-stream";
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(json_length));
  }
}

void RestApi::HandleRepository(HttpRequest& request, HttpResponse& response) const {
  // Authorisation comes before routing: a caller without the right learns nothing, not even which
  // routes exist.
  std::optional<std::string_view> credential;
  if (request.HasHeader("authorization")) credential = request.Header("authorization");
  Status allowed = AuthorizeModelControl(options_.model_control, credential);
  if (!allowed.ok()) return KServeError(response, allowed);
  ModelControl& control = *options_.model_control;
  // Cross-site requests. A web page may make a browser POST a "simple" request (text/plain, a form, or no
  // body at all) to any address without asking it first. Demanding application/json, or an Authorization
  // header, makes the browser ask first (a CORS preflight); and a request whose Origin is not this server
  // (as its Host names it) is refused even when CORS support would let the preflight pass.
  if (request.method == "POST") {
    if (!IsJsonMediaType(request.Header("content-type")) && !credential) {
      return SetError(
          response, 415,
          EncodeKServeError(InvalidArgument(
              "model control requests need 'Content-Type: application/json' (or an Authorization header)")));
    }
    if (request.HasHeader("origin") && !OriginMatchesHost(request.Header("origin"), request.Header("host"))) {
      return KServeError(response, PermissionDenied("model control requests are refused from another origin"));
    }
  }

  // /v2/repository/index, /v2/repository/models/{m}/load, /v2/repository/models/{m}/unload
  std::vector<std::string_view> segments = SplitPath(std::string_view(request.path).substr(4));
  const bool index = segments.size() == 2 && segments[1] == "index";
  const bool model_action =
      segments.size() == 4 && segments[1] == "models" && (segments[3] == "load" || segments[3] == "unload");
  if (!index && !model_action) return KServeError(response, NotFound("unknown route '" + request.path + "'"));
  if (request.method != "POST") {
    return SetError(response, 405, EncodeKServeError(InvalidArgument("use POST for " + request.path)));
  }
  StatusOr<RepositoryRequestBody> body = DecodeRepositoryRequestBody(*request.body);
  if (!body.ok()) return KServeError(response, body.status());
  if (index) {
    response.body = EncodeRepositoryIndex(control.Index(body->ready));
    return;
  }
  const std::string_view model = segments[2];
  Status done;
  if (segments[3] == "load") {
    done = CheckLoadParameters(body->parameter_names);
    if (done.ok()) done = control.Load(model);
  } else {
    done = control.Unload(model);  // "unload_dependents" has no meaning: Serval has no ensembles
  }
  if (!done.ok()) return KServeError(response, done);
  response.body = "{}";
}

}  // namespace serval

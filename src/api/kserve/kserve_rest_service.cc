#include "api/kserve/kserve_rest_service.h"

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "api/json/json_writer.h"
#include "api/kserve/kserve_model_config.h"
#include "api/kserve/kserve_rest_codec.h"
#include "repository/model_config.h"

namespace serval {
namespace {

// The model the route's captures name: {model} and KServe's string {version} (digits = a number, anything
// else = a label).
StatusOr<ModelRef> ModelOf(const RouteParams& params) {
  ModelRef model{params.Get("model"), VersionSelectorFromString(params.Get("version")), /*triton_errors=*/true};
  SERVAL_RETURN_IF_ERROR(ValidateModelName(model.name));
  return model;
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

// KServe statistics JSON. Model names are validated ([A-Za-z0-9_.-]) and every other field is a number:
// nothing needs escaping.
std::string EncodeStatistics(const std::vector<VersionStatistics>& versions) {
  std::string body = "{\"model_stats\":[";
  bool first = true;
  for (const VersionStatistics& version : versions) {
    const metrics::ModelStatistics& stats = version.counters;
    if (!first) body += ',';
    first = false;
    body += "{\"name\":\"" + version.name + "\",\"version\":\"" + std::to_string(version.version) +
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
  body += "]}";
  return body;
}

}  // namespace

KServeRestService::KServeRestService(const ServingFrontend& frontend, KServeRestOptions options)
    : frontend_(frontend), options_(std::move(options)) {
  // A handler of the model in the route's captures.
  using ModelHandler =
      RestStatus (*)(const KServeRestService&, const HttpRequest&, const ModelRef&, HttpResponse&, RequestTrace&);
  auto on_model = [](ModelHandler handler) -> Handler {
    return [handler](const KServeRestService& self, const HttpRequest& request, const RouteParams& params,
                     HttpResponse& response, RequestTrace& trace) -> RestStatus {
      SERVAL_ASSIGN_OR_RETURN(ModelRef model, ModelOf(params));
      return handler(self, request, model, response, trace);
    };
  };
  routes_.Add("GET", "/v2",
              [](const KServeRestService& self, const HttpRequest&, const RouteParams&, HttpResponse& response,
                 RequestTrace&) { return self.GetServerMetadata(response); });
  routes_.Add("GET", "/v2/health/live",
              [](const KServeRestService&, const HttpRequest&, const RouteParams&, HttpResponse& response,
                 RequestTrace&) -> RestStatus {
                response.body.clear();
                return RestStatus::Ok();
              });
  routes_.Add("GET", "/v2/health/ready",
              [](const KServeRestService& self, const HttpRequest&, const RouteParams&, HttpResponse& response,
                 RequestTrace&) -> RestStatus {
                if (!self.frontend_.ServerReady()) return Unavailable("not every model is available");
                response.body.clear();
                return RestStatus::Ok();
              });
  // Every model's statistics (Triton's route without a model name), before the model routes match "stats".
  routes_.Add(
      "GET", "/v2/models/stats",
      [](const KServeRestService& self, const HttpRequest&, const RouteParams&, HttpResponse& response, RequestTrace&) {
        return self.GetModelStatistics(ModelRef{.name = {}, .version = {}, .triton_errors = true}, response);
      });
  for (const std::string prefix : {"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}) {
    routes_.Add(
        "GET", prefix,
        on_model([](const KServeRestService& self, const HttpRequest&, const ModelRef& model, HttpResponse& response,
                    RequestTrace& trace) { return self.GetModelMetadata(model, response, trace); }));
    routes_.Add("GET", prefix + "/ready",
                on_model([](const KServeRestService& self, const HttpRequest&, const ModelRef& model,
                            HttpResponse& response, RequestTrace&) -> RestStatus {
                  SERVAL_RETURN_IF_ERROR(self.frontend_.CheckModelReady(model));
                  response.body.clear();
                  return RestStatus::Ok();
                }));
    routes_.Add(
        "GET", prefix + "/config",
        on_model([](const KServeRestService& self, const HttpRequest&, const ModelRef& model, HttpResponse& response,
                    RequestTrace& trace) { return self.GetModelConfig(model, response, trace); }));
    routes_.Add(
        "GET", prefix + "/stats",
        on_model([](const KServeRestService& self, const HttpRequest&, const ModelRef& model, HttpResponse& response,
                    RequestTrace&) { return self.GetModelStatistics(model, response); }));
    routes_.Add("POST", prefix + "/infer",
                on_model([](const KServeRestService& self, const HttpRequest& request, const ModelRef& model,
                            HttpResponse& response,
                            RequestTrace& trace) { return self.Infer(request, model, response, trace); }));
  }

  // Triton's repository extension, behind Repository's authorisation.
  repository_routes_.Add("POST", "/v2/repository/index",
                         [](const KServeRestService& self, const HttpRequest& request, const RouteParams&,
                            HttpResponse& response, RequestTrace&) -> RestStatus {
                           SERVAL_ASSIGN_OR_RETURN(RepositoryRequestBody body,
                                                   DecodeRepositoryRequestBody(*request.body));
                           response.body = EncodeRepositoryIndex(self.options_.model_control->Index(body.ready));
                           return RestStatus::Ok();
                         });
  repository_routes_.Add("POST", "/v2/repository/models/{model}/load",
                         [](const KServeRestService& self, const HttpRequest& request, const RouteParams& params,
                            HttpResponse& response, RequestTrace&) -> RestStatus {
                           SERVAL_ASSIGN_OR_RETURN(RepositoryRequestBody body,
                                                   DecodeRepositoryRequestBody(*request.body));
                           SERVAL_RETURN_IF_ERROR(CheckLoadParameters(body.parameter_names));
                           SERVAL_RETURN_IF_ERROR(self.options_.model_control->Load(params.Get("model")));
                           response.body = "{}";
                           return RestStatus::Ok();
                         });
  repository_routes_.Add("POST", "/v2/repository/models/{model}/unload",
                         [](const KServeRestService& self, const HttpRequest& request, const RouteParams& params,
                            HttpResponse& response, RequestTrace&) -> RestStatus {
                           SERVAL_RETURN_IF_ERROR(DecodeRepositoryRequestBody(*request.body).status());
                           // "unload_dependents" has no meaning: Serval has no ensembles.
                           SERVAL_RETURN_IF_ERROR(self.options_.model_control->Unload(params.Get("model")));
                           response.body = "{}";
                           return RestStatus::Ok();
                         });
}

RestStatus KServeRestService::Handle(const HttpRequest& request, HttpResponse& response, RequestTrace& trace) const {
  const std::string& path = request.path;
  if (path == "/v2/repository" || path.starts_with("/v2/repository/")) return Repository(request, response);
  RestRouter<Handler>::Match match = routes_.Find(request.method, path);
  if (match.handler == nullptr) {
    if (match.path_matched) return RestStatus(405, InvalidArgument("method " + request.method + " not allowed here"));
    return NotFound("unknown route");
  }
  return (*match.handler)(*this, request, match.params, response, trace);
}

RestStatus KServeRestService::GetServerMetadata(HttpResponse& response) const {
  response.body = EncodeKServeServerMetadata(
      "serval", options_.server_version,
      KServeServerExtensions(options_.model_control != nullptr && options_.model_control->enabled()));
  return RestStatus::Ok();
}

RestStatus KServeRestService::GetModelMetadata(const ModelRef& model, HttpResponse& response,
                                               RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(serval::ModelMetadata metadata, frontend_.Metadata(model, &trace));
  std::vector<std::string> versions;
  versions.reserve(metadata.available_versions.size());
  for (int64_t version : metadata.available_versions) versions.push_back(std::to_string(version));
  const ServableHandle& handle = metadata.handle;
  response.body = EncodeKServeModelMetadata(handle.model_name(), versions, KServePlatformName(handle.platform()),
                                            handle.signature());
  return RestStatus::Ok();
}

RestStatus KServeRestService::GetModelConfig(const ModelRef& model, HttpResponse& response, RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, frontend_.Resolve(model, &trace));
  response.body =
      handle.triton() != nullptr
          ? EncodeTritonModelConfigJson(handle.triton()->config)
          : EncodeKServeModelConfig(handle.model_name(), KServePlatformName(handle.platform()), handle.signature());
  return RestStatus::Ok();
}

RestStatus KServeRestService::GetModelStatistics(const ModelRef& model, HttpResponse& response) const {
  SERVAL_ASSIGN_OR_RETURN(std::vector<VersionStatistics> statistics, frontend_.Statistics(model));
  response.body = EncodeStatistics(statistics);
  return RestStatus::Ok();
}

RestStatus KServeRestService::Infer(const HttpRequest& request, const ModelRef& model, HttpResponse& response,
                                    RequestTrace& trace) const {
  trace.set_api(metrics::api::kKServeInfer);
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, frontend_.Resolve(model, &trace));
  std::optional<size_t> header_length;
  if (request.HasHeader("inference-header-content-length")) {
    SERVAL_ASSIGN_OR_RETURN(header_length,
                            ParseInferenceHeaderContentLength(request.Header("inference-header-content-length")));
  }
  SERVAL_ASSIGN_OR_RETURN(
      KServeInferRequest decoded,
      DecodeKServeInferRequest(request.body, header_length, handle.signature(), {}, handle.model_name()));
  SERVAL_ASSIGN_OR_RETURN(
      InferenceResponse result,
      frontend_.Infer(handle, std::move(decoded.request), RestCallContext(request, options_.inference_timeout)));
  SERVAL_RETURN_IF_ERROR(ApplyKServeClassification(handle, decoded.classification, &result));
  size_t json_length = 0;
  SERVAL_RETURN_IF_ERROR(EncodeKServeInferResponse(result, decoded.output_options, &response.body, &json_length));
  if (json_length > 0) {
    response.content_type = "application/octet-stream";
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(json_length));
  }
  return RestStatus::Ok();
}

RestStatus KServeRestService::Repository(const HttpRequest& request, HttpResponse& response) const {
  // Authorisation comes before routing: a caller without the right learns nothing, not even which
  // routes exist.
  std::optional<std::string_view> credential;
  if (request.HasHeader("authorization")) credential = request.Header("authorization");
  SERVAL_RETURN_IF_ERROR(AuthorizeModelControl(options_.model_control, credential));
  // Cross-site requests. A web page may make a browser POST a "simple" request (text/plain, a form, or no
  // body at all) to any address without asking it first. Demanding application/json, or an Authorization
  // header, makes the browser ask first (a CORS preflight); and a request whose Origin is not this server
  // (as its Host names it) is refused even when CORS support would let the preflight pass.
  if (request.method == "POST") {
    if (!IsJsonMediaType(request.Header("content-type")) && !credential) {
      return RestStatus(415, InvalidArgument("model control requests need 'Content-Type: application/json' (or an "
                                             "Authorization header)"));
    }
    if (request.HasHeader("origin") && !OriginMatchesHost(request.Header("origin"), request.Header("host"))) {
      return PermissionDenied("model control requests are refused from another origin");
    }
  }
  RestRouter<Handler>::Match match = repository_routes_.Find(request.method, request.path);
  if (match.handler == nullptr) {
    if (match.path_matched) return RestStatus(405, InvalidArgument("use POST for " + request.path));
    return NotFound("unknown route '" + request.path + "'");
  }
  RequestTrace untraced(nullptr, metrics::Protocol::kRest);
  return (*match.handler)(*this, request, match.params, response, untraced);
}

}  // namespace serval

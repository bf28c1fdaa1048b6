#include "api/rest_api.h"

#include <charconv>
#include <optional>
#include <string_view>

#include "api/kserve/kserve_rest_codec.h"
#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_rest_codec.h"

namespace serval {
namespace {

constexpr std::string_view kDefaultSignature = "serving_default";

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
  std::string action;  // "" (status / metadata), "metadata", "predict", "classify", "regress", "ready", "infer", "config"
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
  if (next < segments.size() &&
      (segments[next] == "versions" || (tfs && segments[next] == "labels"))) {
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
                     : (route.action == "ready" || route.action == "infer" || route.action == "config");
    if (!known) return NotFound("unknown route");
  }
  return route;
}

// :classify / :regress: tf.Example JSON mapped onto the model's tensors (api/tfs/tfs_examples.h, shared with
// the gRPC Classify / Regress).
void HandleTfsExamples(const ModelRoute& route, const ServableHandle& handle, std::string_view body,
                       HttpResponse& response) {
  const bool classify = route.action == "classify";
  StatusOr<TfsExamplesJsonRequest> decoded = DecodeTfsExamplesJson(body);
  if (!decoded.ok()) return TfsError(response, decoded.status());
  if (!decoded->signature_name.empty() && decoded->signature_name != kDefaultSignature) {
    return TfsError(response, FailedPrecondition("Serving signature name: \"" + decoded->signature_name +
                                                 "\" not found in signature def"));
  }
  InferenceRequest inference;
  ClassifyPlan plan;
  std::string regress_output;
  if (classify) {
    StatusOr<ClassifyPlan> planned = PlanClassify(handle.signature());
    if (!planned.ok()) return TfsError(response, planned.status());
    plan = std::move(*planned);
    inference.outputs = plan.Outputs();
  } else {
    StatusOr<std::string> output = PlanRegress(handle.signature());
    if (!output.ok()) return TfsError(response, output.status());
    regress_output = std::move(*output);
    inference.outputs = {regress_output};
  }
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(handle.signature(), decoded->batch);
  if (!inputs.ok()) return TfsError(response, inputs.status());
  inference.model_name = route.model;
  inference.version = route.version;
  inference.inputs = std::move(*inputs);
  InferenceResponse result;
  Status run = handle.Run(inference, &result);
  if (!run.ok()) return TfsError(response, run);
  const int64_t batch = static_cast<int64_t>(decoded->batch.examples.size());
  if (classify) {
    StatusOr<ClassificationRows> rows = ReadClassifications(result, plan, batch);
    if (!rows.ok()) return TfsError(response, rows.status());
    response.body = EncodeTfsClassifyJson(*rows);
  } else {
    StatusOr<std::vector<float>> values = ReadRegressions(result, regress_output, batch);
    if (!values.ok()) return TfsError(response, values.status());
    response.body = EncodeTfsRegressJson(*values);
  }
}

}  // namespace

RestApi::RestApi(const ModelManager& models, RestApiOptions options) : models_(models), options_(std::move(options)) {}

void RestApi::Handle(HttpRequest& request, HttpResponse& response) const {
  // HEAD is GET without a body; the HTTP server drops the body.
  if (request.method == "HEAD") request.method = "GET";
  if (StartsWithIgnoreCase(request.path, "/v1/")) return HandleTfs(request, response);
  if (request.path == "/v2" || request.path.starts_with("/v2/")) return HandleKServe(request, response);
  SetError(response, 404, EncodeKServeError(NotFound("unknown route '" + request.path + "'")));
}

void RestApi::HandleTfs(HttpRequest& request, HttpResponse& response) const {
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
  StatusOr<ServableHandle> handle = models_.Acquire(route->model, route->version);
  if (!handle.ok()) return TfsError(response, handle.status());
  if (route->action == "metadata") {
    response.body = EncodeTfsModelMetadata(handle->model_name(), handle->version(), handle->signature());
    return;
  }
  if (route->action == "classify" || route->action == "regress") {
    return HandleTfsExamples(*route, *handle, *request.body, response);
  }
  StatusOr<TfsPredictRequest> decoded = DecodeTfsPredictRequest(*request.body, handle->signature());
  if (!decoded.ok()) return TfsError(response, decoded.status());
  if (!decoded->signature_name.empty() && decoded->signature_name != kDefaultSignature) {
    return TfsError(response, FailedPrecondition("Serving signature name: \"" + decoded->signature_name +
                                                 "\" not found in signature def"));
  }
  decoded->request.model_name = route->model;
  InferenceResponse result;
  Status run = handle->Run(decoded->request, &result);
  if (!run.ok()) return TfsError(response, run);
  Status encoded = EncodeTfsPredictResponse(result, decoded->format, &response.body);
  if (!encoded.ok()) return TfsError(response, encoded);
}

void RestApi::HandleKServe(HttpRequest& request, HttpResponse& response) const {
  const std::string& path = request.path;
  if (path == "/v2" || path == "/v2/health/live" || path == "/v2/health/ready") {
    if (request.method != "GET") return SetError(response, 405, EncodeKServeError(InvalidArgument("use GET")));
    if (path == "/v2") {
      response.body = EncodeKServeServerMetadata("serval", options_.server_version, {"binary_tensor_data"});
    } else if (path == "/v2/health/ready" && !models_.AllModelsReady()) {
      SetError(response, 503, EncodeKServeError(Unavailable("not every model is available")));
    } else {
      response.body.clear();
    }
    return;
  }
  std::vector<std::string_view> segments = SplitPath(std::string_view(path).substr(4));
  if (segments.size() < 2 || segments[0] != "models") return KServeError(response, NotFound("unknown route"));
  segments.erase(segments.begin());
  StatusOr<ModelRoute> route = ParseModelRoute(std::move(segments), /*tfs=*/false);
  if (!route.ok()) return KServeError(response, route.status());
  bool is_infer = route->action == "infer";
  if ((is_infer && request.method != "POST") || (!is_infer && request.method != "GET")) {
    return SetError(response, 405, EncodeKServeError(InvalidArgument("method " + request.method + " not allowed here")));
  }
  StatusOr<ServableHandle> handle = models_.Acquire(route->model, route->version);
  if (!handle.ok()) return KServeError(response, handle.status());
  if (route->action == "ready") {
    response.body.clear();
    return;
  }
  if (route->action == "config") {
    response.body = EncodeKServeModelConfig(handle->model_name(), kKServeOnnxPlatform, handle->signature());
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
    response.body = EncodeKServeModelMetadata(handle->model_name(), versions, kKServeOnnxPlatform, handle->signature());
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

}  // namespace serval

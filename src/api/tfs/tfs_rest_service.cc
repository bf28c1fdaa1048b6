#include "api/tfs/tfs_rest_service.h"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_rest_codec.h"
#include "repository/model_config.h"

namespace serval {
namespace {

// A TF Serving version segment: decimal digits that fit an int64 (at most 18, so no overflow check).
std::optional<int64_t> ParseVersionNumber(std::string_view text) {
  int64_t value = 0;
  if (text.empty() || text.size() > 18) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// The model the route's captures name: {model}, and {version} (a number) or {label}.
StatusOr<ModelRef> ModelOf(const RouteParams& params) {
  ModelRef model{params.Get("model"), {}};
  SERVAL_RETURN_IF_ERROR(ValidateModelName(model.name));
  if (params.Has("version")) {
    const std::string_view value = params.Get("version");
    std::optional<int64_t> number = ParseVersionNumber(value);
    if (!number) return InvalidArgument("version '" + std::string(value) + "' is not a number");
    model.version.number = number;
  } else if (params.Has("label")) {
    model.version.label = std::string(params.Get("label"));
  }
  return model;
}

}  // namespace

TfsRestService::TfsRestService(const ServingFrontend& frontend, TfsRestOptions options)
    : frontend_(frontend), options_(options) {
  const Handler status = [](const TfsRestService& self, const HttpRequest&, const ModelRef& model,
                            HttpResponse& response, RequestTrace&) { return self.ModelStatus(model, response); };
  const Handler metadata = [](const TfsRestService& self, const HttpRequest&, const ModelRef& model,
                              HttpResponse& response,
                              RequestTrace& trace) { return self.Metadata(model, response, trace); };
  const Handler predict = [](const TfsRestService& self, const HttpRequest& request, const ModelRef& model,
                             HttpResponse& response,
                             RequestTrace& trace) { return self.Predict(request, model, response, trace); };
  const Handler classify = [](const TfsRestService& self, const HttpRequest& request, const ModelRef& model,
                              HttpResponse& response, RequestTrace& trace) {
    return self.Examples(/*classify=*/true, request, model, response, trace);
  };
  const Handler regress = [](const TfsRestService& self, const HttpRequest& request, const ModelRef& model,
                             HttpResponse& response, RequestTrace& trace) {
    return self.Examples(/*classify=*/false, request, model, response, trace);
  };
  // Every route three ways: the newest version, /versions/{number}, /labels/{label}.
  for (const std::string prefix :
       {"/v1/models/{model}", "/v1/models/{model}/versions/{version}", "/v1/models/{model}/labels/{label}"}) {
    routes_.Add("GET", prefix, status)
        .Add("GET", prefix + "/metadata", metadata)
        .Add("POST", prefix + ":predict", predict)
        .Add("POST", prefix + ":classify", classify)
        .Add("POST", prefix + ":regress", regress);
  }
}

RestStatus TfsRestService::Handle(const HttpRequest& request, HttpResponse& response, RequestTrace& trace) const {
  if (request.path == "/v1/health/ready") {  // Serval's TF Serving-side readiness route (TF Serving has none)
    if (request.method != "GET") return RestStatus(405, InvalidArgument("use GET"));
    if (!frontend_.ServerReady()) return Unavailable("not ready");
    response.body = "{\"status\":\"ready\"}";
    return RestStatus::Ok();
  }
  RestRouter<Handler>::Match match = routes_.Find(request.method, request.path);
  if (match.handler == nullptr) {
    if (match.path_matched) return RestStatus(405, InvalidArgument("method " + request.method + " not allowed here"));
    return NotFound("unknown route");
  }
  SERVAL_ASSIGN_OR_RETURN(ModelRef model, ModelOf(match.params));
  return (*match.handler)(*this, request, model, response, trace);
}

RestStatus TfsRestService::ModelStatus(const ModelRef& model, HttpResponse& response) const {
  SERVAL_ASSIGN_OR_RETURN(std::vector<VersionStatus> statuses, frontend_.ModelStatus(model));
  response.body = EncodeTfsModelStatus(statuses);
  return RestStatus::Ok();
}

RestStatus TfsRestService::Metadata(const ModelRef& model, HttpResponse& response, RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(ModelMetadata metadata, frontend_.Metadata(model, &trace));
  std::vector<TfsSignatureDef> defs;
  defs.reserve(metadata.signatures.size());
  for (const SignatureDef& def : metadata.signatures) defs.push_back({def.name, &def.io, def.method_name});
  response.body = EncodeTfsModelMetadata(metadata.handle.model_name(), metadata.handle.version(), defs);
  return RestStatus::Ok();
}

RestStatus TfsRestService::Predict(const HttpRequest& request, const ModelRef& model, HttpResponse& response,
                                   RequestTrace& trace) const {
  trace.set_api(metrics::api::kPredict);
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, frontend_.Resolve(model, &trace));
  SERVAL_ASSIGN_OR_RETURN(
      TfsPredictRequest decoded,
      DecodeTfsPredictRequest(*request.body, [&handle](std::string_view name) -> StatusOr<const ModelSignature*> {
        SERVAL_ASSIGN_OR_RETURN(SignatureRef ref, ServingFrontend::ResolveSignature(handle, name));
        return ref.io;
      }));
  decoded.request.signature_name = decoded.signature_name;
  SERVAL_ASSIGN_OR_RETURN(
      InferenceResponse result,
      frontend_.Infer(handle, std::move(decoded.request), RestCallContext(request, options_.inference_timeout)));
  SERVAL_RETURN_IF_ERROR(EncodeTfsPredictResponse(result, decoded.format, &response.body));
  return RestStatus::Ok();
}

// :classify / :regress: tf.Example JSON; the frontend plans and runs it as for the gRPC Classify / Regress.
RestStatus TfsRestService::Examples(bool classify, const HttpRequest& request, const ModelRef& model,
                                    HttpResponse& response, RequestTrace& trace) const {
  trace.set_api(classify ? metrics::api::kClassify : metrics::api::kRegress);
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, frontend_.Resolve(model, &trace));
  SERVAL_ASSIGN_OR_RETURN(TfsExamplesJsonRequest decoded, DecodeTfsExamplesJson(*request.body));
  const CallContext call = RestCallContext(request, options_.inference_timeout);
  if (classify) {
    SERVAL_ASSIGN_OR_RETURN(ExampleTaskResult result,
                            frontend_.Classify(handle, decoded.signature_name, decoded.batch, call));
    response.body = EncodeTfsClassifyJson(result.classifications);
  } else {
    SERVAL_ASSIGN_OR_RETURN(ExampleTaskResult result,
                            frontend_.Regress(handle, decoded.signature_name, decoded.batch, call));
    response.body = EncodeTfsRegressJson(result.regressions);
  }
  return RestStatus::Ok();
}

}  // namespace serval

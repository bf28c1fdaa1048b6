#include "api/tfs/tfs_grpc_service.h"

#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/text_format.h>

#include "api/grpc/budgeted_parse.h"
#include "api/grpc/grpc_glue.h"
#include "api/grpc/worker_call.h"
#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_grpc_codec.h"
#include "core/client_message.h"

namespace serval {
namespace {

namespace tfs = ::tensorflow::serving;

// The model a request names, its handle, and the spec as decoded.
struct Resolved {
  TfsModelSpec spec;
  ServableHandle handle;
};

StatusOr<Resolved> Resolve(const ServingFrontend& frontend, bool has_spec, const tfs::ModelSpec& proto_spec,
                           RequestTrace* trace = nullptr) {
  if (!has_spec) return InvalidArgument("Missing ModelSpec");
  SERVAL_ASSIGN_OR_RETURN(TfsModelSpec spec, DecodeModelSpec(proto_spec));
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, frontend.Resolve({spec.name, spec.version}, trace));
  return Resolved{std::move(spec), std::move(handle)};
}

// One inference call of `api`: `run(trace)` does it on a worker, the trace records it once with its final
// status, and the call is finished with it.
template <typename Run>
grpc::ServerUnaryReactor* TracedCall(grpc::CallbackServerContext* context, WorkerPool& workers,
                                     metrics::ServingMetrics* metrics, std::string_view api, Run&& run,
                                     InlineGate* inline_gate, size_t body_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(workers, reactor, metrics, api, std::forward<Run>(run), inline_gate, body_bytes);
  return reactor;
}

// A raw method: on a worker (or inline, see worker_call.h), parses the request within the request memory budget, runs
// `run(request, &response, trace)`, and serializes the response into the call's buffer. The messages live on an arena
// on the worker's stack for the call (borrowed tensor bytes point into the request while the model runs).
template <typename Request, typename Response, typename Run>
grpc::ServerUnaryReactor* RawCall(grpc::CallbackServerContext* context, const TfsGrpcOptions& options,
                                  std::string_view api, const grpc::ByteBuffer* raw_request,
                                  grpc::ByteBuffer* raw_response, Run&& run) {
  return TracedCall(
      context, *options.workers, options.metrics, api,
      [raw_request, raw_response, run = std::forward<Run>(run)](RequestTrace& trace) -> Status {
        CallArena arena;
        Request* request = arena.Create<Request>();
        SERVAL_RETURN_IF_ERROR(ParseWithinBudget(*raw_request, request));
        Response* response = arena.Create<Response>();
        SERVAL_RETURN_IF_ERROR(run(*request, response, trace));
        return SerializeToByteBuffer(*response, raw_response);
      },
      options.inline_gate, raw_request->Length());
}

}  // namespace

TfsPredictionService::TfsPredictionService(const ModelManager& models, TfsGrpcOptions options)
    : options_(options),
      frontend_(models, {.metrics = options.metrics, .draining = nullptr, .limits = options.limits}) {}

grpc::ServerUnaryReactor* TfsPredictionService::Predict(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawCall<tfs::PredictRequest, tfs::PredictResponse>(
      context, options_, metrics::api::kPredict, request, response,
      [this, context](const tfs::PredictRequest& parsed, tfs::PredictResponse* answer, RequestTrace& trace) {
        return DoPredict(*context, parsed, answer, trace);
      });
}

grpc::ServerUnaryReactor* TfsPredictionService::Classify(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawCall<tfs::ClassificationRequest, tfs::ClassificationResponse>(
      context, options_, metrics::api::kClassify, request, response,
      [this, context](const tfs::ClassificationRequest& parsed, tfs::ClassificationResponse* answer,
                      RequestTrace& trace) { return DoClassify(*context, parsed, answer, trace); });
}

grpc::ServerUnaryReactor* TfsPredictionService::Regress(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawCall<tfs::RegressionRequest, tfs::RegressionResponse>(
      context, options_, metrics::api::kRegress, request, response,
      [this, context](const tfs::RegressionRequest& parsed, tfs::RegressionResponse* answer, RequestTrace& trace) {
        return DoRegress(*context, parsed, answer, trace);
      });
}

grpc::ServerUnaryReactor* TfsPredictionService::MultiInference(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  return RawCall<tfs::MultiInferenceRequest, tfs::MultiInferenceResponse>(
      context, options_, metrics::api::kMultiInference, request, response,
      [this, context](const tfs::MultiInferenceRequest& parsed, tfs::MultiInferenceResponse* answer,
                      RequestTrace& trace) { return DoMultiInference(*context, parsed, answer, trace); });
}

grpc::ServerUnaryReactor* TfsPredictionService::GetModelMetadata(grpc::CallbackServerContext* context,
                                                                 const tfs::GetModelMetadataRequest* request,
                                                                 tfs::GetModelMetadataResponse* response) {
  return FinishNow(context, DoGetModelMetadata(*request, response));
}

Status TfsPredictionService::DoPredict(const grpc::CallbackServerContext& context, const tfs::PredictRequest& request,
                                       tfs::PredictResponse* response, RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(Resolved resolved,
                          Resolve(frontend_, request.has_model_spec(), request.model_spec(), &trace));
  SERVAL_ASSIGN_OR_RETURN(SignatureRef signature,
                          ServingFrontend::ResolveSignature(resolved.handle, resolved.spec.signature_name));
  // No owner: gRPC frees the request message only after the call is finished, after Run (the only user of
  // the borrowed bytes) returned.
  SERVAL_ASSIGN_OR_RETURN(InferenceRequest decoded,
                          DecodePredictRequest(request, *signature.io, /*owner=*/nullptr, options_.limits));
  decoded.signature_name = resolved.spec.signature_name;
  SERVAL_ASSIGN_OR_RETURN(InferenceResponse result,
                          frontend_.Infer(resolved.handle, std::move(decoded), CallContextOf(context)));
  const TensorEncoding encoding =
      options_.serialize_as_tensor_content ? TensorEncoding::kTensorContent : TensorEncoding::kTypedValues;
  return EncodePredictResponse(result, request.model_spec(), encoding, response);
}

Status TfsPredictionService::DoClassify(const grpc::CallbackServerContext& context,
                                        const tfs::ClassificationRequest& request,
                                        tfs::ClassificationResponse* response, RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(Resolved resolved,
                          Resolve(frontend_, request.has_model_spec(), request.model_spec(), &trace));
  SERVAL_ASSIGN_OR_RETURN(ExampleBatch batch, DecodeExampleInput(request.input()));
  SERVAL_ASSIGN_OR_RETURN(ExampleTaskResult result, frontend_.Classify(resolved.handle, resolved.spec.signature_name,
                                                                       batch, CallContextOf(context)));
  EncodeClassificationResult(result.classifications, response->mutable_result());
  EncodeModelSpec(resolved.spec.name, result.model_version, resolved.spec.signature_name,
                  response->mutable_model_spec());
  return Status::Ok();
}

Status TfsPredictionService::DoRegress(const grpc::CallbackServerContext& context,
                                       const tfs::RegressionRequest& request, tfs::RegressionResponse* response,
                                       RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(Resolved resolved,
                          Resolve(frontend_, request.has_model_spec(), request.model_spec(), &trace));
  SERVAL_ASSIGN_OR_RETURN(ExampleBatch batch, DecodeExampleInput(request.input()));
  SERVAL_ASSIGN_OR_RETURN(ExampleTaskResult result, frontend_.Regress(resolved.handle, resolved.spec.signature_name,
                                                                      batch, CallContextOf(context)));
  EncodeRegressionResult(result.regressions, response->mutable_result());
  EncodeModelSpec(resolved.spec.name, result.model_version, resolved.spec.signature_name,
                  response->mutable_model_spec());
  return Status::Ok();
}

Status TfsPredictionService::DoMultiInference(const grpc::CallbackServerContext& context,
                                              const tfs::MultiInferenceRequest& request,
                                              tfs::MultiInferenceResponse* response, RequestTrace& trace) const {
  if (request.tasks().empty()) return InvalidArgument("MultiInferenceRequest must have at least one task");
  const tfs::ModelSpec& first = request.tasks(0).model_spec();
  std::vector<ExampleTaskRequest> tasks;
  for (const tfs::InferenceTask& task : request.tasks()) {
    if (!task.has_model_spec()) return InvalidArgument("Missing ModelSpec in an InferenceTask");
    const tfs::ModelSpec& spec = task.model_spec();
    if (spec.name() != first.name()) {
      return InvalidArgument("All ModelSpecs in a MultiInferenceRequest must access the same model name.");
    }
    const bool same_version =
        spec.version_choice_case() == first.version_choice_case() &&
        (spec.version_choice_case() != tfs::ModelSpec::kVersion || spec.version().value() == first.version().value()) &&
        (spec.version_choice_case() != tfs::ModelSpec::kVersionLabel || spec.version_label() == first.version_label());
    if (!same_version) {
      return InvalidArgument("All ModelSpecs in a MultiInferenceRequest must select the same model version.");
    }
    bool classify = false;
    if (task.method_name() == kTfsClassifyMethodName) {
      classify = true;
    } else if (task.method_name() != kTfsRegressMethodName) {
      return InvalidArgument("Unsupported signature method_name: " + task.method_name().substr(0, 256) +
                             " (use tensorflow/serving/classify or tensorflow/serving/regress)");
    }
    tasks.push_back({classify, spec.signature_name()});
  }
  SERVAL_ASSIGN_OR_RETURN(Resolved resolved, Resolve(frontend_, true, first, &trace));
  SERVAL_ASSIGN_OR_RETURN(ExampleBatch batch, DecodeExampleInput(request.input()));
  SERVAL_ASSIGN_OR_RETURN(std::vector<ExampleTaskResult> results,
                          frontend_.MultiInference(resolved.handle, tasks, batch, CallContextOf(context)));
  for (size_t i = 0; i < results.size(); ++i) {
    tfs::InferenceResult* out = response->add_results();
    EncodeModelSpec(resolved.spec.name, results[i].model_version,
                    request.tasks(static_cast<int>(i)).model_spec().signature_name(), out->mutable_model_spec());
    if (tasks[i].classify) {
      EncodeClassificationResult(results[i].classifications, out->mutable_classification_result());
    } else {
      EncodeRegressionResult(results[i].regressions, out->mutable_regression_result());
    }
  }
  return Status::Ok();
}

Status TfsPredictionService::DoGetModelMetadata(const tfs::GetModelMetadataRequest& request,
                                                tfs::GetModelMetadataResponse* response) const {
  if (!request.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  SERVAL_RETURN_IF_ERROR(CheckMetadataFields(request.metadata_field()));
  SERVAL_ASSIGN_OR_RETURN(TfsModelSpec spec, DecodeModelSpec(request.model_spec()));
  SERVAL_ASSIGN_OR_RETURN(ModelMetadata metadata, frontend_.Metadata({spec.name, spec.version}));
  EncodeModelMetadata(spec.name, metadata.handle.version(), metadata.signatures, response);
  return Status::Ok();
}

TfsModelService::TfsModelService(const ModelManager& models, ModelControl* model_control, WorkerPool* workers)
    : frontend_(models, {}), model_control_(model_control), workers_(workers) {}

grpc::ServerUnaryReactor* TfsModelService::GetModelStatus(grpc::CallbackServerContext* context,
                                                          const tfs::GetModelStatusRequest* request,
                                                          tfs::GetModelStatusResponse* response) {
  return FinishNow(context, [this, request, response]() -> Status {
    if (!request->has_model_spec()) return InvalidArgument("Missing ModelSpec");
    SERVAL_ASSIGN_OR_RETURN(TfsModelSpec spec, DecodeModelSpec(request->model_spec()));
    SERVAL_ASSIGN_OR_RETURN(std::vector<VersionStatus> statuses, frontend_.ModelStatus({spec.name, spec.version}));
    EncodeModelStatus(statuses, response);
    return Status::Ok();
  }());
}

// A reload answers when the loads are done: on a worker. A refused reload (queue full) leaves
// ReloadConfigResponse.status empty; the gRPC status says why.
grpc::ServerUnaryReactor* TfsModelService::HandleReloadConfigRequest(grpc::CallbackServerContext* context,
                                                                     const tfs::ReloadConfigRequest* request,
                                                                     tfs::ReloadConfigResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(*workers_, reactor, nullptr, {}, [this, context, request, response](RequestTrace&) {
    Status status = ReloadConfig(*context, *request);
    response->mutable_status()->set_error_code(static_cast<::tensorflow::error::Code>(static_cast<int>(status.code())));
    response->mutable_status()->set_error_message(ClientMessage(status.message()));
    return status;
  });
  return reactor;
}

Status TfsModelService::ReloadConfig(const grpc::CallbackServerContext& context,
                                     const tfs::ReloadConfigRequest& request) {
  SERVAL_RETURN_IF_ERROR(AuthorizeModelControl(model_control_, AuthorizationOf(context)));
  constexpr size_t kMaxConfigBytes = 16 << 20;  // bounds the text rendering below
  if (request.config().ByteSizeLong() > kMaxConfigBytes) {
    return ResourceExhausted("the model server config is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  }
  if (request.config().config_case() != tfs::ModelServerConfig::kModelConfigList) {
    return InvalidArgument(
        "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently "
        "supported");
  }
  // One validation for both ways in: the config goes through the same parser as --model_config_file.
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(request.config(), &text)) {
    return Internal("cannot render the model server config");
  }
  SERVAL_ASSIGN_OR_RETURN(std::vector<ModelConfig> configs, ParseModelServerConfig(text));
  return model_control_->ReloadConfig(std::move(configs));
}

}  // namespace serval

#include "api/tfs/tfs_grpc_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/text_format.h>

#include "api/grpc/budgeted_parse.h"
#include "api/grpc/worker_call.h"
#include "api/tfs/tfs_example_task.h"
#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_grpc_codec.h"
#include "api/tfs/tfs_rest_codec.h"
#include "core/client_message.h"

namespace serval {
namespace {

namespace tfs = ::tensorflow::serving;

// The model a request names, its handle, and the spec as decoded.
struct Resolved {
  TfsModelSpec spec;
  ServableHandle handle;
};

// The request's deadline and client probe as the engine takes them.
std::function<bool()> ClientGone(const grpc::CallbackServerContext& context) {
  return [&context] { return context.IsCancelled(); };
}

StatusOr<Resolved> Resolve(const ModelManager& models, bool has_spec, const tfs::ModelSpec& proto_spec,
                           RequestTrace* trace = nullptr) {
  if (!has_spec) return InvalidArgument("Missing ModelSpec");
  StatusOr<TfsModelSpec> spec = DecodeModelSpec(proto_spec);
  if (!spec.ok()) return spec.status();
  StatusOr<ServableHandle> handle = models.Acquire(spec->name, spec->version);
  if (!handle.ok()) return handle.status();
  if (trace != nullptr) trace->set_version(handle->model_name(), handle->version());
  return Resolved{std::move(*spec), std::move(*handle)};
}

// One inference call of `api`: `run(trace)` does it on a worker, the trace records it once with its final
// status, and the call is finished with it.
template <typename Run>
grpc::ServerUnaryReactor* TracedCall(grpc::CallbackServerContext* context, WorkerPool& workers,
                                     metrics::ServingMetrics* metrics, std::string_view api, Run&& run) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(workers, reactor, metrics, api, std::forward<Run>(run));
  return reactor;
}

// A raw method: on a worker, parses the request within the request memory budget, runs `run(request,
// &response, trace)`, and serializes the response into the call's buffer. The messages live on the worker's
// stack for the call (borrowed tensor bytes point into the request while the model runs).
template <typename Request, typename Response, typename Run>
grpc::ServerUnaryReactor* RawCall(grpc::CallbackServerContext* context, WorkerPool& workers,
                                  metrics::ServingMetrics* metrics, std::string_view api,
                                  const grpc::ByteBuffer* raw_request, grpc::ByteBuffer* raw_response, Run&& run) {
  return TracedCall(context, workers, metrics, api,
                    [raw_request, raw_response, run = std::forward<Run>(run)](RequestTrace& trace) -> Status {
                      Request request;
                      SERVAL_RETURN_IF_ERROR(ParseWithinBudget(*raw_request, &request));
                      Response response;
                      SERVAL_RETURN_IF_ERROR(run(request, &response, trace));
                      return SerializeToByteBuffer(response, raw_response);
                    });
}

// Answers a cheap call inline, on the gRPC thread that received it.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

TfsPredictionService::TfsPredictionService(const ModelManager& models, TfsGrpcOptions options)
    : models_(models), options_(options) {}

grpc::ServerUnaryReactor* TfsPredictionService::Predict(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawCall<tfs::PredictRequest, tfs::PredictResponse>(
      context, *options_.workers, options_.metrics, metrics::api::kPredict, request, response,
      [this, context](const tfs::PredictRequest& parsed, tfs::PredictResponse* answer, RequestTrace& trace) {
        return DoPredict(*context, parsed, answer, trace);
      });
}

grpc::ServerUnaryReactor* TfsPredictionService::Classify(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawCall<tfs::ClassificationRequest, tfs::ClassificationResponse>(
      context, *options_.workers, options_.metrics, metrics::api::kClassify, request, response,
      [this, context](const tfs::ClassificationRequest& parsed, tfs::ClassificationResponse* answer,
                      RequestTrace& trace) { return DoClassify(*context, parsed, answer, trace); });
}

grpc::ServerUnaryReactor* TfsPredictionService::Regress(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawCall<tfs::RegressionRequest, tfs::RegressionResponse>(
      context, *options_.workers, options_.metrics, metrics::api::kRegress, request, response,
      [this, context](const tfs::RegressionRequest& parsed, tfs::RegressionResponse* answer, RequestTrace& trace) {
        return DoRegress(*context, parsed, answer, trace);
      });
}

grpc::ServerUnaryReactor* TfsPredictionService::MultiInference(grpc::CallbackServerContext* context,
                                                               const tfs::MultiInferenceRequest* request,
                                                               tfs::MultiInferenceResponse* response) {
  return TracedCall(context, *options_.workers, options_.metrics, metrics::api::kMultiInference,
                    [this, context, request, response](RequestTrace& trace) {
                      return DoMultiInference(*context, *request, response, trace);
                    });
}

grpc::ServerUnaryReactor* TfsPredictionService::GetModelMetadata(grpc::CallbackServerContext* context,
                                                                 const tfs::GetModelMetadataRequest* request,
                                                                 tfs::GetModelMetadataResponse* response) {
  return FinishNow(context, DoGetModelMetadata(*request, response));
}

Status TfsPredictionService::DoPredict(const grpc::CallbackServerContext& context, const tfs::PredictRequest& request,
                                       tfs::PredictResponse* response, RequestTrace& trace) const {
  StatusOr<Resolved> resolved = Resolve(models_, request.has_model_spec(), request.model_spec(), &trace);
  if (!resolved.ok()) return resolved.status();
  StatusOr<ServableHandle::SignatureRef> signature = resolved->handle.FindSignature(resolved->spec.signature_name);
  if (!signature.ok()) return signature.status();
  // No owner: gRPC frees the request message only after the call is finished, after Run (the only user of
  // the borrowed bytes) returned.
  StatusOr<InferenceRequest> decoded =
      DecodePredictRequest(request, *signature->io, /*owner=*/nullptr, options_.limits);
  if (!decoded.ok()) return decoded.status();
  decoded->signature_name = resolved->spec.signature_name;
  decoded->model_name = resolved->spec.name;
  decoded->version = resolved->spec.version;
  decoded->deadline = DeadlineFromGrpc(context.deadline());
  decoded->client_gone = [&context] { return context.IsCancelled(); };
  InferenceResponse result;
  SERVAL_RETURN_IF_ERROR(resolved->handle.Run(*decoded, &result));
  const TensorEncoding encoding =
      options_.serialize_as_tensor_content ? TensorEncoding::kTensorContent : TensorEncoding::kTypedValues;
  return EncodePredictResponse(result, request.model_spec(), encoding, response);
}

Status TfsPredictionService::DoClassify(const grpc::CallbackServerContext& context,
                                        const tfs::ClassificationRequest& request,
                                        tfs::ClassificationResponse* response, RequestTrace& trace) const {
  StatusOr<Resolved> resolved = Resolve(models_, request.has_model_spec(), request.model_spec(), &trace);
  if (!resolved.ok()) return resolved.status();
  StatusOr<ExampleTask> task = PlanExampleTask(resolved->handle, resolved->spec.signature_name, /*classify=*/true);
  if (!task.ok()) return task.status();
  StatusOr<ExampleBatch> batch = DecodeExampleInput(request.input());
  if (!batch.ok()) return batch.status();
  StatusOr<InferenceResponse> result =
      RunExampleTask(resolved->handle, *task, *batch, task->Outputs(), DeadlineFromGrpc(context.deadline()),
                     ClientGone(context), options_.limits);
  if (!result.ok()) return result.status();
  StatusOr<ClassificationRows> rows =
      ReadClassifications(*result, task->classify_plan, static_cast<int64_t>(batch->examples.size()));
  if (!rows.ok()) return rows.status();
  EncodeClassificationResult(*rows, response->mutable_result());
  EncodeModelSpec(resolved->spec.name, result->model_version, resolved->spec.signature_name,
                  response->mutable_model_spec());
  return Status::Ok();
}

Status TfsPredictionService::DoRegress(const grpc::CallbackServerContext& context,
                                       const tfs::RegressionRequest& request, tfs::RegressionResponse* response,
                                       RequestTrace& trace) const {
  StatusOr<Resolved> resolved = Resolve(models_, request.has_model_spec(), request.model_spec(), &trace);
  if (!resolved.ok()) return resolved.status();
  StatusOr<ExampleTask> task = PlanExampleTask(resolved->handle, resolved->spec.signature_name, /*classify=*/false);
  if (!task.ok()) return task.status();
  StatusOr<ExampleBatch> batch = DecodeExampleInput(request.input());
  if (!batch.ok()) return batch.status();
  StatusOr<InferenceResponse> result =
      RunExampleTask(resolved->handle, *task, *batch, task->Outputs(), DeadlineFromGrpc(context.deadline()),
                     ClientGone(context), options_.limits);
  if (!result.ok()) return result.status();
  StatusOr<std::vector<float>> values =
      ReadRegressions(*result, task->regress_output, static_cast<int64_t>(batch->examples.size()));
  if (!values.ok()) return values.status();
  EncodeRegressionResult(*values, response->mutable_result());
  EncodeModelSpec(resolved->spec.name, result->model_version, resolved->spec.signature_name,
                  response->mutable_model_spec());
  return Status::Ok();
}

Status TfsPredictionService::DoMultiInference(const grpc::CallbackServerContext& context,
                                              const tfs::MultiInferenceRequest& request,
                                              tfs::MultiInferenceResponse* response, RequestTrace& trace) const {
  if (request.tasks().empty()) return InvalidArgument("MultiInferenceRequest must have at least one task");
  const tfs::ModelSpec& first = request.tasks(0).model_spec();
  std::vector<std::pair<bool, std::string>> wanted;  // (classify, signature name) per task
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
    std::string signature_name =
        spec.signature_name().empty() ? std::string(kTfsDefaultSignatureName) : spec.signature_name();
    for (const auto& earlier : wanted) {
      if (earlier.second == signature_name && earlier.first == classify) {
        return InvalidArgument("Duplicate evaluation of signature: " + signature_name.substr(0, 256));
      }
    }
    wanted.emplace_back(classify, std::move(signature_name));
  }

  StatusOr<Resolved> resolved = Resolve(models_, request.tasks(0).has_model_spec(), first, &trace);
  if (!resolved.ok()) return resolved.status();
  std::vector<ExampleTask> tasks;
  for (const auto& [classify, signature_name] : wanted) {
    StatusOr<ExampleTask> task = PlanExampleTask(resolved->handle, signature_name, classify);
    if (!task.ok()) return task.status();
    tasks.push_back(std::move(task).value());
  }
  StatusOr<ExampleBatch> batch = DecodeExampleInput(request.input());
  if (!batch.ok()) return batch.status();
  const int64_t batch_size = static_cast<int64_t>(batch->examples.size());
  // Tasks on the same signature share one run (its outputs together); each other signature runs once.
  std::vector<std::optional<InferenceResponse>> results(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (results[i]) continue;
    std::vector<std::string> outputs;
    for (size_t j = i; j < tasks.size(); ++j) {
      if (tasks[j].signature_name != tasks[i].signature_name) continue;
      for (std::string& name : tasks[j].Outputs()) {
        if (!name.empty() && std::find(outputs.begin(), outputs.end(), name) == outputs.end()) outputs.push_back(name);
      }
    }
    StatusOr<InferenceResponse> result =
        RunExampleTask(resolved->handle, tasks[i], *batch, std::move(outputs), DeadlineFromGrpc(context.deadline()),
                       ClientGone(context), options_.limits);
    if (!result.ok()) return result.status();
    for (size_t j = i; j < tasks.size(); ++j) {
      if (tasks[j].signature_name == tasks[i].signature_name) results[j] = *result;
    }
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    tfs::InferenceResult* out = response->add_results();
    EncodeModelSpec(resolved->spec.name, results[i]->model_version,
                    request.tasks(static_cast<int>(i)).model_spec().signature_name(), out->mutable_model_spec());
    if (tasks[i].classify) {
      StatusOr<ClassificationRows> rows = ReadClassifications(*results[i], tasks[i].classify_plan, batch_size);
      if (!rows.ok()) return rows.status();
      EncodeClassificationResult(*rows, out->mutable_classification_result());
    } else {
      StatusOr<std::vector<float>> values = ReadRegressions(*results[i], tasks[i].regress_output, batch_size);
      if (!values.ok()) return values.status();
      EncodeRegressionResult(*values, out->mutable_regression_result());
    }
  }
  return Status::Ok();
}

Status TfsPredictionService::DoGetModelMetadata(const tfs::GetModelMetadataRequest& request,
                                                tfs::GetModelMetadataResponse* response) const {
  if (!request.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  SERVAL_RETURN_IF_ERROR(CheckMetadataFields(request.metadata_field()));
  StatusOr<TfsModelSpec> spec = DecodeModelSpec(request.model_spec());
  if (!spec.ok()) return spec.status();
  StatusOr<ServableHandle> handle = models_.Acquire(spec->name, spec->version);
  if (!handle.ok()) return handle.status();
  EncodeModelMetadata(spec->name, handle->version(), handle->AllSignatures(), response);
  return Status::Ok();
}

TfsModelService::TfsModelService(const ModelManager& models, ModelControl* model_control, WorkerPool* workers)
    : models_(models), model_control_(model_control), workers_(workers) {}

grpc::ServerUnaryReactor* TfsModelService::GetModelStatus(grpc::CallbackServerContext* context,
                                                          const tfs::GetModelStatusRequest* request,
                                                          tfs::GetModelStatusResponse* response) {
  if (!request->has_model_spec()) return FinishNow(context, InvalidArgument("Missing ModelSpec"));
  StatusOr<TfsModelSpec> spec = DecodeModelSpec(request->model_spec());
  if (!spec.ok()) return FinishNow(context, spec.status());
  StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(spec->name, spec->version);
  if (!statuses.ok()) return FinishNow(context, statuses.status());
  EncodeModelStatus(*statuses, response);
  return FinishNow(context, Status::Ok());
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
  std::optional<std::string_view> credential;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    credential = std::string_view(it->second.data(), it->second.size());
  }
  SERVAL_RETURN_IF_ERROR(AuthorizeModelControl(model_control_, credential));
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
  StatusOr<std::vector<ModelConfig>> configs = ParseModelServerConfig(text);
  if (!configs.ok()) return configs.status();
  return model_control_->ReloadConfig(std::move(configs).value());
}

}  // namespace serval

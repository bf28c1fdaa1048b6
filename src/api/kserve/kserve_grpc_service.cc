#include "api/kserve/kserve_grpc_service.h"

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "api/grpc/worker_call.h"
#include "api/kserve/kserve_grpc_codec.h"
#include "api/kserve/kserve_model_config.h"
#include "api/kserve/kserve_rest_codec.h"
#include "api/kserve/kserve_statistics.h"
#include "core/client_message.h"

namespace serval {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

grpc::Status ToGrpc(const Status& status) { return ToGrpcCallStatus(status); }

// Answers a cheap call inline, on the gRPC thread that received it.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// Empty: newest; all digits: that number; anything else: a label.
StatusOr<VersionSelector> ParseVersion(const std::string& text, const CodecLimits& limits) {
  VersionSelector selector;
  if (text.empty()) return selector;
  if (text.size() > limits.max_name_bytes) {
    return InvalidArgument("the version is longer than " + std::to_string(limits.max_name_bytes) + " bytes");
  }
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error == std::errc() && end == text.data() + text.size() && text[0] != '-' && text[0] != '+') {
    selector.number = number;
  } else {
    selector.label = text;  // KServe's version is a string: Serval resolves a label there too
  }
  return selector;
}

// The call's deadline on the steady clock; kNoDeadline when it has none (gRPC reports "infinite" as the
// largest time point).
Deadline SteadyDeadline(const grpc::CallbackServerContext& context) {
  using std::chrono::system_clock;
  const system_clock::time_point deadline = context.deadline();
  if (deadline == system_clock::time_point::max()) return kNoDeadline;
  const system_clock::duration remaining = deadline - system_clock::now();
  if (remaining > std::chrono::hours(24 * 365)) return kNoDeadline;
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
}

}  // namespace

KServeGrpcService::KServeGrpcService(const ModelManager& models, KServeGrpcOptions options)
    : models_(models), options_(std::move(options)) {}

StatusOr<ServableHandle> KServeGrpcService::Acquire(const std::string& model, const std::string& version) const {
  if (model.empty()) return InvalidArgument("the request names no model");
  if (model.size() > options_.limits.max_name_bytes) {
    return InvalidArgument("the model name is longer than " + std::to_string(options_.limits.max_name_bytes) +
                           " bytes");
  }
  StatusOr<VersionSelector> selector = ParseVersion(version, options_.limits);
  if (!selector.ok()) return selector.status();
  return models_.Acquire(model, *selector);
}

grpc::ServerUnaryReactor* KServeGrpcService::ServerLive(grpc::CallbackServerContext* context,
                                                        const inference::ServerLiveRequest*,
                                                        inference::ServerLiveResponse* response) {
  response->set_live(true);
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ServerReady(grpc::CallbackServerContext* context,
                                                         const inference::ServerReadyRequest*,
                                                         inference::ServerReadyResponse* response) {
  const bool draining = options_.draining != nullptr && options_.draining->load();
  response->set_ready(!draining && models_.AllModelsReady());
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelReady(grpc::CallbackServerContext* context,
                                                        const inference::ModelReadyRequest* request,
                                                        inference::ModelReadyResponse* response) {
  StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
  if (!handle.ok() && handle.status().code() != StatusCode::kNotFound)
    return FinishNow(context, ToGrpc(handle.status()));
  response->set_ready(handle.ok());
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ServerMetadata(grpc::CallbackServerContext* context,
                                                            const inference::ServerMetadataRequest*,
                                                            inference::ServerMetadataResponse* response) {
  response->set_name(options_.server_name);
  response->set_version(options_.server_version);
  // Triton's names for what this service implements beyond the standard RPCs.
  response->add_extensions("model_configuration");
  if (options_.model_control != nullptr && options_.model_control->enabled()) {
    response->add_extensions("model_repository");
  }
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelMetadata(grpc::CallbackServerContext* context,
                                                           const inference::ModelMetadataRequest* request,
                                                           inference::ModelMetadataResponse* response) {
  StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
  if (!handle.ok()) return FinishNow(context, ToGrpc(handle.status()));
  response->set_name(handle->model_name());
  StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(handle->model_name(), {});
  if (statuses.ok()) {
    for (const VersionStatus& status : *statuses) {
      if (status.state == VersionState::kAvailable) response->add_versions(std::to_string(status.version));
    }
  }
  response->set_platform(
      std::string(handle->platform() == kTensorFlowPlatform ? kKServeTensorFlowPlatform : kKServeOnnxPlatform));
  FillTensorMetadata(handle->signature().inputs, response->mutable_inputs());
  FillTensorMetadata(handle->signature().outputs, response->mutable_outputs());
  return FinishNow(context, grpc::Status::OK);
}

Status KServeGrpcService::Infer(grpc::CallbackServerContext* context,
                                const std::shared_ptr<const ModelInferRequest>& request, ModelInferResponse* response,
                                RequestTrace& trace) const {
  StatusOr<ServableHandle> handle = Acquire(request->model_name(), request->model_version());
  if (!handle.ok()) return handle.status();
  trace.set_version(handle->model_name(), handle->version());
  StatusOr<InferenceRequest> decoded = DecodeModelInferRequest(request, handle->signature(), options_.limits);
  if (!decoded.ok()) return decoded.status();
  decoded->model_name = handle->model_name();
  decoded->version.number = handle->version();
  decoded->deadline = SteadyDeadline(*context);
  decoded->client_gone = [context] { return context->IsCancelled(); };
  if (context->IsCancelled()) return Cancelled("the client cancelled the call");
  if (std::chrono::steady_clock::now() >= decoded->deadline) {
    return DeadlineExceeded("the deadline passed before the model ran");
  }
  InferenceResponse result;
  SERVAL_RETURN_IF_ERROR(handle->Run(*decoded, &result));
  return EncodeModelInferResponse(result, response);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelInfer(grpc::CallbackServerContext* context,
                                                        const ModelInferRequest* request,
                                                        ModelInferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(*options_.workers, reactor, options_.metrics, metrics::api::kKServeInfer,
                 [this, context, request, response](RequestTrace& trace) {
                   // gRPC owns *request until the reactor is finished, after Infer returns (ServableHandle::Run
                   // is synchronous: it must not return while anything still reads the inputs, batcher
                   // included). A non-owning shared_ptr lets the tensors borrow raw_input_contents without a
                   // copy. The stream owns its requests.
                   std::shared_ptr<const ModelInferRequest> borrowed(std::shared_ptr<const void>(), request);
                   return Infer(context, borrowed, response, trace);
                 });
  return reactor;
}

// One ModelStreamInfer stream: read a request, run it on a worker, write its answer, read the next. Exactly
// one of the three is in flight at any time and each one starts the next, so the reactor needs no lock,
// and gRPC cannot call OnDone (which deletes it) while a worker holds it: Finish is only called from
// OnReadDone/OnWriteDone. A cancelled call fails the pending read or write, which finishes the stream.
class KServeGrpcService::StreamInferReactor final
    : public grpc::ServerBidiReactor<ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  StreamInferReactor(const KServeGrpcService& service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    ReadNext();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return End();  // the client finished writing, or the call is gone
    trace_.emplace(service_.options_.metrics, metrics::Protocol::kGrpc);
    trace_->set_api(metrics::api::kKServeStreamInfer);
    if (service_.options_.workers->TrySubmit([this] { Answer(Run()); })) return;
    Answer(WorkerQueueFull(*service_.options_.workers));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return End();  // the client is gone
    ReadNext();
  }

  void OnDone() override { delete this; }

 private:
  void ReadNext() {
    request_ = std::make_shared<ModelInferRequest>();
    StartRead(request_.get());
  }

  // On a worker: runs the request just read into response_.
  Status Run() {
    response_.Clear();
    return service_.Infer(context_, request_, response_.mutable_infer_response(), *trace_);
  }

  // Records the request and writes its answer: the response, or the error naming the request's id.
  void Answer(const Status& status) {
    trace_->Finish(status.code());
    trace_.reset();
    if (!status.ok()) {
      response_.Clear();
      response_.set_error_message(ClientMessage(status.message()));
      response_.mutable_infer_response()->set_model_name(request_->model_name());
      response_.mutable_infer_response()->set_id(request_->id());  // tells the client which request failed
    }
    StartWrite(&response_);
  }

  void End() {
    Finish(context_->IsCancelled() ? grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream")
                                   : grpc::Status::OK);
  }

  const KServeGrpcService& service_;
  grpc::CallbackServerContext* const context_;
  std::shared_ptr<ModelInferRequest> request_;  // the request being answered; the decoded tensors borrow it
  inference::ModelStreamInferResponse response_;
  std::optional<RequestTrace> trace_;
};

grpc::ServerBidiReactor<ModelInferRequest, inference::ModelStreamInferResponse>* KServeGrpcService::ModelStreamInfer(
    grpc::CallbackServerContext* context) {
  return new StreamInferReactor(*this, context);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelConfig(grpc::CallbackServerContext* context,
                                                         const inference::ModelConfigRequest* request,
                                                         inference::ModelConfigResponse* response) {
  StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
  if (!handle.ok()) return FinishNow(context, ToGrpc(handle.status()));
  if (handle->triton() != nullptr) {
    *response->mutable_config() = TritonModelConfigProto(handle->triton()->config);
    return FinishNow(context, grpc::Status::OK);
  }
  *response->mutable_config() =
      ModelConfigFor(handle->model_name(), handle->signature(),
                     handle->platform() == kTensorFlowPlatform ? kKServeTensorFlowPlatform : kKServeOnnxPlatform);
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelStatistics(grpc::CallbackServerContext* context,
                                                             const inference::ModelStatisticsRequest* request,
                                                             inference::ModelStatisticsResponse* response) {
  return FinishNow(context, ToGrpc(ModelStatisticsOf(*request, response)));
}

Status KServeGrpcService::ModelStatisticsOf(const inference::ModelStatisticsRequest& request,
                                            inference::ModelStatisticsResponse* response) const {
  std::vector<std::string> names;
  VersionSelector selector;
  if (request.name().empty()) {
    if (!request.version().empty()) return InvalidArgument("a version needs a model name");
    names = models_.ModelNames();
  } else {
    StatusOr<ServableHandle> handle = Acquire(request.name(), request.version());
    if (!handle.ok()) return handle.status();
    names.push_back(request.name());
    if (!request.version().empty()) selector.number = handle->version();
  }
  for (const std::string& name : names) {
    StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(name, selector);
    if (!statuses.ok()) continue;  // unloaded meanwhile
    for (const VersionStatus& status : *statuses) {
      if (status.state != VersionState::kAvailable) continue;
      inference::ModelStatistics* stats = response->add_model_stats();
      stats->set_name(name);
      stats->set_version(std::to_string(status.version));
      metrics::ModelStatistics counted;
      if (options_.metrics != nullptr) {
        std::vector<metrics::ModelStatistics> found = options_.metrics->GetModelStatistics(name, status.version);
        if (!found.empty()) counted = found.front();
      }
      VersionSelector exact;
      exact.number = status.version;
      if (StatusOr<ServableHandle> handle = models_.Acquire(name, exact); handle.ok()) {
        if (std::optional<TritonStatisticsSnapshot> triton = handle->triton_statistics()) {
          ApplyTritonStatistics(*triton, &counted);
        }
      }
      stats->set_last_inference(counted.last_inference_ms);
      stats->set_inference_count(counted.inference_count);
      stats->set_execution_count(counted.execution_count);
      inference::InferStatistics* infer = stats->mutable_inference_stats();
      const std::pair<inference::StatisticDuration*, const metrics::DurationStat*> parts[] = {
          {infer->mutable_success(), &counted.success},
          {infer->mutable_fail(), &counted.fail},
          {infer->mutable_queue(), &counted.queue},
          {infer->mutable_compute_input(), &counted.compute_input},
          {infer->mutable_compute_infer(), &counted.compute_infer},
          {infer->mutable_compute_output(), &counted.compute_output}};
      for (const auto& [out, in] : parts) {
        out->set_count(in->count);
        out->set_ns(in->ns);
      }
    }
  }
  return Status::Ok();
}

Status KServeGrpcService::AuthorizeControl(const grpc::CallbackServerContext& context,
                                           const std::string& repository_name) const {
  std::optional<std::string_view> credential;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    credential = std::string_view(it->second.data(), it->second.size());
  }
  SERVAL_RETURN_IF_ERROR(AuthorizeModelControl(options_.model_control, credential));
  if (!repository_name.empty()) {
    return InvalidArgument("Serval has one model repository (--model_root): leave repository_name empty");
  }
  return Status::Ok();
}

grpc::ServerUnaryReactor* KServeGrpcService::RepositoryIndex(grpc::CallbackServerContext* context,
                                                             const inference::RepositoryIndexRequest* request,
                                                             inference::RepositoryIndexResponse* response) {
  Status allowed = AuthorizeControl(*context, request->repository_name());
  if (!allowed.ok()) return FinishNow(context, ToGrpc(allowed));
  for (const RepositoryIndexEntry& entry : options_.model_control->Index(request->ready())) {
    inference::RepositoryIndexResponse::ModelIndex* model = response->add_models();
    model->set_name(entry.name);
    model->set_version(entry.version);
    model->set_state(entry.state);
    model->set_reason(entry.reason);
  }
  return FinishNow(context, grpc::Status::OK);
}

// Load and unload wait for the model manager (a load reads and warms up the model): on a worker.
grpc::ServerUnaryReactor* KServeGrpcService::RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                                 const inference::RepositoryModelLoadRequest* request,
                                                                 inference::RepositoryModelLoadResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(*options_.workers, reactor, nullptr, {}, [this, context, request](RequestTrace&) {
    SERVAL_RETURN_IF_ERROR(AuthorizeControl(*context, request->repository_name()));
    std::vector<std::string> parameter_names;
    for (const auto& parameter : request->parameters()) parameter_names.push_back(parameter.first.substr(0, 256));
    SERVAL_RETURN_IF_ERROR(CheckLoadParameters(parameter_names));
    return options_.model_control->Load(request->model_name());
  });
  return reactor;
}

grpc::ServerUnaryReactor* KServeGrpcService::RepositoryModelUnload(
    grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(*options_.workers, reactor, nullptr, {}, [this, context, request](RequestTrace&) {
    SERVAL_RETURN_IF_ERROR(AuthorizeControl(*context, request->repository_name()));
    return options_.model_control->Unload(request->model_name());  // unload_dependents: no ensembles
  });
  return reactor;
}

}  // namespace serval

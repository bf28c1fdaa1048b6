#include "api/kserve/kserve_grpc_service.h"

#include <memory>
#include <optional>
#include <utility>

#include "api/grpc/budgeted_parse.h"
#include "api/grpc/grpc_glue.h"
#include "api/grpc/worker_call.h"
#include "api/kserve/kserve_grpc_codec.h"
#include "api/kserve/kserve_model_config.h"
#include "api/kserve/kserve_wire.h"
#include "core/client_message.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

// Answers a cheap call inline, on the gRPC thread that received it.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status ToGrpc(const Status& status) { return ToGrpcStatus(status); }

}  // namespace

KServeGrpcService::KServeGrpcService(const ModelManager& models, KServeGrpcOptions options)
    : options_(std::move(options)),
      frontend_(models, {.metrics = options_.metrics, .draining = options_.draining, .limits = options_.limits}) {}

StatusOr<ModelRef> KServeGrpcService::DecodeModelRef(const std::string& model, const std::string& version) const {
  if (model.empty()) return InvalidArgument("the request names no model");
  if (model.size() > options_.limits.max_name_bytes) {
    return InvalidArgument("the model name is longer than " + std::to_string(options_.limits.max_name_bytes) +
                           " bytes");
  }
  if (version.size() > options_.limits.max_name_bytes) {
    return InvalidArgument("the version is longer than " + std::to_string(options_.limits.max_name_bytes) + " bytes");
  }
  return ModelRef{model, VersionSelectorFromString(version), /*triton_errors=*/true};
}

StatusOr<ServableHandle> KServeGrpcService::Acquire(const std::string& model, const std::string& version,
                                                    RequestTrace* trace) const {
  SERVAL_ASSIGN_OR_RETURN(ModelRef ref, DecodeModelRef(model, version));
  return frontend_.Resolve(ref, trace);
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
  response->set_ready(frontend_.ServerReady());
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelReady(grpc::CallbackServerContext* context,
                                                        const inference::ModelReadyRequest* request,
                                                        inference::ModelReadyResponse* response) {
  StatusOr<ModelRef> ref = DecodeModelRef(request->name(), request->version());
  if (!ref.ok()) return FinishNow(context, ToGrpc(ref.status()));
  // As Triton: a model (version) that does not resolve is an error (Triton's code and text), not ready=false.
  Status ready = frontend_.CheckModelReady(*ref);
  if (!ready.ok()) return FinishNow(context, ToGrpc(ready));
  response->set_ready(true);
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ServerMetadata(grpc::CallbackServerContext* context,
                                                            const inference::ServerMetadataRequest*,
                                                            inference::ServerMetadataResponse* response) {
  response->set_name(options_.server_name);
  response->set_version(options_.server_version);
  for (std::string& extension :
       KServeServerExtensions(options_.model_control != nullptr && options_.model_control->enabled())) {
    response->add_extensions(std::move(extension));
  }
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelMetadata(grpc::CallbackServerContext* context,
                                                           const inference::ModelMetadataRequest* request,
                                                           inference::ModelMetadataResponse* response) {
  StatusOr<ModelRef> ref = DecodeModelRef(request->name(), request->version());
  if (!ref.ok()) return FinishNow(context, ToGrpc(ref.status()));
  StatusOr<serval::ModelMetadata> metadata = frontend_.Metadata(*ref);
  if (!metadata.ok()) return FinishNow(context, ToGrpc(metadata.status()));
  const ServableHandle& handle = metadata->handle;
  response->set_name(handle.model_name());
  for (int64_t version : metadata->available_versions) response->add_versions(std::to_string(version));
  response->set_platform(std::string(KServePlatformName(handle.platform())));
  FillTensorMetadata(handle.signature().inputs, response->mutable_inputs());
  FillTensorMetadata(handle.signature().outputs, response->mutable_outputs());
  return FinishNow(context, grpc::Status::OK);
}

Status KServeGrpcService::Infer(grpc::CallbackServerContext* context,
                                const std::shared_ptr<const ModelInferRequest>& request, ModelInferResponse* response,
                                RequestTrace& trace) const {
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, Acquire(request->model_name(), request->model_version(), &trace));
  SERVAL_ASSIGN_OR_RETURN(InferenceRequest decoded,
                          DecodeModelInferRequest(request, handle.signature(), options_.limits, handle.model_name()));
  SERVAL_ASSIGN_OR_RETURN(InferenceResponse result,
                          frontend_.Infer(handle, std::move(decoded), CallContextOf(*context)));
  SERVAL_RETURN_IF_ERROR(ApplyKServeClassification(handle, ClassificationRequests(*request), &result));
  return EncodeModelInferResponse(result, response);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelInfer(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* raw_request,
                                                        grpc::ByteBuffer* raw_response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishOnWorker(
      *options_.workers, reactor, options_.metrics, metrics::api::kKServeInfer,
      [this, context, raw_request, raw_response](RequestTrace& trace) -> Status {
        // The request is parsed here, on the worker (or inline), after what the parse allocates was charged to
        // the call, into an arena on this stack (a small call's messages take nothing from the heap). The
        // tensors borrow raw_input_contents from it while the model runs: the run is synchronous
        // (ServableHandle::Run), so the arena outlives every borrow and the shared_ptr handed to the decoder
        // owns nothing.
        CallArena arena;
        ModelInferRequest* request = arena.Create<ModelInferRequest>();
        SERVAL_RETURN_IF_ERROR(ParseWithinBudget(*raw_request, request));
        ModelInferResponse* response = arena.Create<ModelInferResponse>();
        SERVAL_RETURN_IF_ERROR(Infer(context,
                                     std::shared_ptr<const ModelInferRequest>(std::shared_ptr<const void>(), request),
                                     response, trace));
        return SerializeToByteBuffer(*response, raw_response);
      },
      options_.inline_gate, raw_request->Length());
  return reactor;
}

// One ModelStreamInfer stream: read a request, run it on a worker, write its answer, read the next. Exactly
// one of the three is in flight at any time and each one starts the next, so the reactor needs no lock,
// and gRPC cannot call OnDone (which deletes it) while a worker holds it: Finish is only called from
// OnReadDone/OnWriteDone, or as the last thing Answer does when an answer cannot be serialized. A cancelled call fails
// the pending read or write, which finishes the stream.
class KServeGrpcService::StreamInferReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamInferReactor(const KServeGrpcService& service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    ReadNext();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return End();  // the client finished writing, or the call is gone
    trace_.emplace(service_.options_.metrics, metrics::Protocol::kGrpc);
    trace_->set_api(metrics::api::kKServeStreamInfer);
    if (service_.options_.workers->TrySubmit([this] {
          Status status;
          {
            RequestMemoryScope memory;  // what this request decodes and encodes is charged to the budget
            status = Run();
          }
          Answer(status);
        })) {
      return;
    }
    Answer(WorkerQueueFull(*service_.options_.workers));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return End();  // the client is gone
    ReadNext();
  }

  void OnDone() override { delete this; }

 private:
  void ReadNext() {
    raw_request_.Clear();
    StartRead(&raw_request_);
  }

  // On a worker: parses the request just read within the budget and runs it into response_.
  Status Run() {
    response_.Clear();
    request_ = std::make_shared<ModelInferRequest>();
    SERVAL_RETURN_IF_ERROR(ParseWithinBudget(raw_request_, request_.get()));
    raw_request_.Clear();  // parsed: the wire bytes are no longer needed while the model runs
    return service_.Infer(context_, request_, response_.mutable_infer_response(), *trace_);
  }

  // Records the request and writes its answer: the response, or the error naming the request's id.
  void Answer(const Status& status) {
    trace_->Finish(status.code());
    trace_.reset();
    if (!status.ok()) {
      response_.Clear();
      response_.set_error_message(ClientMessage(status.message()));
      if (request_ != nullptr) {  // null: refused before it was parsed (the workers' queue was full)
        response_.mutable_infer_response()->set_model_name(request_->model_name());
        response_.mutable_infer_response()->set_id(request_->id());  // tells the client which request failed
      }
    }
    raw_response_.Clear();  // the previous answer, written already
    Status serialized = SerializeToByteBuffer(response_, &raw_response_);
    if (!serialized.ok()) {
      return Finish(grpc::Status(grpc::StatusCode::INTERNAL, ClientMessage(serialized.message())));
    }
    request_.reset();
    StartWrite(&raw_response_);
  }

  void End() {
    Finish(context_->IsCancelled() ? grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream")
                                   : grpc::Status::OK);
  }

  const KServeGrpcService& service_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer raw_request_;                // the request as read, until it is parsed
  std::shared_ptr<ModelInferRequest> request_;  // the request being answered; the decoded tensors borrow it
  inference::ModelStreamInferResponse response_;
  grpc::ByteBuffer raw_response_;  // the answer being written
  std::optional<RequestTrace> trace_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* KServeGrpcService::ModelStreamInfer(
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
      ModelConfigFor(handle->model_name(), handle->signature(), KServePlatformName(handle->platform()));
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* KServeGrpcService::ModelStatistics(grpc::CallbackServerContext* context,
                                                             const inference::ModelStatisticsRequest* request,
                                                             inference::ModelStatisticsResponse* response) {
  return FinishNow(context, ToGrpc(ModelStatisticsOf(*request, response)));
}

Status KServeGrpcService::ModelStatisticsOf(const inference::ModelStatisticsRequest& request,
                                            inference::ModelStatisticsResponse* response) const {
  ModelRef ref{.name = {}, .version = {}, .triton_errors = true};
  if (!request.name().empty()) {
    SERVAL_ASSIGN_OR_RETURN(ref, DecodeModelRef(request.name(), request.version()));
  } else {
    ref.version = VersionSelectorFromString(request.version());
  }
  SERVAL_ASSIGN_OR_RETURN(std::vector<VersionStatistics> all, frontend_.Statistics(ref));
  for (const VersionStatistics& version : all) {
    inference::ModelStatistics* stats = response->add_model_stats();
    stats->set_name(version.name);
    stats->set_version(std::to_string(version.version));
    const metrics::ModelStatistics& counted = version.counters;
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
  return Status::Ok();
}

Status KServeGrpcService::AuthorizeControl(const grpc::CallbackServerContext& context,
                                           const std::string& repository_name) const {
  SERVAL_RETURN_IF_ERROR(AuthorizeModelControl(options_.model_control, AuthorizationOf(context)));
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

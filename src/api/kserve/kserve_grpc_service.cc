#include "api/kserve/kserve_grpc_service.h"

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "api/kserve/kserve_grpc_codec.h"
#include "api/kserve/kserve_rest_codec.h"

namespace serval {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
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
Deadline SteadyDeadline(const grpc::ServerContext& context) {
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

grpc::Status KServeGrpcService::ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                                           inference::ServerLiveResponse* response) {
  response->set_live(true);
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                                            inference::ServerReadyResponse* response) {
  const bool draining = options_.draining != nullptr && options_.draining->load();
  response->set_ready(!draining && models_.AllModelsReady());
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* request,
                                           inference::ModelReadyResponse* response) {
  StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
  if (!handle.ok() && handle.status().code() != StatusCode::kNotFound) return ToGrpc(handle.status());
  response->set_ready(handle.ok());
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                                               inference::ServerMetadataResponse* response) {
  response->set_name(options_.server_name);
  response->set_version(options_.server_version);
  // Triton's names for what this service implements beyond the standard RPCs.
  response->add_extensions("model_configuration");
  if (options_.model_control != nullptr && options_.model_control->enabled()) {
    response->add_extensions("model_repository");
  }
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* request,
                                              inference::ModelMetadataResponse* response) {
  StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
  if (!handle.ok()) return ToGrpc(handle.status());
  response->set_name(handle->model_name());
  StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(handle->model_name(), {});
  if (statuses.ok()) {
    for (const VersionStatus& status : *statuses) {
      if (status.state == VersionState::kAvailable) response->add_versions(std::to_string(status.version));
    }
  }
  response->set_platform(std::string(kKServeOnnxPlatform));
  FillTensorMetadata(handle->signature().inputs, response->mutable_inputs());
  FillTensorMetadata(handle->signature().outputs, response->mutable_outputs());
  return grpc::Status::OK;
}

Status KServeGrpcService::Infer(grpc::ServerContext* context, std::shared_ptr<const ModelInferRequest> request,
                                ModelInferResponse* response, RequestTrace& trace) const {
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

grpc::Status KServeGrpcService::ModelInfer(grpc::ServerContext* context, const ModelInferRequest* request,
                                           ModelInferResponse* response) {
  // gRPC owns *request until this method returns, and Infer is done with it by then (ServableHandle::Run is
  // synchronous: it must not return while anything still reads the inputs, batcher included). A non-owning
  // shared_ptr lets the tensors borrow raw_input_contents without a copy. The stream owns its requests.
  std::shared_ptr<const ModelInferRequest> borrowed(std::shared_ptr<const void>(), request);
  RequestTrace trace(options_.metrics, metrics::Protocol::kGrpc);
  trace.set_api(metrics::api::kKServeInfer);
  Status status = Infer(context, std::move(borrowed), response, trace);
  trace.Finish(status.code());
  return ToGrpc(status);
}

grpc::Status KServeGrpcService::ModelStreamInfer(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<inference::ModelStreamInferResponse, ModelInferRequest>* stream) {
  inference::ModelStreamInferResponse response;
  while (true) {
    auto request = std::make_shared<ModelInferRequest>();
    if (!stream->Read(request.get())) break;
    response.Clear();
    RequestTrace trace(options_.metrics, metrics::Protocol::kGrpc);
    trace.set_api(metrics::api::kKServeStreamInfer);
    Status status = Infer(context, request, response.mutable_infer_response(), trace);
    trace.Finish(status.code());
    if (!status.ok()) {
      response.Clear();
      response.set_error_message(status.message());
      response.mutable_infer_response()->set_model_name(request->model_name());
      response.mutable_infer_response()->set_id(request->id());  // tells the client which request failed
    }
    if (!stream->Write(response)) break;  // the client is gone
  }
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream");
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::ModelConfig(grpc::ServerContext*, const inference::ModelConfigRequest* request,
                                            inference::ModelConfigResponse* response) {
  StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
  if (!handle.ok()) return ToGrpc(handle.status());
  *response->mutable_config() = ModelConfigFor(handle->model_name(), handle->signature());
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::ModelStatistics(grpc::ServerContext*, const inference::ModelStatisticsRequest* request,
                                                inference::ModelStatisticsResponse* response) {
  std::vector<std::string> names;
  VersionSelector selector;
  if (request->name().empty()) {
    if (!request->version().empty()) return ToGrpc(InvalidArgument("a version needs a model name"));
    names = models_.ModelNames();
  } else {
    StatusOr<ServableHandle> handle = Acquire(request->name(), request->version());
    if (!handle.ok()) return ToGrpc(handle.status());
    names.push_back(request->name());
    if (!request->version().empty()) selector.number = handle->version();
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
  return grpc::Status::OK;
}

Status KServeGrpcService::AuthorizeControl(const grpc::ServerContext& context,
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

grpc::Status KServeGrpcService::RepositoryIndex(grpc::ServerContext* context,
                                                const inference::RepositoryIndexRequest* request,
                                                inference::RepositoryIndexResponse* response) {
  Status allowed = AuthorizeControl(*context, request->repository_name());
  if (!allowed.ok()) return ToGrpc(allowed);
  for (const RepositoryIndexEntry& entry : options_.model_control->Index(request->ready())) {
    inference::RepositoryIndexResponse::ModelIndex* model = response->add_models();
    model->set_name(entry.name);
    model->set_version(entry.version);
    model->set_state(entry.state);
    model->set_reason(entry.reason);
  }
  return grpc::Status::OK;
}

grpc::Status KServeGrpcService::RepositoryModelLoad(grpc::ServerContext* context,
                                                    const inference::RepositoryModelLoadRequest* request,
                                                    inference::RepositoryModelLoadResponse*) {
  Status allowed = AuthorizeControl(*context, request->repository_name());
  if (!allowed.ok()) return ToGrpc(allowed);
  std::vector<std::string> parameter_names;
  for (const auto& parameter : request->parameters()) parameter_names.push_back(parameter.first.substr(0, 256));
  Status checked = CheckLoadParameters(parameter_names);
  if (!checked.ok()) return ToGrpc(checked);
  return ToGrpc(options_.model_control->Load(request->model_name()));
}

grpc::Status KServeGrpcService::RepositoryModelUnload(grpc::ServerContext* context,
                                                      const inference::RepositoryModelUnloadRequest* request,
                                                      inference::RepositoryModelUnloadResponse*) {
  Status allowed = AuthorizeControl(*context, request->repository_name());
  if (!allowed.ok()) return ToGrpc(allowed);
  return ToGrpc(options_.model_control->Unload(request->model_name()));  // unload_dependents: no ensembles
}

}  // namespace serval

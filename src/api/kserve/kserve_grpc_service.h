// KServeGrpcService: the KServe v2 / Open Inference Protocol gRPC API (inference.GRPCInferenceService,
// proto/inference/grpc_service.proto) over the ModelManager, on gRPC's callback API. Cheap methods (health,
// metadata, configuration, statistics, the repository index) answer on the gRPC thread that received them;
// ModelInfer, each request of a ModelStreamInfer stream, and repository load/unload run on the gRPC
// WorkerPool (KServeGrpcOptions::workers), not on a gRPC thread, except ModelInfer calls of short unbatched
// models that the inline gate admits (KServeGrpcOptions::inline_gate, core/inline_run.h). A full worker queue answers
// RESOURCE_EXHAUSTED (in a stream: that request's error_message; the stream goes on). An open stream holds
// no thread while it waits for the client. Thread-safe; the service keeps no per-call state.
//
// Implemented: ServerLive, ServerReady (every configured model has an AVAILABLE version), ModelReady,
// ServerMetadata, ModelMetadata, ModelInfer, ModelStreamInfer, ModelConfig (a minimal configuration, see
// ModelConfigFor), ModelStatistics (every AVAILABLE version, counted by the metrics layer's ServingMetrics;
// all counters 0 without one), and repository control — RepositoryIndex, RepositoryModelLoad,
// RepositoryModelUnload — through ModelControl: PERMISSION_DENIED unless --enable_model_control,
// UNAUTHENTICATED without the admin token when one is set (metadata `authorization`), INVALID_ARGUMENT
// for a non-empty repository_name. The shared-memory, trace and log-settings methods answer UNIMPLEMENTED.
//
// Versions: `version` / `model_version` is a string in KServe v2. Empty = the newest AVAILABLE version;
// decimal digits = that version; anything else is a version LABEL ("stable"), which Serval resolves
// (docs/protocols.md §2.9.6). Errors map code for code (serval::StatusCode mirrors grpc::StatusCode); a model
// that does not resolve gets Triton's code and text (ServingFrontend::TritonResolveError: an unknown model
// INVALID_ARGUMENT, an unknown version NOT_FOUND), ModelReady included, as Triton's.
// Each method decodes, asks the serving frontend (api/serving/serving_frontend.h: resolution, deadline —
// over a year away is none —, cancellation before run, readiness, statistics) and encodes.
#pragma once

#include <atomic>

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "api/json/codec_limits.h"
#include "api/model_control.h"
#include "api/request_metrics.h"
#include "api/serving/serving_frontend.h"
#include "core/inline_run.h"
#include "core/worker_pool.h"
#include "inference/grpc_service.grpc.pb.h"
#include "repository/model_manager.h"

namespace serval {

struct KServeGrpcOptions {
  std::string server_name = "serval";
  std::string server_version;
  CodecLimits limits = {};
  // The repository extension. Null: those methods answer PERMISSION_DENIED. REQUIRES: outlives the service.
  ModelControl* model_control = nullptr;
  metrics::ServingMetrics* metrics = nullptr;   // request counts, latencies, statistics; null = not recorded
  const std::atomic<bool>* draining = nullptr;  // true once a graceful shutdown began: ServerReady is false
  // Runs inference and model loads. REQUIRES: non-null; outlives every call (stop it only after the gRPC
  // server has shut down).
  WorkerPool* workers = nullptr;
  // ModelInfer calls it admits run on the gRPC callback thread (core/inline_run.h); null = never. REQUIRES:
  // outlives every call.
  InlineGate* inline_gate = nullptr;
};

// ModelInfer and ModelStreamInfer are registered raw: each request is parsed on a worker within the request
// memory budget (api/grpc/budgeted_parse.h), not by gRPC before any check.
// (CallbackService's chain with those two raw: a raw bidi method cannot override a typed one.)
namespace kserve_grpc_base {
using S = inference::GRPCInferenceService;
using Base = S::WithCallbackMethod_ServerLive<S::WithCallbackMethod_ServerReady<
    S::WithCallbackMethod_ModelReady<S::WithCallbackMethod_ServerMetadata<S::WithCallbackMethod_ModelMetadata<
        S::WithRawCallbackMethod_ModelInfer<S::WithRawCallbackMethod_ModelStreamInfer<S::WithCallbackMethod_ModelConfig<
            S::WithCallbackMethod_ModelStatistics<S::WithCallbackMethod_RepositoryIndex<
                S::WithCallbackMethod_RepositoryModelLoad<S::WithCallbackMethod_RepositoryModelUnload<
                    S::WithCallbackMethod_SystemSharedMemoryStatus<S::WithCallbackMethod_SystemSharedMemoryRegister<
                        S::WithCallbackMethod_SystemSharedMemoryUnregister<
                            S::WithCallbackMethod_CudaSharedMemoryStatus<S::WithCallbackMethod_CudaSharedMemoryRegister<
                                S::WithCallbackMethod_CudaSharedMemoryUnregister<S::WithCallbackMethod_TraceSetting<
                                    S::WithCallbackMethod_LogSettings<S::Service>>>>>>>>>>>>>>>>>>>>;
}  // namespace kserve_grpc_base
using KServeGrpcServiceBase = kserve_grpc_base::Base;

class KServeGrpcService final : public KServeGrpcServiceBase {
 public:
  // REQUIRES: `models` outlives the service.
  KServeGrpcService(const ModelManager& models, KServeGrpcOptions options);
  KServeGrpcService(const KServeGrpcService&) = delete;
  KServeGrpcService& operator=(const KServeGrpcService&) = delete;

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // Answers each request in order: ModelStreamInferResponse{infer_response} on success, {error_message,
  // infer_response.id} on failure; one failed request does not end the stream. Requests are read one at a
  // time: the next is read once the answer to the previous one is written.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ModelStreamInfer(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                const inference::RepositoryModelLoadRequest* request,
                                                inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* context,
                                                  const inference::RepositoryModelUnloadRequest* request,
                                                  inference::RepositoryModelUnloadResponse* response) override;

 private:
  class StreamInferReactor;

  // One inference: resolve the version, decode, run, encode. `request` is kept alive by its owner for as
  // long as the decoded tensors borrow from it. Blocks for the model run: call it on a worker.
  Status Infer(grpc::CallbackServerContext* context, const std::shared_ptr<const inference::ModelInferRequest>& request,
               inference::ModelInferResponse* response, RequestTrace& trace) const;
  // The model and version a request names (KServe's string version, bounded by the codec limits).
  StatusOr<ModelRef> DecodeModelRef(const std::string& model, const std::string& version) const;
  StatusOr<ServableHandle> Acquire(const std::string& model, const std::string& version,
                                   RequestTrace* trace = nullptr) const;
  // Authorises a repository call and checks its repository_name.
  Status AuthorizeControl(const grpc::CallbackServerContext& context, const std::string& repository_name) const;
  Status ModelStatisticsOf(const inference::ModelStatisticsRequest& request,
                           inference::ModelStatisticsResponse* response) const;

  const KServeGrpcOptions options_;
  const ServingFrontend frontend_;
};

}  // namespace serval

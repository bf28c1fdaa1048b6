// KServeGrpcService: the KServe v2 / Open Inference Protocol gRPC API (inference.GRPCInferenceService,
// proto/inference/grpc_service.proto) over the ModelManager. Synchronous: each call runs on the gRPC
// server thread that received it (a ModelStreamInfer stream holds its thread until the client finishes
// writing or cancels). Thread-safe; holds no per-call state.
//
// Implemented: ServerLive, ServerReady (every configured model has an AVAILABLE version), ModelReady,
// ServerMetadata, ModelMetadata, ModelInfer, ModelStreamInfer, ModelConfig (a minimal configuration, see
// ModelConfigFor), ModelStatistics (names and versions; every counter 0 until Serval keeps statistics).
// Every other method of the service (repository control, shared memory, trace and log settings) answers
// UNIMPLEMENTED.
//
// Versions: `version` / `model_version` is a string in KServe v2. Empty = the newest AVAILABLE version;
// decimal digits = that version; anything else is a version LABEL ("stable"), which Serval resolves
// (protocols.md §2.9.6). Errors map code for code (serval::StatusCode mirrors grpc::StatusCode); an unknown
// model or version is NOT_FOUND — except in ModelReady, which answers ready=false as Triton does.
// Deadlines: the call's deadline becomes InferenceRequest.deadline.
#pragma once

#include <atomic>

#include <cstdint>
#include <string>

#include <grpcpp/grpcpp.h>

#include "api/json/codec_limits.h"
#include "api/model_control.h"
#include "api/request_metrics.h"
#include "inference/grpc_service.grpc.pb.h"
#include "repository/model_manager.h"

namespace serval {

struct KServeGrpcOptions {
  std::string server_name = "serval";
  std::string server_version;
  CodecLimits limits = {};
  // The repository extension. Null: those methods answer PERMISSION_DENIED. REQUIRES: outlives the service.
  ModelControl* model_control = nullptr;
  metrics::ServingMetrics* metrics = nullptr;  // request counts, latencies, statistics; null = not recorded
  const std::atomic<bool>* draining = nullptr;  // true once a graceful shutdown began: ServerReady is false
};

class KServeGrpcService final : public inference::GRPCInferenceService::Service {
 public:
  // REQUIRES: `models` outlives the service.
  KServeGrpcService(const ModelManager& models, KServeGrpcOptions options);
  KServeGrpcService(const KServeGrpcService&) = delete;
  KServeGrpcService& operator=(const KServeGrpcService&) = delete;

  grpc::Status ServerLive(grpc::ServerContext* context, const inference::ServerLiveRequest* request,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext* context, const inference::ServerReadyRequest* request,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext* context, const inference::ServerMetadataRequest* request,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext* context, const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override;
  // Answers each request in order: ModelStreamInferResponse{infer_response} on success, {error_message,
  // infer_response.id} on failure; one failed request does not end the stream.
  grpc::Status ModelStreamInfer(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<inference::ModelStreamInferResponse, inference::ModelInferRequest>* stream) override;
  grpc::Status ModelConfig(grpc::ServerContext* context, const inference::ModelConfigRequest* request,
                           inference::ModelConfigResponse* response) override;
  grpc::Status ModelStatistics(grpc::ServerContext* context, const inference::ModelStatisticsRequest* request,
                               inference::ModelStatisticsResponse* response) override;
  grpc::Status RepositoryIndex(grpc::ServerContext* context, const inference::RepositoryIndexRequest* request,
                               inference::RepositoryIndexResponse* response) override;
  grpc::Status RepositoryModelLoad(grpc::ServerContext* context, const inference::RepositoryModelLoadRequest* request,
                                   inference::RepositoryModelLoadResponse* response) override;
  grpc::Status RepositoryModelUnload(grpc::ServerContext* context,
                                     const inference::RepositoryModelUnloadRequest* request,
                                     inference::RepositoryModelUnloadResponse* response) override;

 private:
  // One inference: resolve the version, decode, run, encode. `request` is kept alive by its owner for as
  // long as the decoded tensors borrow from it.
  Status Infer(grpc::ServerContext* context, std::shared_ptr<const inference::ModelInferRequest> request,
               inference::ModelInferResponse* response, RequestTrace& trace) const;
  StatusOr<ServableHandle> Acquire(const std::string& model, const std::string& version) const;
  // Authorises a repository call and checks its repository_name.
  Status AuthorizeControl(const grpc::ServerContext& context, const std::string& repository_name) const;

  const ModelManager& models_;
  const KServeGrpcOptions options_;
};

}  // namespace serval

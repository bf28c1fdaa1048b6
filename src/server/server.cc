#include "server/server.h"

#include <spdlog/spdlog.h>

#include "api/grpc/grpc_server.h"
#include "api/grpc/health_service.h"
#include "api/http/http_server.h"
#include "api/kserve/kserve_grpc_service.h"
#include "api/rest_api.h"
#include "api/tfs/tfs_grpc_service.h"
#include "repository/model_manager.h"

namespace serval {
namespace {

class ServalServer : public Server {
 public:
  ~ServalServer() override { Stop(); }

  Status Init(const ServerOptions& options) {
    StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options.engine);
    if (!engine.ok()) return engine.status();
    engine_ = std::move(engine).value();
    spdlog::info("ONNX Runtime {}: {} intra-op threads, {} REST I/O threads", engine_->runtime_version(),
                 options.engine.intra_op_threads, options.rest_api_num_threads);

    models_ = std::make_unique<ModelManager>(*engine_, ModelManagerOptions{options.file_system_poll_wait_seconds});
    Status loaded = models_->SetConfig(options.models);
    if (!loaded.ok()) spdlog::warn("not every model is available: {}", loaded.message());
    models_->StartPolling();

    rest_api_ = std::make_unique<RestApi>(*models_, RestApiOptions{.server_version = SERVAL_VERSION,
                                                                    .runtime_version = engine_->runtime_version()});
    if (options.rest_api_port != 0) {
      HttpServerOptions http;
      http.address = options.rest_api_address;
      http.port = options.rest_api_port;
      http.num_io_threads = options.rest_api_num_threads;
      http.max_body_bytes = options.max_body_bytes;
      http.request_timeout_ms = options.rest_api_timeout_in_ms;
      http.enable_cors = options.rest_api_enable_cors_support;
      StatusOr<std::unique_ptr<HttpServer>> server =
          HttpServer::Start(http, [api = rest_api_.get()](HttpRequest& request, HttpResponse& response) {
            api->Handle(request, response);
          });
      if (!server.ok()) return server.status();
      http_ = std::move(server).value();
      spdlog::info("REST API (TF Serving /v1, KServe v2 /v2) listening on {}:{}", options.rest_api_address,
                   http_->port());
    }
    if (options.grpc_port >= 0 || !options.grpc_socket_path.empty()) {
      SERVAL_RETURN_IF_ERROR(StartGrpc(options));
    }
    return Status::Ok();
  }

  Status StartGrpc(const ServerOptions& options) {
    const ModelManager& models = *models_;
    tfs_prediction_ = std::make_unique<TfsPredictionService>(
        models, TfsGrpcOptions{.serialize_as_tensor_content = options.enable_serialization_as_tensor_content});
    tfs_model_ = std::make_unique<TfsModelService>(models);
    kserve_ = std::make_unique<KServeGrpcService>(
        models, KServeGrpcOptions{.server_name = "serval", .server_version = SERVAL_VERSION});
    health_ = std::make_unique<HealthService>([&models] { return models.AllModelsReady(); },
                                              [&models](const std::string& name) {
                                                for (const std::string& known : models.ModelNames()) {
                                                  if (known == name) return true;
                                                }
                                                return false;
                                              });
    GrpcServerOptions grpc;
    grpc.address = options.rest_api_address;
    grpc.port = options.grpc_port;
    grpc.socket_path = options.grpc_socket_path;
    grpc.max_threads = options.grpc_max_threads;
    grpc.max_message_bytes = options.grpc_max_message_size_bytes;
    grpc.channel_arguments = options.grpc_channel_arguments;
    StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start(grpc, {tfs_prediction_.get(), tfs_model_.get(), kserve_.get(), health_.get()});
    if (!server.ok()) return server.status();
    grpc_ = std::move(server).value();
    spdlog::info("gRPC API (TF Serving, KServe v2, health) listening on {}:{}{} with at most {} threads",
                 options.rest_api_address, grpc_->port(),
                 options.grpc_socket_path.empty() ? "" : " and unix:" + options.grpc_socket_path,
                 options.grpc_max_threads);
    return Status::Ok();
  }

  int grpc_port() const override { return grpc_ ? grpc_->port() : 0; }

  int rest_port() const override { return http_ ? http_->port() : 0; }

  void Stop() override {
    if (health_) health_->Shutdown();
    if (grpc_) grpc_->Shutdown(/*deadline_ms=*/1000);
    grpc_.reset();
    health_.reset();
    kserve_.reset();
    tfs_model_.reset();
    tfs_prediction_.reset();
    if (http_) http_->Stop();
    http_.reset();
    rest_api_.reset();
    models_.reset();
    engine_.reset();
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<RestApi> rest_api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<TfsPredictionService> tfs_prediction_;
  std::unique_ptr<TfsModelService> tfs_model_;
  std::unique_ptr<KServeGrpcService> kserve_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<GrpcServer> grpc_;
};

}  // namespace

StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  auto server = std::make_unique<ServalServer>();
  Status status = server->Init(options);
  if (!status.ok()) return status;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace serval

#include "server/server.h"

#include <spdlog/spdlog.h>

#include "api/http/http_server.h"
#include "api/rest_api.h"
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
    return Status::Ok();
  }

  int rest_port() const override { return http_ ? http_->port() : 0; }

  void Stop() override {
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
};

}  // namespace

StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  auto server = std::make_unique<ServalServer>();
  Status status = server->Init(options);
  if (!status.ok()) return status;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace serval

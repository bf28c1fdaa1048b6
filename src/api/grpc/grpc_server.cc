#include "api/grpc/grpc_server.h"

#include <charconv>
#include <chrono>

namespace serval {

Status ParseGrpcChannelArguments(const std::string& text, std::vector<std::pair<std::string, std::string>>* out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      return InvalidArgument("--grpc_channel_arguments: '" + item + "' is not name=value");
    }
    out->emplace_back(item.substr(0, equals), item.substr(equals + 1));
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                        const std::vector<grpc::Service*>& services,
                                                        std::unique_ptr<WorkerPool> workers) {
  std::vector<std::pair<std::string, std::string>> arguments;
  SERVAL_RETURN_IF_ERROR(ParseGrpcChannelArguments(options.channel_arguments, &arguments));

  grpc::ServerBuilder builder;
  std::unique_ptr<GrpcServer> server(new GrpcServer());
  server->workers_ = std::move(workers);
  if (options.port >= 0) {
    std::string address =
        options.address.find(':') != std::string::npos ? "[" + options.address + "]" : options.address;
    builder.AddListeningPort(address + ":" + std::to_string(options.port), grpc::InsecureServerCredentials(),
                             &server->port_);
  }
  if (!options.socket_path.empty()) {
    builder.AddListeningPort("unix:" + options.socket_path, grpc::InsecureServerCredentials());
  }
  for (grpc::Service* service : services) builder.RegisterService(service);

  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // A second server on a busy port must fail, not silently share it (gRPC enables SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (const auto& [name, value] : arguments) {
    int64_t number = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec == std::errc() && ptr == value.data() + value.size() && number >= INT32_MIN && number <= INT32_MAX) {
      builder.AddChannelArgument(name, static_cast<int>(number));
    } else {
      builder.AddChannelArgument(name, value);
    }
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || (options.port >= 0 && server->port_ == 0)) {
    return Unavailable("cannot start the gRPC server on " + options.address + ":" + std::to_string(options.port) +
                       (options.socket_path.empty() ? "" : " / unix:" + options.socket_path) +
                       " (port in use or bad address)");
  }
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::Shutdown(int deadline_ms) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  // gRPC cancelled what was still running at the deadline; the workers finish those calls (and answer the
  // ones still queued) before they stop. The grpc::Server object stays alive until the destructor, so a
  // call finished here is still valid.
  if (workers_) workers_->Stop();
  server_->Wait();
}

}  // namespace serval

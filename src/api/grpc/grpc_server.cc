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

namespace {

// TLS from the settings (TF Serving's SSLConfig semantics), or plaintext when they are disabled.
std::shared_ptr<grpc::ServerCredentials> TcpCredentials(const TlsSettings& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(tls.client_verify ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.force_client_auth = tls.client_verify;
  ssl.pem_root_certs = tls.custom_ca;
  ssl.pem_key_cert_pairs.push_back({tls.server_key, tls.server_cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

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
    builder.AddListeningPort(address + ":" + std::to_string(options.port), TcpCredentials(options.tls), &server->port_);
  }
  if (!options.socket_path.empty()) {
    builder.AddListeningPort("unix:" + options.socket_path, grpc::InsecureServerCredentials());
  }
  for (grpc::Service* service : services) builder.RegisterService(service);

  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // A second server on a busy port must fail, not silently share it (gRPC enables SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Bounds the calls one connection may hold open (gRPC's default is unbounded: a client could keep
  // thousands of half-open streams on one connection). --grpc_channel_arguments below may override it.
  if (options.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  }
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
                       (options.tls.enabled() ? " (port in use, bad address, or a key/certificate gRPC cannot use)"
                                              : " (port in use or bad address)"));
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

#include "api/grpc/grpc_server.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include <absl/synchronization/mutex.h>
#include <grpc/grpc.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

namespace serval {
namespace {

// gRPC's library shutdown (the last grpc_shutdown, which ~grpc::Server runs) joins gRPC's executor threads,
// and one of them can sit in epoll_wait with a 10 s deadline that nothing wakes: a SIGTERM then took 10 s to
// stop, in 3 of 9 ASan runs of one test (gdb: main in Executor::SetThreading's join, default-executor in
// epoll_wait). One reference held for the life of the process leaves that shutdown to process exit, which
// skips it; servers started and stopped in one process also keep one gRPC runtime instead of a new one each.
void HoldGrpcLibraryForTheProcess() {
  [[maybe_unused]] static const bool held = [] {
    grpc_init();
    return true;
  }();
}

// True when `fd` is a listening socket bound to TCP `port` (any address) or to the UNIX path `path`.
bool IsOurListener(int fd, int port, const std::string& path) {
  int listening = 0;
  socklen_t len = sizeof(listening);
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) return false;
  sockaddr_storage addr{};
  socklen_t addr_len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) return false;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port) == port;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port) == port;
  if (addr.ss_family == AF_UNIX && !path.empty()) {
    return std::strncmp(reinterpret_cast<const sockaddr_un*>(&addr)->sun_path, path.c_str(),
                        sizeof(sockaddr_un::sun_path)) == 0;
  }
  return false;
}

// Established TCP connections whose local port is `port` (only this process listens there).
int OpenConnections(int port) {
  int open = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // "  sl  local_address rem_address   st ...": local "ADDR:PORT" in hex, state 01 = ESTABLISHED
      std::istringstream fields(line);
      std::string slot;
      std::string local;
      std::string remote;
      std::string state;
      if (!(fields >> slot >> local >> remote >> state)) continue;
      const size_t colon = local.rfind(':');
      if (state == "01" && colon != std::string::npos && std::strtol(local.c_str() + colon + 1, nullptr, 16) == port) {
        ++open;
      }
    }
  }
  return open;
}

}  // namespace

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

// TLS from the settings (TF Serving's SSLConfig semantics), or plaintext when they are disabled; read from
// watched files when the options name them.
std::shared_ptr<grpc::ServerCredentials> TcpCredentials(const GrpcServerOptions& options) {
  const TlsSettings& tls = options.tls;
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  if (options.tls_files) {
    const GrpcServerOptions::TlsFiles& files = *options.tls_files;
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        files.key_path, files.cert_path, files.ca_path, files.refresh_seconds);
    grpc::experimental::TlsServerCredentialsOptions credentials(provider);
    credentials.watch_identity_key_cert_pairs();
    if (!files.ca_path.empty()) credentials.watch_root_certs();
    credentials.set_cert_request_type(tls.client_verify ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                        : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    return grpc::experimental::TlsServerCredentials(credentials);
  }
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

  // Debian's Abseil is built with its debug checks on, so every absl::Mutex that gRPC locks also updates a
  // process-wide lock-order graph (deadlock detection): about 1 % of the server's CPU under gRPC load
  // (GraphCycles in perf). Release builds of gRPC run without it; so does Serval.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  HoldGrpcLibraryForTheProcess();

  grpc::ServerBuilder builder;
  std::unique_ptr<GrpcServer> server(new GrpcServer());
  server->workers_ = std::move(workers);
  server->socket_path_ = options.socket_path;
  if (options.port >= 0) {
    std::string address =
        options.address.find(':') != std::string::npos ? "[" + options.address + "]" : options.address;
    builder.AddListeningPort(address + ":" + std::to_string(options.port), TcpCredentials(options), &server->port_);
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

GrpcServer::LameDuckResult GrpcServer::LameDuck(std::chrono::milliseconds max_wait) {
  if (shut_down_ || server_ == nullptr) return {};
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  int closed = 0;
  if (DIR* fds = ::opendir("/proc/self/fd"); fds != nullptr) {
    while (const dirent* entry = ::readdir(fds)) {
      int fd = -1;
      const std::string_view name(entry->d_name);
      if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
      if (fd <= 2 || fd == ::dirfd(fds) || !IsOurListener(fd, port_, socket_path_)) continue;
      // shutdown(), not close(): gRPC still owns the descriptor (it sees accept() fail and drops the
      // listener; Shutdown() closes it). A shut-down listening socket refuses new connections at once.
      if (::shutdown(fd, SHUT_RDWR) == 0) ++closed;
    }
    ::closedir(fds);
  }
  int open = 0;
  while (port_ > 0 && (open = OpenConnections(port_)) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {.listeners_closed = closed, .connections_left = open};
}

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

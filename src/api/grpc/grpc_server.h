// GrpcServer: one gRPC server on --port (and optionally a UNIX socket) hosting every gRPC service
// (TF Serving PredictionService/ModelService, KServe GRPCInferenceService, grpc.health.v1.Health).
// Services use gRPC's callback API: gRPC's own small, fixed set of threads does the I/O and answers cheap
// calls inline; anything that may block (a model run, a model load) goes to the WorkerPool the server owns
// (--grpc_max_threads threads, created once, with a bounded queue). Connections and calls never add
// threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/status.h"
#include "core/tls_settings.h"
#include "core/worker_pool.h"

namespace serval {

struct GrpcServerOptions {
  std::string address = "0.0.0.0";
  int port = 8500;                   // 0 = an ephemeral port (see port()); -1 = no TCP listener
  std::string socket_path;           // non-empty: also listen on unix:<path>
  int max_message_bytes = 64 << 20;  // receive (after decompression) and send limit (TF Serving: INT32_MAX)
  int max_concurrent_streams = 256;  // per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); 0 = unbounded
  std::string channel_arguments;     // TF Serving syntax: "name=value,name=value" (int values as ints)
  // Enabled: the TCP port speaks TLS only (with client_verify, a client without a certificate signed by
  // custom_ca fails the handshake). The UNIX socket stays plaintext: it is local, guarded by file modes.
  TlsSettings tls;
  // Set: the key, certificate chain and CA are read from these PEM files (what `tls` holds, written there by
  // the caller) and re-read every `tls_refresh_seconds`, so new connections get rewritten certificates
  // without a restart (gRPC's FileWatcherCertificateProvider; open connections keep theirs). Empty: `tls`
  // is fixed for the server's life. `tls.client_verify` applies either way.
  struct TlsFiles {
    std::string key_path, cert_path, ca_path;  // ca_path empty: no custom CA
    unsigned refresh_seconds = 1;
  };
  std::optional<TlsFiles> tls_files;
};

// Parses TF Serving's --grpc_channel_arguments into ChannelArguments applied to the server builder.
// A value that parses as an integer is set as an int, otherwise as a string. Empty items are skipped.
Status ParseGrpcChannelArguments(const std::string& text, std::vector<std::pair<std::string, std::string>>* out);

class GrpcServer {
 public:
  // REQUIRES: every service outlives the server. `workers` (may be null) is the pool the services hand
  // blocking calls to; the server owns it from here on and stops it in Shutdown(), after gRPC's own.
  static StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                     const std::vector<grpc::Service*>& services,
                                                     std::unique_ptr<WorkerPool> workers = nullptr);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  // Lame duck, the first step of a drain behind a proxy that caches connections (nginx): closes the
  // listening sockets — a new connection is refused, which a proxy retries elsewhere and counts as a
  // failure of this server — while the open connections keep being served (calls on them are not
  // cancelled, unlike after Shutdown). Returns when no TCP connection to port() is left open or after
  // `max_wait`, whichever is first. Connections close when their clients leave or at
  // grpc.max_connection_age_ms (a graceful GOAWAY: a proxy finishes its call and does not reuse the
  // connection). gRPC has no call for this: the listeners are found among the process's sockets by their
  // address, the open connections in /proc/net/tcp{,6}. Call Shutdown() afterwards.
  // REQUIRES: not called concurrently with Shutdown().
  struct LameDuckResult {
    int listeners_closed = 0;
    int connections_left = 0;  // still open when it returned
  };
  LameDuckResult LameDuck(std::chrono::milliseconds max_wait);
  // Stops accepting; in-flight calls get until `deadline_ms` to finish, then are cancelled (a cancelled
  // model run stops: its client is gone). Then the worker pool runs what is left in its queue (each such
  // call answers at once: cancelled) and stops. On return no service method runs or will run: the
  // services may be destroyed. Idempotent; REQUIRES: not called concurrently.
  void Shutdown(int deadline_ms = 0);

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<WorkerPool> workers_;
  int port_ = 0;
  std::string socket_path_;
  bool shut_down_ = false;
};

}  // namespace serval

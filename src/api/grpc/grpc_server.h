// GrpcServer: one gRPC server on --port (and optionally a UNIX socket) hosting every gRPC service
// (TF Serving PredictionService/ModelService, KServe GRPCInferenceService, grpc.health.v1.Health).
// Services are synchronous: a request runs on one of gRPC's server threads, whose number is capped by a
// ResourceQuota (--grpc_max_threads), so idle or extra connections never add threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/status.h"

namespace serval {

struct GrpcServerOptions {
  std::string address = "0.0.0.0";
  int port = 8500;                 // 0 = an ephemeral port (see port()); -1 = no TCP listener
  std::string socket_path;         // non-empty: also listen on unix:<path>
  int max_threads = 4;             // cap on gRPC server threads (ResourceQuota)
  int max_message_bytes = 2147483647;  // receive and send limit (TF Serving: INT32_MAX)
  std::string channel_arguments;   // TF Serving syntax: "name=value,name=value" (int values as ints)
};

// Parses TF Serving's --grpc_channel_arguments into ChannelArguments applied to the server builder.
// A value that parses as an integer is set as an int, otherwise as a string. Empty items are skipped.
Status ParseGrpcChannelArguments(const std::string& text, std::vector<std::pair<std::string, std::string>>* out);

class GrpcServer {
 public:
  // REQUIRES: every service outlives the server.
  static StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                     const std::vector<grpc::Service*>& services);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  // Stops accepting; in-flight calls get until `deadline_ms` to finish, then are cancelled. Idempotent.
  void Shutdown(int deadline_ms = 0);

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace serval

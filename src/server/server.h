// Server: wires the layers — Engine, ModelManager, REST API over the HTTP server — and owns them.
// Start() returns once every configured model has been tried and the listeners accept connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/status.h"
#include "server/server_options.h"

namespace serval {

class Server {
 public:
  virtual ~Server() = default;
  static StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  // The bound REST port (differs from the option when it was 0).
  virtual int rest_port() const = 0;
  // The bound gRPC TCP port (0 when gRPC has no TCP listener).
  virtual int grpc_port() const = 0;
  // Graceful shutdown, step one: readiness turns false at once (REST /v2/health/ready, /v1/health/ready and
  // gRPC health), the listeners stop accepting, and requests already accepted (running or queued) finish,
  // for at most `timeout`. Returns how many were still unfinished at the deadline. Call Stop() after it.
  virtual int64_t Drain(std::chrono::milliseconds timeout) = 0;
  // Stops listeners and joins every thread. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace serval

// HealthService: grpc.health.v1.Health on gRPC's callback API. Check answers SERVING while `ready()` is
// true (the empty service name and every model name are known services), inline on the gRPC thread. Watch
// sends the status once and again on each change, until the client cancels or Shutdown(); an open Watch
// holds no thread: one notifier thread, created with the service, polls `ready()` every 100 ms for all
// of them. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace serval {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // `ready` is called on every Check and every Watch tick; `known_service(name)` says whether a
  // non-empty service name is known (a model name). Both are called from gRPC and notifier threads.
  HealthService(std::function<bool()> ready, std::function<bool(const std::string&)> known_service);
  ~HealthService() override;  // Shutdown()
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context, const grpc::health::v1::HealthCheckRequest* request) override;
  // Ends every Watch (the stream finishes OK once a write in flight is done), makes later Watch calls end
  // at once and Check answer NOT_SERVING, and joins the notifier. Called before the server shuts down.
  // Idempotent.
  void Shutdown();

 private:
  class Watcher;
  // The open Watch streams. Shared with them: a stream may end after the service is gone.
  struct Watchers {
    std::mutex mutex;
    std::condition_variable wakeup;
    bool stopping = false;
    std::vector<std::shared_ptr<Watcher>> open;
  };

  grpc::health::v1::HealthCheckResponse::ServingStatus StatusOf(const std::string& service) const;
  void NotifyLoop();

  std::function<bool()> ready_;
  std::function<bool(const std::string&)> known_service_;
  const std::shared_ptr<Watchers> watchers_ = std::make_shared<Watchers>();
  std::mutex shutdown_mutex_;  // serialises Shutdown()
  std::thread notifier_;
};

}  // namespace serval

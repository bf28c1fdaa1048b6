// HealthService: grpc.health.v1.Health. Check answers SERVING while `ready()` is true (the empty service
// name and every model name are known services); Watch sends the status once and again on each change,
// until the client cancels or the server shuts down. Thread-safe.
#pragma once

#include <atomic>
#include <functional>

#include "grpc/health/v1/health.grpc.pb.h"

namespace serval {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // `ready` is called on every Check and every Watch tick; `known_service(name)` says whether a
  // non-empty service name is known (a model name).
  HealthService(std::function<bool()> ready, std::function<bool(const std::string&)> known_service);

  grpc::Status Check(grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;
  // Makes every Watch return; called before the server shuts down.
  void Shutdown() { shutting_down_ = true; }

 private:
  grpc::health::v1::HealthCheckResponse::ServingStatus StatusOf(const std::string& service) const;

  std::function<bool()> ready_;
  std::function<bool(const std::string&)> known_service_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace serval

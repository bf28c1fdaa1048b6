#include "api/grpc/health_service.h"

#include <chrono>
#include <thread>

namespace serval {

using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService(std::function<bool()> ready, std::function<bool(const std::string&)> known_service)
    : ready_(std::move(ready)), known_service_(std::move(known_service)) {}

HealthCheckResponse::ServingStatus HealthService::StatusOf(const std::string& service) const {
  if (!service.empty() && !known_service_(service)) return HealthCheckResponse::SERVICE_UNKNOWN;
  return !shutting_down_ && ready_() ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  HealthCheckResponse::ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return {grpc::StatusCode::NOT_FOUND, "unknown service '" + request->service() + "'"};
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  // Polling keeps this simple; a Watch holds one server thread, bounded by the thread quota like any call.
  bool first = true;
  HealthCheckResponse::ServingStatus last = HealthCheckResponse::UNKNOWN;
  while (!context->IsCancelled() && !shutting_down_) {
    HealthCheckResponse::ServingStatus now = StatusOf(request->service());
    if (first || now != last) {
      HealthCheckResponse response;
      response.set_status(now);
      if (!writer->Write(response)) break;
      first = false;
      last = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return grpc::Status::OK;
}

}  // namespace serval

// gRPC glue shared by the TF Serving and KServe gRPC services: a serval::Status as a grpc::Status, a call's
// deadline and cancellation as the serving frontend's CallContext, and the bearer credential a call carries.
// The rules themselves (the one-year deadline rule, the check before a run) live in the serving frontend;
// this header only adapts gRPC's types to them. Header-only.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "api/serving/serving_frontend.h"
#include "core/client_message.h"
#include "core/run_context.h"
#include "core/status.h"

namespace serval {

// Code for code (serval::StatusCode mirrors grpc::StatusCode); the message as a client may see it
// (ClientMessage).
inline grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())), ClientMessage(status.message()));
}

// A gRPC deadline (system clock; time_point::max() when the client set none) as a steady-clock Deadline:
// DeadlineFromSystemClock's rule (far future = none, past stays past).
inline Deadline DeadlineFromGrpc(std::chrono::system_clock::time_point deadline) {
  return DeadlineFromSystemClock(deadline);
}

// The call's deadline, and a probe that turns true once the client cancelled or went away. REQUIRES: the
// context outlives every use of the probe (it does for the duration of the call).
inline CallContext CallContextOf(const grpc::CallbackServerContext& context) {
  return CallContext{DeadlineFromGrpc(context.deadline()), [&context] { return context.IsCancelled(); }};
}

// The `authorization` metadata of the call, if any (the model-control credential).
inline std::optional<std::string_view> AuthorizationOf(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    return std::string_view(it->second.data(), it->second.size());
  }
  return std::nullopt;
}

// Answers a cheap call inline, on the gRPC thread that received it.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace serval

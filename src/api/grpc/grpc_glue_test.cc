#include "api/grpc/grpc_glue.h"

#include <gtest/gtest.h>

namespace serval {
namespace {

TEST(GrpcGlueTest, StatusCodeForCode) {
  EXPECT_TRUE(ToGrpcStatus(Status::Ok()).ok());
  grpc::Status notfound = ToGrpcStatus(NotFound("Servable not found for request: Latest(x)"));
  EXPECT_EQ(notfound.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(notfound.error_message(), "Servable not found for request: Latest(x)");
  EXPECT_EQ(ToGrpcStatus(ResourceExhausted("x")).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(Status(StatusCode::kUnauthenticated, "x")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(GrpcGlueTest, DeadlineByTheFrontendRule) {
  EXPECT_EQ(DeadlineFromGrpc(std::chrono::system_clock::time_point::max()), kNoDeadline);
  const auto before = std::chrono::steady_clock::now();
  const Deadline in_one_second = DeadlineFromGrpc(std::chrono::system_clock::now() + std::chrono::seconds(1));
  EXPECT_GT(in_one_second, before + std::chrono::milliseconds(900));
  EXPECT_LT(in_one_second, std::chrono::steady_clock::now() + std::chrono::milliseconds(1100));
  const Deadline past = DeadlineFromGrpc(std::chrono::system_clock::now() - std::chrono::seconds(5));
  const Deadline oldest = DeadlineFromGrpc(std::chrono::system_clock::time_point::min());
  const auto after = std::chrono::steady_clock::now();
  EXPECT_LE(past, after);  // already expired
  EXPECT_LE(oldest, after);
  // Far in the future (two years, or just short of "infinite"): no deadline, on both services.
  EXPECT_EQ(DeadlineFromGrpc(std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 2)), kNoDeadline);
  EXPECT_EQ(DeadlineFromGrpc(std::chrono::system_clock::time_point::max() - std::chrono::hours(1)), kNoDeadline);
}

}  // namespace
}  // namespace serval

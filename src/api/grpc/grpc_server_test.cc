#include <atomic>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "api/grpc/grpc_server.h"
#include "api/grpc/health_service.h"

namespace serval {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TEST(GrpcChannelArgumentsTest, ParsesTfServingSyntax) {
  std::vector<std::pair<std::string, std::string>> args;
  ASSERT_TRUE(ParseGrpcChannelArguments("grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb,", &args).ok());
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].first, "grpc.max_connection_age_ms");
  EXPECT_EQ(args[0].second, "2000");
  EXPECT_EQ(args[1].second, "grpclb");
  std::vector<std::pair<std::string, std::string>> bad;
  EXPECT_FALSE(ParseGrpcChannelArguments("novalue", &bad).ok());
  EXPECT_FALSE(ParseGrpcChannelArguments("=3", &bad).ok());
}

TEST(GrpcServerTest, HealthFollowsReadinessAndKnownServices) {
  std::atomic<bool> ready{false};
  HealthService health([&] { return ready.load(); }, [](const std::string& name) { return name == "add"; });
  GrpcServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.max_threads = 4;
  options.channel_arguments = "grpc.max_connection_age_ms=60000";
  auto server = GrpcServer::Start(options, {&health});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  auto check = [&](const std::string& service, HealthCheckResponse* response) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(service);
    return stub->Check(&context, request, response);
  };
  HealthCheckResponse response;
  ASSERT_TRUE(check("", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  ready = true;
  ASSERT_TRUE(check("add", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  EXPECT_EQ(check("nope", &response).error_code(), grpc::StatusCode::NOT_FOUND);

  // Watch: first message now, then a change.
  grpc::ClientContext watch_context;
  HealthCheckRequest request;
  auto reader = stub->Watch(&watch_context, request);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  ready = false;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  watch_context.TryCancel();
  health.Shutdown();
  (*server)->Shutdown(1000);
}

TEST(GrpcServerTest, PortInUseFails) {
  HealthService health([] { return true; }, [](const std::string&) { return false; });
  GrpcServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  auto first = GrpcServer::Start(options, {&health});
  ASSERT_TRUE(first.ok());
  HealthService other([] { return true; }, [](const std::string&) { return false; });
  options.port = (*first)->port();
  auto second = GrpcServer::Start(options, {&other});
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace serval

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <thread>

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "api/grpc/grpc_server.h"
#include "api/grpc/health_service.h"
#include "api/grpc/worker_call.h"

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

// Starting the server turns Abseil's deadlock detection off (a debug facility that costs every gRPC lock):
// afterwards a lock-order inversion, which it would report and abort on, passes.
TEST(GrpcServerTest, StartTurnsOffAbseilDeadlockDetection) {
  HealthService health([] { return true; }, [](const std::string&) { return false; });
  GrpcServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  auto server = GrpcServer::Start(options, {&health});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  absl::Mutex a, b;
  {
    absl::MutexLock first(&a);
    absl::MutexLock second(&b);
  }
  {
    absl::MutexLock first(&b);
    absl::MutexLock second(&a);  // the inverse order: a potential deadlock cycle
  }
  SUCCEED();
}

TEST(GrpcServerTest, HealthFollowsReadinessAndKnownServices) {
  std::atomic<bool> ready{false};
  HealthService health([&] { return ready.load(); }, [](const std::string& name) { return name == "add"; });
  GrpcServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.channel_arguments = "grpc.max_connection_age_ms=60000";
  auto server = GrpcServer::Start(options, {&health});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);

  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials());
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

// A Health service whose Check runs on a WorkerPool through FinishOnWorker and waits for `gate` there.
class GatedHealth final : public Health::CallbackService {
 public:
  GatedHealth(WorkerPool* workers, std::shared_future<void> gate) : workers_(workers), gate_(std::move(gate)) {}
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context, const HealthCheckRequest*,
                                  HealthCheckResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    FinishOnWorker(*workers_, reactor, nullptr, {}, [this, response](RequestTrace&) {
      ++started;
      gate_.wait();
      response->set_status(HealthCheckResponse::SERVING);
      return Status::Ok();
    });
    return reactor;
  }
  std::atomic<int> started{0};

 private:
  WorkerPool* const workers_;
  std::shared_future<void> gate_;
};

// `service` on an ephemeral loopback port, its model calls on `workers`.
StatusOr<std::unique_ptr<GrpcServer>> StartOnLoopback(grpc::Service& service, std::unique_ptr<WorkerPool> workers) {
  GrpcServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  return GrpcServer::Start(options, {&service}, std::move(workers));
}

TEST(GrpcServerTest, FullWorkerQueueAnswersResourceExhaustedAtOnce) {
  auto workers = std::make_unique<WorkerPool>("test-worker", 1, 2);
  WorkerPool* const pool = workers.get();
  std::promise<void> release;
  GatedHealth service(workers.get(), release.get_future().share());
  auto server = StartOnLoopback(service, std::move(workers));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto stub = Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));

  // One call runs (blocked), two wait in the queue: three calls in flight, started asynchronously.
  struct Pending {
    grpc::ClientContext context;
    HealthCheckResponse response;
    std::promise<grpc::Status> done;
  };
  std::vector<std::unique_ptr<Pending>> pending;
  HealthCheckRequest request;
  for (int i = 0; i < 3; ++i) {
    auto call = std::make_unique<Pending>();
    Pending* raw = call.get();
    stub->async()->Check(&raw->context, &request, &raw->response,
                         [raw](grpc::Status status) { raw->done.set_value(std::move(status)); });
    pending.push_back(std::move(call));
    if (i == 0) {
      while (service.started.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // Once the queue holds two, the next call is refused without waiting for the worker.
  while (pool->queued() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  HealthCheckResponse response;
  grpc::Status refused = stub->Check(&context, request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("gRPC worker threads are busy"), std::string::npos);
  release.set_value();
  for (auto& call : pending) {
    grpc::Status status = call->done.get_future().get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(call->response.status(), HealthCheckResponse::SERVING);
  }
  (*server)->Shutdown(1000);  // stops the pool after gRPC; the service is destroyed after this
}

TEST(GrpcServerTest, ShutdownFinishesCallsStillOnTheWorkers) {
  auto workers = std::make_unique<WorkerPool>("test-worker", 1, 4);
  std::promise<void> release;
  GatedHealth service(workers.get(), release.get_future().share());
  auto server = StartOnLoopback(service, std::move(workers));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto stub = Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  HealthCheckRequest request;
  HealthCheckResponse response;
  std::promise<grpc::Status> done;
  stub->async()->Check(&context, &request, &response, [&done](const grpc::Status& status) { done.set_value(status); });
  while (service.started.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Shutdown waits for the running call (its deadline passes first: gRPC cancels it); the worker finishes it.
  std::thread releaser([&release] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    release.set_value();
  });
  (*server)->Shutdown(100);
  releaser.join();
  done.get_future().wait();
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

// True when a TCP connection to 127.0.0.1:port is refused (nothing listens there).
bool ConnectionRefused(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

TEST(GrpcServerTest, LameDuckRefusesNewConnectionsAndServesOpenOnes) {
  HealthService health([] { return true; }, [](const std::string&) { return false; });
  GrpcServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.channel_arguments = "grpc.max_connection_age_ms=600000";
  auto server = GrpcServer::Start(options, {&health});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  auto check = [&] {
    grpc::ClientContext context;
    HealthCheckResponse response;
    return stub->Check(&context, HealthCheckRequest(), &response);
  };
  ASSERT_TRUE(check().ok());
  EXPECT_FALSE(ConnectionRefused(port));

  // The channel's connection stays open: the lame duck waits its whole time, then says so.
  const auto start = std::chrono::steady_clock::now();
  GrpcServer::LameDuckResult result = (*server)->LameDuck(std::chrono::milliseconds(300));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(result.listeners_closed, 1);
  EXPECT_EQ(result.connections_left, 1);
  EXPECT_TRUE(ConnectionRefused(port));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(check().ok()) << "a call on an open connection is served";

  // With no connection left it returns at once.
  channel.reset();
  stub.reset();
  const auto second = std::chrono::steady_clock::now();
  auto deadline = second + std::chrono::seconds(10);
  while ((*server)->LameDuck(std::chrono::milliseconds(0)).connections_left > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto quick = std::chrono::steady_clock::now();
  result = (*server)->LameDuck(std::chrono::seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - quick, std::chrono::seconds(1));
  EXPECT_EQ(result.connections_left, 0);
  (*server)->Shutdown(1000);
}

}  // namespace
}  // namespace serval

// serval-grpc-echo: the gRPC transport floor (docs/benchmarking.md §3.2 3b). A callback-API unary echo service
// on the same Debian libgrpc++ that Serval links, so Serval's gRPC latency and throughput can be stated as
// ratios to "gRPC itself". Runs until SIGINT/SIGTERM.
#include <gflags/gflags.h>
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>

#include "echo.grpc.pb.h"

DEFINE_string(address, "127.0.0.1", "address to bind");
DEFINE_int32(port, 0, "port to bind (required)");

namespace {

class EchoService final : public serval::bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const serval::bench::EchoMessage* request,
                                 serval::bench::EchoMessage* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_port <= 0) return std::fprintf(stderr, "serval-grpc-echo: --port is required\n"), 2;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // gRPC's threads inherit the mask; sigwait below takes them

  EchoService service;
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(FLAGS_address + ":" + std::to_string(FLAGS_port), grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) return std::fprintf(stderr, "serval-grpc-echo: cannot listen\n"), 1;
  std::printf("serval-grpc-echo listening on %s:%d\n", FLAGS_address.c_str(), bound_port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown();
  return 0;
}

// serval: reads flags, starts the server, waits for SIGINT/SIGTERM, stops. Nothing else.
#include <csignal>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "server/server.h"
#include "server/server_options.h"

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts so that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  serval::StatusOr<serval::ServerOptions> options = serval::ParseServerOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "serval: %s\n", options.status().message().c_str());
    return 2;
  }
  serval::StatusOr<std::unique_ptr<serval::Server>> server = serval::Server::Start(*options);
  if (!server.ok()) {
    std::fprintf(stderr, "serval: cannot start: %s\n", server.status().message().c_str());
    return 1;
  }
  spdlog::info("Serval {} ready", SERVAL_VERSION);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received signal {}; stopping", signal);
  (*server)->Stop();
  return 0;
}

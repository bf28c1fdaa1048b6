// serval: reads flags, starts the server, waits for SIGINT/SIGTERM, drains, stops. Nothing else.
//
// Shutdown: the first SIGINT/SIGTERM starts a graceful drain (readiness false, listeners closed, accepted
// requests finish within --drain_timeout_secs) and then exits 0, logging how many requests were left. A
// second signal during the drain exits at once with status 1.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <spdlog/spdlog.h>

#include "api/request_metrics.h"
#include "server/server.h"
#include "server/server_options.h"

namespace {

// glibc gives each thread that allocates concurrently an arena of its own, up to 8 x cores, and memory freed
// into one arena is not reused by another: after a burst (a rapid-reset flood of gRPC calls, say) the
// arenas of the many gRPC and worker threads keep what they grew to. Two arenas, measured in
// docs/reliability.md ("Allocator"), keep the peak and what stays after a flood lowest (below jemalloc and
// mimalloc). An explicit MALLOC_ARENA_MAX in the environment wins. Called before any thread exists.
void LimitMallocArenas() {
  const char* env = std::getenv("MALLOC_ARENA_MAX");
  if (env == nullptr || *env == '\0') mallopt(M_ARENA_MAX, 2);
}

}  // namespace

int main(int argc, char** argv) {
  LimitMallocArenas();
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
  if (!options->exit_text.empty()) {  // --help or --version
    std::fputs(options->exit_text.c_str(), stdout);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(options->log_level));
  serval::SetAccessLog(options->access_log);
  serval::StatusOr<std::unique_ptr<serval::Server>> server = serval::Server::Start(*options);
  if (!server.ok()) {
    std::fprintf(stderr, "serval: cannot start: %s\n", server.status().message().c_str());
    return 1;
  }
  spdlog::info("Serval {} ready", SERVAL_VERSION);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received signal {}; draining for at most {} s (a second signal exits at once)", signal,
               options->drain_timeout_secs);
  // The second signal: a detached watcher (the drain below must not be interrupted by anything else).
  std::thread([stop_signals] {
    int second = 0;
    sigwait(&stop_signals, &second);
    spdlog::warn("received signal {} again; exiting now without finishing the drain", second);
    spdlog::shutdown();
    std::_Exit(1);
  }).detach();

  int64_t left = (*server)->Drain(std::chrono::seconds(options->drain_timeout_secs));
  spdlog::info("drained: {} requests left unfinished; stopping", left);
  (*server)->Stop();
  spdlog::info("stopped");
  return 0;
}

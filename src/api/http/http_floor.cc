// The HTTP floor: what one keep-alive round trip through HttpServer costs with a handler that does
// nothing. Not a test; a measurement for the lead and for serval-bench's report.
//
//   serval_http_floor serve  [--port P] [--threads N] [--body TEXT]    serve until killed
//   serval_http_floor client --port P [--requests N] [--path /x] [--post-bytes N]
//                                                       one connection, sequential GETs (or POSTs)
//   serval_http_floor both   [--threads N] [--requests N] [--body TEXT]  both in one process
//
// The client works with any HTTP/1.1 server that answers with Content-Length (nginx for the ratio).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "api/http/http_server.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  int port = 0;
  int threads = 1;
  int requests = 20000;
  std::string body = "{}";
  std::string path = "/";
  int post_bytes = -1;  // >= 0: POST a body of this size instead of GET
};

Args Parse(int argc, char** argv) {
  Args args;
  if (argc > 1) args.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    const int number = static_cast<int>(std::strtol(value.c_str(), nullptr, 10));
    if (flag == "--port") {
      args.port = number;
    } else if (flag == "--threads") {
      args.threads = number;
    } else if (flag == "--requests") {
      args.requests = number;
    } else if (flag == "--body") {
      args.body = value;
    } else if (flag == "--path") {
      args.path = value;
    } else if (flag == "--post-bytes") {
      args.post_bytes = number;
    }
  }
  return args;
}

int RunClient(int port, int requests, const std::string& path, int post_bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("connect");
    return 1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const std::string request =
      post_bytes < 0
          ? "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
          : "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(post_bytes) + "\r\n\r\n" + std::string(static_cast<size_t>(post_bytes), '1');
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(requests));
  std::string buffer;
  char chunk[65536];
  const int warmup = std::min(1000, requests / 10);
  const auto start_all = Clock::now();
  auto start_measured = start_all;
  for (int i = 0; i < warmup + requests; ++i) {
    if (i == warmup) start_measured = Clock::now();
    const auto start = Clock::now();
    if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
      std::perror("send");
      return 1;
    }
    buffer.clear();
    size_t need = std::string::npos;
    while (need == std::string::npos || buffer.size() < need) {
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        std::fprintf(stderr, "connection closed after %d requests\n", i);
        return 1;
      }
      buffer.append(chunk, static_cast<size_t>(n));
      if (need == std::string::npos) {
        size_t end = buffer.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        size_t length = 0;
        for (const char* name : {"Content-Length: ", "content-length: "}) {
          size_t at = buffer.find(name);
          if (at != std::string::npos && at < end) length = std::strtoul(buffer.c_str() + at + 16, nullptr, 10);
        }
        need = end + 4 + length;
      }
    }
    if (i >= warmup) micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start_measured).count();
  close(fd);
  std::sort(micros.begin(), micros.end());
  auto pct = [&](double p) {
    return micros[std::min(micros.size() - 1, static_cast<size_t>(p * static_cast<double>(micros.size())))];
  };
  std::printf("requests=%d  p50=%.1f us  p90=%.1f us  p99=%.1f us  max=%.1f us  rate=%.0f req/s\n", requests, pct(0.50),
              pct(0.90), pct(0.99), micros.back(), requests / seconds);
  return 0;
}

std::unique_ptr<serval::HttpServer> Serve(const Args& args) {
  serval::HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = args.port;
  options.num_io_threads = args.threads;
  const std::string body = args.body;
  auto server = serval::HttpServer::Start(
      options, [body](serval::HttpRequest&, serval::HttpResponse& response) { response.body = body; });
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(server).value();
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  if (args.mode == "serve") {
    auto server = Serve(args);
    std::printf("listening on 127.0.0.1:%d\n", server->port());
    std::fflush(stdout);
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  if (args.mode == "client") return RunClient(args.port, args.requests, args.path, args.post_bytes);
  if (args.mode == "both") {
    auto server = Serve(args);
    return RunClient(server->port(), args.requests, args.path, args.post_bytes);
  }
  std::fprintf(stderr,
               "usage: %s serve|client|both [--port P] [--threads N] [--requests N] [--body TEXT] [--post-bytes N]\n",
               argv[0]);
  return 2;
}

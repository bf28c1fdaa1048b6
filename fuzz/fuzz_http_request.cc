// The HTTP/1.1 front door: each input is sent as-is, over a loopback connection, to one real HttpServer
// (started once; two io threads; its handler echoes the request). The fuzzer's own end half-closes after
// sending and reads until the server closes, so every framing path (header pre-scan, Content-Length /
// Transfer-Encoding rules, chunks, inflation, pipelining, errors, lingering) runs in this process, where
// the sanitizers watch it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "api/http/http_server.h"

namespace {

serval::HttpServer* Server() {
  static serval::HttpServer* server = [] {
    serval::HttpServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.num_io_threads = 2;
    options.num_worker_threads = 2;
    options.inline_paths = {"/live"};
    options.max_body_bytes = 1 << 16;
    options.max_header_bytes = 4096;
    options.request_timeout_ms = 200;
    options.max_connections = 64;
    options.max_buffered_body_bytes = 1 << 20;
    auto started = serval::HttpServer::Start(options, [](serval::HttpRequest& request, serval::HttpResponse& response) {
      response.body = request.method + " " + request.path + " " + std::to_string(request.body->size());
      if (request.peer_gone) (void)request.peer_gone();
      if (request.path == "/status") response.status = 299;
    });
    if (!started.ok()) std::abort();
    return started->release();  // lives for the whole run
  }();
  return server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  serval::HttpServer* server = Server();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return 0;
  }
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char buffer[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) break;  // the server's own timeouts are far shorter
    if (recv(fd, buffer, sizeof buffer, 0) <= 0) break;
  }
  close(fd);
  return 0;
}

// A minimal blocking HTTP/1.1 keep-alive client for serval-bench: one TCP connection (TCP_NODELAY), one
// request in flight, requests sent as prebuilt bytes. Deliberately tiny so the generator's own cost stays
// far below the server's (docs/benchmarking.md §6: the harness should add ≤ 10 µs). Responses must carry
// Content-Length (nginx and Serval do); chunked responses are refused with an error, never misread.
// Not thread-safe: one client per worker thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace serval::bench {

struct HttpResponse {
  int status = 0;
  std::string_view body;  // valid until the next Exchange
  // Inference-Header-Content-Length (KServe binary extension); -1 when absent.
  int64_t inference_header_length = -1;
};

// Parses one response head ("HTTP/1.1 200 OK\r\n...\r\n\r\n", without the body). Sets status, the
// Content-Length (`*content_length`, required) and the Inference-Header-Content-Length. Header names are
// case-insensitive. INVALID_ARGUMENT for anything malformed, a missing Content-Length or chunked encoding.
Status ParseResponseHead(std::string_view head, HttpResponse* response, int64_t* content_length);

class HttpClient {
 public:
  HttpClient() = default;
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Connects to host:port (numeric IPv4, e.g. 127.0.0.1). UNAVAILABLE when the connection fails.
  Status Connect(const std::string& host, int port);
  // Sends `request` (a complete HTTP/1.1 request) and reads one response. Bodies larger than
  // `max_body_bytes` are refused. On any error the connection is closed; the next call reconnects.
  // A reused connection that the server closed before answering is reopened and the request sent once more.
  Status Exchange(std::string_view request, HttpResponse* response, int64_t max_body_bytes = int64_t{1} << 30);
  // How many times Exchange reopened a connection the server had closed.
  int64_t reconnects() const { return reconnects_; }

 private:
  Status ExchangeOnce(std::string_view request, HttpResponse* response, int64_t max_body_bytes);
  Status Reconnect();
  void Close();

  std::string host_;
  int port_ = 0;
  int fd_ = -1;
  std::string buffer_;  // capacity; bytes [0, length_) received, [0, consumed_) already handed out
  size_t length_ = 0;
  size_t consumed_ = 0;
  bool closed_before_answer_ = false;
  int64_t reconnects_ = 0;
};

}  // namespace serval::bench

#include "api/http/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

namespace serval {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  bool HasHeader(const std::string& name) const {
    for (const auto& header : headers) {
      if (header.first == name) return true;
    }
    return false;
  }
};

// A raw blocking client: Asio connects and writes; reads use recv() with SO_RCVTIMEO so that a broken
// server fails the test instead of hanging it.
class Client {
 public:
  explicit Client(int port, int recv_timeout_ms = 5000) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)));
    socket_.set_option(tcp::no_delay(true));
    timeval tv{recv_timeout_ms / 1000, static_cast<suseconds_t>(recv_timeout_ms % 1000) * 1000};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  void Send(std::string_view data) { asio::write(socket_, asio::buffer(data.data(), data.size())); }
  bool TrySend(std::string_view data) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(data.data(), data.size()), ec);
    return !ec;
  }

  // One response, or nullopt if the connection ends (or times out) first.
  std::optional<Response> Read(bool head_only = false) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    Response response;
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers.emplace_back(name, value);
      pos = next + 2;
    }
    size_t length = 0;
    if (!head_only && response.HasHeader("content-length")) length = std::stoul(response.Header("content-length"));
    while (buffer_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  std::optional<Response> RoundTrip(std::string_view request) {
    Send(request);
    return Read();
  }

  // True if the server closes the connection (EOF or reset) before the receive timeout.
  bool WaitClosed() {
    char scratch[4096];
    for (;;) {
      ssize_t n = ::recv(socket_.native_handle(), scratch, sizeof(scratch), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  bool Fill() {
    char chunk[16384];
    ssize_t n = ::recv(socket_.native_handle(), chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::string buffer_;
};

// Echoes what the server parsed, one "key=value" line each.
void EchoHandler(HttpRequest& request, HttpResponse& response) {
  if (request.path == "/throw") throw std::runtime_error("boom");
  response.content_type = "text/plain";
  response.headers.emplace_back("X-Handled", "1");
  if (request.path == "/echo-body") {
    response.body = *request.body;
    return;
  }
  response.body = "method=" + request.method + "\npath=" + request.path + "\nquery=" + request.query +
                  "\nbody_size=" + std::to_string(request.body->size()) +
                  "\nx-test=" + std::string(request.Header("x-test")) +
                  "\ncontent-encoding=" + (request.HasHeader("content-encoding") ? "yes" : "no") + "\n";
}

HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.num_io_threads = 2;
  return options;
}

std::unique_ptr<HttpServer> StartServer(const HttpServerOptions& options, HttpServer::Handler handler = EchoHandler) {
  auto server = HttpServer::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  EXPECT_GT((*server)->port(), 0);
  return std::move(server).value();
}

std::string Get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

std::string Post(const std::string& target, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

// Compresses `total` bytes produced by repeating `piece`, as gzip (or zlib for deflate).
std::string Compress(const std::string& piece, size_t total, bool gzip = true) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out;
  std::vector<char> buffer(1 << 16);
  size_t fed = 0;
  int flush = Z_NO_FLUSH;
  do {
    size_t step = std::min(piece.size(), total - fed);
    fed += step;
    flush = fed == total ? Z_FINISH : Z_NO_FLUSH;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    zs.avail_in = static_cast<uInt>(step);
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
      zs.avail_out = static_cast<uInt>(buffer.size());
      deflate(&zs, flush);
      out.append(buffer.data(), buffer.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&zs);
  return out;
}

// The server counts a request done once its write completes, which may be just after the client has read it.
bool WaitNoActiveRequests(const HttpServer& server) {
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (server.active_requests() != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return server.active_requests() == 0;
}

// A field of /proc/self/status ("Threads", "VmRSS" in kB).
long ProcStatus(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

int ProcessThreads() { return static_cast<int>(ProcStatus("Threads")); }

TEST(HttpServerTest, GetRoundTrip) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  auto response = client.RoundTrip(Get("/v1/models/add?verbose=1&x=%20", "X-Test: hello\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body,
            "method=GET\npath=/v1/models/add\nquery=verbose=1&x=%20\nbody_size=0\nx-test=hello\ncontent-encoding=no\n");
  EXPECT_EQ(response->Header("server"), "serval");
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  EXPECT_EQ(response->Header("content-length"), std::to_string(response->body.size()));
  EXPECT_EQ(response->Header("x-handled"), "1");
  EXPECT_TRUE(response->HasHeader("date"));
  EXPECT_FALSE(response->HasHeader("connection"));
  EXPECT_FALSE(response->HasHeader("access-control-allow-origin"));
}

TEST(HttpServerTest, PostRoundTrip) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  std::string body(100000, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto response = client.RoundTrip(Post("/echo-body", body));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, body);
  response = client.RoundTrip(Post("/v1/models/add:predict", "{\"instances\":[1]}"));
  ASSERT_TRUE(response);
  EXPECT_NE(response->body.find("method=POST\npath=/v1/models/add:predict\n"), std::string::npos);
  EXPECT_NE(response->body.find("body_size=17\n"), std::string::npos);
}

TEST(HttpServerTest, KeepAliveHundredRequests) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  for (int i = 0; i < 100; ++i) {
    auto response = client.RoundTrip(i % 2 ? Get("/r" + std::to_string(i)) : Post("/r" + std::to_string(i), "abc"));
    ASSERT_TRUE(response) << i;
    ASSERT_EQ(response->status, 200);
    ASSERT_NE(response->body.find("path=/r" + std::to_string(i) + "\n"), std::string::npos);
  }
}

TEST(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  client.Send(Get("/a") + Post("/b", "12345") + Get("/c"));
  for (const char* path : {"/a", "/b", "/c"}) {
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_NE(response->body.find(std::string("path=") + path + "\n"), std::string::npos);
  }
}

// Thousands of pipelined requests in one send: each answer that is written at once is followed by the next
// request from a fresh handler, not a nested call, so this neither overflows the stack nor reorders.
TEST(HttpServerTest, ThousandsOfPipelinedRequestsAnsweredInOrder) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  constexpr int kRequests = 2000;  // ~70 KB of requests: they fit in the socket buffers unread
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += Get("/p" + std::to_string(i));
  client.Send(batch);
  for (int i = 0; i < kRequests; ++i) {
    auto response = client.Read();
    ASSERT_TRUE(response) << i;
    ASSERT_NE(response->body.find("path=/p" + std::to_string(i) + "\n"), std::string::npos) << i;
  }
}

// An answer larger than the socket buffer, to a client that does not read for a while: the part the socket
// takes is sent at once, the rest asynchronously; the client gets every byte, and the connection goes on.
TEST(HttpServerTest, LargeAnswerToASlowReaderArrivesWhole) {
  std::string big(size_t{24} << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  auto server = StartServer(TestOptions(), [&big](HttpRequest& request, HttpResponse& response) {
    response.content_type = "text/plain";
    response.body = request.path == "/big" ? big : "small";
  });
  Client client(server->port());
  client.Send(Get("/big"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server's send buffer fills meanwhile
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->body == big) << response->body.size();
  auto next = client.RoundTrip(Get("/small"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "small");
}

TEST(HttpServerTest, ConnectionCloseAndHttp10) {
  auto server = StartServer(TestOptions());
  {
    Client client(server->port());
    auto response = client.RoundTrip(Get("/x", "Connection: close\r\n"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(client.WaitClosed());
  }
  {
    Client client(server->port());
    auto response = client.RoundTrip("GET /x HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(client.WaitClosed());
  }
  {
    Client client(server->port());
    for (int i = 0; i < 3; ++i) {
      auto response = client.RoundTrip("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      ASSERT_TRUE(response);
      EXPECT_EQ(response->Header("connection"), "keep-alive");
    }
  }
}

TEST(HttpServerTest, HeadHasLengthButNoBody) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  client.Send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n" + Get("/y"));
  auto head = client.Read(/*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_GT(std::stoul(head->Header("content-length")), 0u);
  auto next = client.Read();  // framed right only if no body followed the HEAD answer
  ASSERT_TRUE(next);
  EXPECT_NE(next->body.find("path=/y\n"), std::string::npos);
}

TEST(HttpServerTest, PercentDecoding) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  auto response = client.RoundTrip(Get("/v1/models/my%20model%3Apredict%2Fx?a=%20b"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("path=/v1/models/my model:predict/x\nquery=a=%20b\n"), std::string::npos);
  for (const char* bad : {"/a%zz", "/a%4", "/a%", "/a%00b", "/%2"}) {
    Client c(server->port());
    auto r = c.RoundTrip(Get(bad));
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(r->body.rfind("{\"error\":\"", 0), 0u);
    EXPECT_TRUE(c.WaitClosed());
  }
  // Absolute-form targets are reduced to their path.
  Client absolute(server->port());
  response = absolute.RoundTrip(Get("http://example.com/v1/models?q"));
  ASSERT_TRUE(response);
  EXPECT_NE(response->body.find("path=/v1/models\nquery=q\n"), std::string::npos);
}

TEST(HttpServerTest, DeclaredBodyOverCapIs413WithoutReadingIt) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1 << 20;
  options.max_body_bytes = size_t{4} << 30;  // even when the cap allows it, nothing is reserved up front
  auto big_cap = StartServer(options);
  const long rss_before_kb = ProcStatus("VmRSS");
  {
    Client client(big_cap->port());
    client.Send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2147483648\r\n\r\n" + std::string(1024, 'x'));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LT(ProcStatus("VmRSS") - rss_before_kb, 16 * 1024);

  options.max_body_bytes = 1 << 20;
  auto server = StartServer(options);
  Client client(server->port());
  auto start = Clock::now();
  client.Send("POST /v1/models/a:predict HTTP/1.1\r\nHost: a\r\nContent-Length: 2147483648\r\n\r\n");
  auto response = client.Read();
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->body.rfind("{\"error\":\"", 0), 0u);
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_LT(elapsed, std::chrono::milliseconds(500));
  EXPECT_TRUE(client.WaitClosed());

  // Also with Expect: 100-continue (no 100 Continue first), and with 1 KB of the body sent.
  Client expect(server->port());
  expect.Send("POST /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1048577\r\n\r\n" +
              std::string(1024, 'x'));
  response = expect.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);

  // Exactly at the cap is fine.
  Client at_cap(server->port());
  response = at_cap.RoundTrip(Post("/x", std::string(1 << 20, 'y')));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("body_size=1048576\n"), std::string::npos);
}

TEST(HttpServerTest, ExpectContinue) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  client.Send("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  auto interim = client.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  client.Send("hello");
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("body_size=5\n"), std::string::npos);
}

TEST(HttpServerTest, ChunkedBodies) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1 << 20;
  auto server = StartServer(options);
  {
    Client client(server->port());
    auto response = client.RoundTrip(
        "POST /echo-body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
        "world\r\n0\r\n\r\n");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "hello world");
  }
  {  // over the body cap
    Client client(server->port());
    client.Send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string chunk = "80000\r\n" + std::string(0x80000, 'z') + "\r\n";
    client.TrySend(chunk);
    client.TrySend(chunk);
    client.TrySend(chunk);
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 413);
  }
  {  // too many chunks
    Client client(server->port());
    std::string request = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 70000; ++i) request += "1\r\na\r\n";
    request += "0\r\n\r\n";
    client.TrySend(request);
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400);
    EXPECT_NE(response->body.find("chunks"), std::string::npos);
  }
}

TEST(HttpServerTest, GzipAndDeflateBodiesAreInflated) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "{\"instances\":[" + std::to_string(i) + "]}";
  for (bool gzip : {true, false}) {
    std::string compressed = Compress(text, text.size(), gzip);
    ASSERT_LT(compressed.size(), text.size());
    auto response = client.RoundTrip(
        Post("/echo-body", compressed, gzip ? "Content-Encoding: gzip\r\n" : "Content-Encoding: deflate\r\n"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, text);
    response =
        client.RoundTrip(Post("/x", compressed, gzip ? "Content-Encoding: GZIP\r\n" : "Content-Encoding: deflate\r\n"));
    ASSERT_TRUE(response);
    EXPECT_NE(response->body.find("body_size=" + std::to_string(text.size()) + "\n"), std::string::npos);
    EXPECT_NE(response->body.find("content-encoding=no\n"), std::string::npos);
  }
}

TEST(HttpServerTest, GzipBombIs413) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1 << 20;
  auto server = StartServer(options);
  std::string bomb = Compress(std::string(1 << 20, '\0'), size_t{200} << 20);
  ASSERT_LT(bomb.size(), size_t{1} << 20);
  Client client(server->port());
  auto start = Clock::now();
  auto response = client.RoundTrip(Post("/x", bomb, "Content-Encoding: gzip\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body.rfind("{\"error\":\"", 0), 0u);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
}

TEST(HttpServerTest, CorruptGzipIs400UnknownEncodingIs415) {
  auto server = StartServer(TestOptions());
  std::string good = Compress("some text to compress", 21);
  std::string corrupt = good;
  corrupt[corrupt.size() / 2] ^= 0x55;
  corrupt[corrupt.size() / 2 + 1] ^= 0x55;
  for (const std::string& body :
       {corrupt, good.substr(0, good.size() - 6), std::string("not gzip at all"), good + "junk"}) {
    Client client(server->port());
    auto response = client.RoundTrip(Post("/x", body, "Content-Encoding: gzip\r\n"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400);
    EXPECT_TRUE(client.WaitClosed());
  }
  Client client(server->port());
  auto response = client.RoundTrip(Post("/x", "abc", "Content-Encoding: br\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 415);
  Client twice(server->port());
  response = twice.RoundTrip(Post("/x", good, "Content-Encoding: gzip\r\nX-Other: 1\r\nContent-Encoding: gzip\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 415);
  // Two gzip members back to back are one body.
  Client two(server->port());
  response = two.RoundTrip(Post("/echo-body", Compress("ab", 2) + Compress("cd", 2), "Content-Encoding: gzip\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "abcd");
}

TEST(HttpServerTest, MalformedRequestsAre400AndClose) {
  auto server = StartServer(TestOptions());
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET  HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET x HTTP/1.1\r\nHost: a\r\n\r\n", "POST /x HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    Client client(server->port());
    auto response = client.RoundTrip(bad);
    ASSERT_TRUE(response) << bad;
    EXPECT_EQ(response->status, 400) << bad;
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(client.WaitClosed()) << bad;
  }
  Client client(server->port());
  auto response = client.RoundTrip(Get("/still-alive"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST(HttpServerTest, HeaderOverLimitIs431) {
  HttpServerOptions options = TestOptions();
  options.max_header_bytes = 4096;
  auto server = StartServer(options);
  Client client(server->port());
  client.TrySend(Get("/x", "X-Big: " + std::string(8000, 'a') + "\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  Client ok(server->port());
  response = ok.RoundTrip(Get("/x", "X-Test: " + std::string(3000, 'a') + "\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  auto server = StartServer(TestOptions());
  Client client(server->port());
  for (int i = 0; i < 3; ++i) {
    auto response = client.RoundTrip(Get("/throw"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->body, "{\"error\":\"internal error\"}");
    EXPECT_EQ(response->Header("content-type"), "application/json");
    response = client.RoundTrip(Get("/ok"));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
  }
}

TEST(HttpServerTest, HandlerHeadersCannotBreakFraming) {
  auto server = StartServer(TestOptions(), [](HttpRequest&, HttpResponse& response) {
    response.status = 201;
    response.headers.emplace_back("Content-Length", "999");
    response.headers.emplace_back("X-Split", "a\r\nInjected: yes");
    response.headers.emplace_back("X-Fine", "ok");
    response.body = "abc";
  });
  Client client(server->port());
  auto response = client.RoundTrip(Get("/x"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "abc");
  EXPECT_EQ(response->Header("content-length"), "3");
  EXPECT_FALSE(response->HasHeader("injected"));
  EXPECT_EQ(response->Header("x-fine"), "ok");
  response = client.RoundTrip(Get("/y"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201);
}

TEST(HttpServerTest, Cors) {
  HttpServerOptions options = TestOptions();
  options.enable_cors = true;
  auto server = StartServer(options);
  Client client(server->port());
  auto response = client.RoundTrip(
      "OPTIONS /v2/models/a/infer HTTP/1.1\r\nHost: a\r\nOrigin: http://x\r\nAccess-Control-Request-Method: POST\r\n"
      "Access-Control-Request-Headers: content-type\r\n\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->Header("access-control-allow-origin"), "*");
  EXPECT_NE(response->Header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(response->Header("access-control-allow-headers"), "content-type");
  EXPECT_FALSE(response->HasHeader("content-length"));
  response = client.RoundTrip(Get("/x"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("access-control-allow-origin"), "*");
}

TEST(HttpServerTest, SixtyFourConcurrentClientsWithoutNewThreads) {
  HttpServerOptions options = TestOptions();
  options.num_io_threads = 2;
  auto server = StartServer(options);
  const int threads_before = ProcessThreads();
  // One client thread drives 64 connections, each with a request in flight at once, so that the process
  // thread count measures the server alone.
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(64);
  for (int i = 0; i < 64; ++i) clients.push_back(std::make_unique<Client>(server->port()));
  int ok = 0;
  int threads_during = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 64; ++i) {
      clients[i]->Send(Post("/c" + std::to_string(i) + "/" + std::to_string(round), std::string(100, 'p')));
    }
    for (int i = 0; i < 64; ++i) {
      auto response = clients[i]->Read();
      if (response && response->status == 200 &&
          response->body.find("path=/c" + std::to_string(i) + "/" + std::to_string(round) + "\n") !=
              std::string::npos) {
        ++ok;
      }
    }
    if (round == 25) threads_during = ProcessThreads();
  }
  EXPECT_EQ(ok, 64 * 50);
  EXPECT_EQ(threads_during, threads_before);
  EXPECT_EQ(ProcessThreads(), threads_before);
}

TEST(HttpServerTest, SixtyFourClientThreadsFiftyRequestsEach) {
  HttpServerOptions options = TestOptions();
  options.num_io_threads = 2;
  auto server = StartServer(options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(64);
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&, t] {
      Client client(server->port());
      for (int i = 0; i < 50; ++i) {
        auto response = client.RoundTrip(Post("/t" + std::to_string(t), std::string(static_cast<size_t>(t) * 10, 'b')));
        if (response && response->status == 200 &&
            response->body.find("body_size=" + std::to_string(t * 10) + "\n") != std::string::npos) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 64 * 50);
  EXPECT_TRUE(WaitNoActiveRequests(*server));
}

TEST(HttpServerTest, SlowClientsAreClosedAfterTheTimeout) {
  HttpServerOptions options = TestOptions();
  options.request_timeout_ms = 300;
  auto server = StartServer(options);
  auto expect_closed_in_time = [&](Client& client, const char* what) {
    auto start = Clock::now();
    EXPECT_TRUE(client.WaitClosed()) << what;
    auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, std::chrono::milliseconds(200)) << what;
    EXPECT_LT(elapsed, std::chrono::milliseconds(1500)) << what;
  };
  {  // half a header, then nothing
    Client client(server->port());
    client.Send("GET /x HTTP/1.1\r\nHost: a\r\nX-Partial: ab");
    expect_closed_in_time(client, "half header");
  }
  {  // one header byte at a time, slower than the deadline allows in total
    Client client(server->port());
    auto start = Clock::now();
    std::string request = Get("/x", "X-Pad: aaaaaaaaaaaaaaaaaaaa\r\n");
    bool closed_early = false;
    for (char c : request) {
      if (!client.TrySend(std::string_view(&c, 1))) {
        closed_early = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
      if (Clock::now() - start > std::chrono::milliseconds(600)) break;
    }
    (void)closed_early;
    EXPECT_TRUE(client.WaitClosed());
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2000));
  }
  {  // a body that stops half way
    Client client(server->port());
    client.Send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789");
    expect_closed_in_time(client, "half body");
  }
  {  // an idle keep-alive connection
    Client client(server->port());
    auto response = client.RoundTrip(Get("/x"));
    ASSERT_TRUE(response);
    expect_closed_in_time(client, "idle");
  }
  Client client(server->port());
  auto response = client.RoundTrip(Get("/x"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(WaitNoActiveRequests(*server));
}

TEST(HttpServerTest, ClientsClosingMidRequestDoNotHurt) {
  auto server = StartServer(TestOptions());
  for (int i = 0; i < 50; ++i) {
    Client client(server->port());
    switch (i % 3) {
      case 0:
        client.Send("GET /x HTTP/1.1\r\nHo");
        break;
      case 1:
        client.Send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nabc");
        break;
      default:
        client.Send(Get("/x") + Get("/y"));  // leaves before reading the answers
        break;
    }
    client.Close();
  }
  Client client(server->port());
  auto response = client.RoundTrip(Get("/x"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST(HttpServerTest, StopAcceptingRefusesNewConnectionsAndStopJoins) {
  auto server = StartServer(TestOptions());
  const int port = server->port();
  Client open_before(port);
  auto response = open_before.RoundTrip(Get("/x"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);

  server->StopAccepting();
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)), ec);
  EXPECT_TRUE(ec) << "connect succeeded after StopAccepting";

  // An open connection is still served, but told to close.
  response = open_before.RoundTrip(Get("/y"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(open_before.WaitClosed());
  server->Stop();
}

TEST(HttpServerTest, StopClosesIdleConnectionsAndJoins) {
  const int threads_before = ProcessThreads();
  auto server = StartServer(TestOptions());
  Client idle(server->port());
  ASSERT_TRUE(idle.RoundTrip(Get("/x")));
  server->Stop();
  EXPECT_TRUE(idle.WaitClosed());
  // A joined thread leaves /proc's count a moment after pthread_join returns (the kernel wakes the joiner
  // before it releases the task), so a loaded machine may still count it briefly.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (ProcessThreads() != threads_before && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(ProcessThreads(), threads_before);
  server->Stop();  // idempotent
  server.reset();
}

TEST(HttpServerTest, BadOptionsAndBusyPort) {
  HttpServerOptions options = TestOptions();
  options.num_io_threads = 0;
  EXPECT_FALSE(HttpServer::Start(options, EchoHandler).ok());
  options = TestOptions();
  options.address = "not an address";
  EXPECT_EQ(HttpServer::Start(options, EchoHandler).status().code(), StatusCode::kInvalidArgument);
  auto first = StartServer(TestOptions());
  options = TestOptions();
  options.port = first->port();
  auto second = HttpServer::Start(options, EchoHandler);
  // SO_REUSEADDR does not allow two listeners on one port.
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace serval

// HttpServer: the HTTP/1.1 front door of the REST APIs, on Boost.Beast/Asio.
//
// Threads. Exactly `num_io_threads` threads, created by Start() and joined by Stop(), each run an io_context
// of their own; nothing else creates a thread (no per-connection or per-request thread). A new connection is
// given to the io threads in turn and stays on its thread; it runs on its own strand there, so its reads,
// writes, timers and the answer a worker hands back never run concurrently. One io_context per thread, not
// one shared by all: with a shared one, Asio wakes a second thread to poll for I/O each time the first takes
// a handler, about eight context switches per request at one request in flight (measured: 7.8 against
// nginx's 1.0, docs/benchmarking.md). The cost is that a connection waits while its own thread runs an
// inline inference (at most about the inline gate's max_run_micros per request ahead of it); nothing that
// may take long runs on an io thread.
//
// With num_worker_threads > 0, another fixed set of threads (a WorkerPool) runs the handler: the io threads
// only read and write, and answer `inline_paths` (health, metrics) themselves, so those answer at once
// however long inference takes.
//
// Handler. The handler runs synchronously on a worker, or (without workers, for an inline path, or for an
// inference call the inline gate admits) on the io thread that read the request, once per request, possibly
// concurrently on different threads for different connections, so it must be thread-safe. It may throw: the client then
// gets 500 {"error":"internal error"} and the server keeps serving. The HttpRequest and HttpResponse it is given are
// valid only during the call (the request body is a shared_ptr and may be kept longer).
//
// What the server enforces before the handler sees a request (all answered with a JSON {"error":"…"}
// body, and the connection is closed after the answer):
//   - framing per RFC 9112: an HTTP/1.1 request without Host, or with more than one → 400; a
//     Transfer-Encoding other than a single `chunked` (unknown codings, `chunked, identity`, `gzip`), or
//     any Transfer-Encoding in HTTP/1.0 → 400; Content-Length together with Transfer-Encoding: chunked
//     decides the body, and the connection closes after the answer (§6.3);
//   - a body buffer grows with the bytes that arrived (at most doubling), never from the declared
//     Content-Length; all connections' buffers of bodies still arriving share max_buffered_body_bytes, and
//     a body that would pass it → 503; a connection beyond max_connections is answered 503 at once;
//   - a declared Content-Length over max_body_bytes → 413 without reading or allocating the body; a
//     chunked body over max_body_bytes → 413; more than 65,536 chunks → 400;
//   - a header block over max_header_bytes → 431; a malformed request → 400;
//   - Content-Encoding gzip / x-gzip / deflate is inflated (the inflated size capped by max_body_bytes →
//     413; corrupt data → 400) and the content-encoding header is then removed (content-length is set
//     to the inflated size); any other encoding → 415;
//   - the path is percent-decoded and split from the raw query; an invalid escape or a decoded NUL → 400.
// Reading a request is bounded in time: the idle wait plus the header, and then the body, must each
// arrive within request_timeout_ms, or the connection is closed without an answer (slowloris); writing
// a response has the same bound. Keep-alive is the HTTP/1.1 default (Connection: close and HTTP/1.0
// without keep-alive are honoured); pipelined requests are answered in order, one at a time.
// `Expect: 100-continue` is answered with 100 Continue before the body is read.
//
// Every response carries `Server: serval`, `Date`, the handler's content_type and headers, and a
// Content-Length (except 204/304, which carry no body; a status outside [200, 999] becomes 500). Handler
// headers named Content-Length, Content-Type (use content_type), Connection, Transfer-Encoding, Server or
// Date, or with a name that is not a token or a value with control characters, are dropped.
// HEAD gets the handler's headers and Content-Length without the body. With enable_cors, every
// response carries `Access-Control-Allow-Origin: *` and `Access-Control-Expose-Headers: *`, and every
// OPTIONS request is answered 204 with the allowed methods and headers, without calling the handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/http_message.h"
#include "core/inline_run.h"
#include "core/status.h"
#include "core/tls_settings.h"

namespace serval {

struct HttpServerOptions {
  std::string address = "0.0.0.0";  // an IPv4 or IPv6 literal
  int port = 0;                     // 0 picks an ephemeral port; see HttpServer::port()
  int num_io_threads = 1;           // fixed for the server's life; the caller sizes it in the thread budget
  // Threads that run the handler (and inflate bodies), fixed for the server's life; 0 = the handler runs
  // inline on the io threads.
  int num_worker_threads = 0;
  // GET/HEAD requests for exactly these paths run the handler inline on the io thread even with workers:
  // cheap routes (health, metrics) that must answer while every worker is busy.
  std::vector<std::string> inline_paths;
  // POST requests for a path `inline_candidate` accepts (inference routes), with an identity-encoded body
  // that `inline_gate` may try (core/inline_run.h), first run the handler on the io thread under an
  // InlineAttempt: when the handler's model call is admitted the answer is written from there, without the
  // hand-off to a worker and back; when the attempt is deferred the request goes to a worker as any other.
  // Null / unset = never. REQUIRES: the gate outlives the server; its max_concurrent is below
  // num_io_threads, so that some io thread is always free to read, write and answer the inline paths.
  InlineGate* inline_gate = nullptr;
  std::function<bool(std::string_view path)> inline_candidate;
  size_t max_body_bytes = size_t{64} << 20;  // after inflation too
  int request_timeout_ms = 30000;            // per phase of reading a request (idle+header, body); per write
  size_t max_header_bytes = size_t{64} << 10;
  bool enable_cors = false;
  // Open connections beyond this are answered 503 and closed at once; 0 = no limit.
  int max_connections = 0;
  // Bytes all connections together may hold in buffers of request bodies still arriving; a connection
  // whose body would pass it is answered 503 and closed. 0 = no limit.
  size_t max_buffered_body_bytes = size_t{1} << 30;
  // Enabled: HTTPS only (TLS 1.2+, handshake bounded by request_timeout_ms); with client_verify a client
  // must present a certificate signed by custom_ca or the handshake fails. Checked by Start().
  TlsSettings tls;
};

class HttpServer {
 public:
  using Handler = std::function<void(HttpRequest&, HttpResponse&)>;

  // Binds, listens and starts the io threads. Fails with InvalidArgument for bad options and
  // Unavailable when the address cannot be bound.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, Handler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // Stop()

  // The bound port (the real one when options.port was 0).
  int port() const;

  // New connections use `settings`' key and certificates from now on; connections already open keep theirs.
  // Nothing changes when the settings are unusable (InvalidArgument with OpenSSL's reason: a bad PEM, a key
  // that does not match the certificate). FailedPrecondition when the server was started without TLS.
  // Any thread.
  Status ReloadTls(const TlsSettings& settings);

  // Closes the listening socket: when it returns, new connections are refused. Connections already
  // open keep being served, but each response from now on carries `Connection: close` and ends its
  // connection. Idempotent; any thread.
  void StopAccepting();

  // Requests whose header has been read and whose response has not been written yet (for draining:
  // StopAccepting, wait until this is 0 or a deadline passes, then Stop).
  int64_t active_requests() const;

  // Stops accepting, closes every connection (a request inside the handler finishes it first, but its
  // response is not sent) and joins the io threads. Idempotent.
  // REQUIRES: not called from inside the handler (it would join its own thread).
  void Stop();

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// OK when `settings` make a usable server TLS context (the PEMs parse, the key matches the certificate,
// client_verify has a CA); InvalidArgument with OpenSSL's reason otherwise.
Status CheckTlsSettings(const TlsSettings& settings);

}  // namespace serval

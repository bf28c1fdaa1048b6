#include "api/http/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/http/http_wire.h"
#include "core/worker_pool.h"

namespace serval {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// A connection's executor: its own strand on its io thread's io_context (concrete types, no type erasure). The
// strand is what lets a worker hand the answer back safely; on one thread it costs one uncontended lock.
using Executor = asio::strand<asio::io_context::executor_type>;
using Stream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;
using Parser = http::request_parser<http::string_body>;
using TlsStream = asio::ssl::stream<Stream&>;  // TLS over the connection's own stream (its timeouts apply)

constexpr uint64_t kMaxChunks = 65536;  // Triton's cap (CVE-2025-23310)
// After an error answer the server half-closes and discards what the client still sends for at most this
// long, so that the client reads the answer instead of a reset.
constexpr auto kMaxLinger = std::chrono::milliseconds(2000);
// A body buffer starts this small and at most doubles per read, so it never exceeds twice the bytes that
// arrived (plus this): a declared Content-Length reserves nothing.
constexpr size_t kInitialBodyBytes = size_t{8} * 1024;
// Buffers a connection keeps between requests are released when they grew past this.
constexpr size_t kKeepCapacity = size_t{64} * 1024;
// Spare capacity after a complete body, for decoders that read a little past the text (simdjson).
constexpr size_t kBodyPadding = 64;
// The read buffer starts this large, so that a typical request (header and a small body) is one recv.
constexpr size_t kInitialReadBuffer = size_t{8} * 1024;

// What every connection needs from the server; owned by HttpServer::State, outlives all connections.
struct ServerContext {
  HttpServerOptions options;
  HttpServer::Handler handler;
  std::chrono::milliseconds timeout{30000};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};  // Stop() began: queued handler work is answered 503, not run
  WorkerPool* workers = nullptr;      // runs the handler off the io threads; null: inline
  std::atomic<int64_t> active_requests{0};
  std::atomic<int64_t> connections{0};         // open, not refused
  std::atomic<size_t> buffered_body_bytes{0};  // body buffers of requests still being received
  // Non-null: every connection speaks TLS, with the context current when it was accepted (ReloadTls swaps
  // it for new connections; a connection keeps the one it began with).
  std::atomic<std::shared_ptr<asio::ssl::context>> tls;
};

// The TLS context of the settings: TLS 1.2 or later, the key and chain, and with client_verify a client
// certificate signed by custom_ca is required. InvalidArgument (with OpenSSL's reason) for unusable PEMs.
StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const TlsSettings& settings) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                       ec);
  if (!ec) context->use_certificate_chain(asio::buffer(settings.server_cert), ec);
  if (ec) return InvalidArgument("http: server_cert is not a usable PEM certificate chain: " + ec.message());
  context->use_private_key(asio::buffer(settings.server_key), asio::ssl::context::pem, ec);
  if (ec) return InvalidArgument("http: server_key is not a usable PEM private key: " + ec.message());
  if (!settings.custom_ca.empty()) {
    context->add_certificate_authority(asio::buffer(settings.custom_ca), ec);
    if (ec) return InvalidArgument("http: custom_ca is not a usable PEM certificate: " + ec.message());
  }
  if (settings.client_verify) {
    if (settings.custom_ca.empty()) return InvalidArgument("http: client_verify needs custom_ca");
    context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return InvalidArgument("http: cannot require client certificates: " + ec.message());
  }
  return context;
}

// A Connection's share of ServerContext::buffered_body_bytes: grows with its body buffer, released when the
// request is complete (or the connection ends).
class BodyReservation {
 public:
  explicit BodyReservation(ServerContext* context) : context_(context) {}
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;
  ~BodyReservation() { Release(); }

  // Reserves up to `bytes` in all; false (nothing more reserved) when that would pass the server's cap.
  bool GrowTo(size_t bytes) {
    if (bytes <= held_) return true;
    const size_t more = bytes - held_;
    const size_t cap = context_->options.max_buffered_body_bytes;
    size_t now = context_->buffered_body_bytes.load(std::memory_order_relaxed);
    do {
      if (cap != 0 && (now > cap || more > cap - now)) return false;
    } while (!context_->buffered_body_bytes.compare_exchange_weak(now, now + more, std::memory_order_relaxed));
    held_ = bytes;
    return true;
  }
  void Release() {
    if (held_ != 0) context_->buffered_body_bytes.fetch_sub(held_, std::memory_order_relaxed);
    held_ = 0;
  }

 private:
  ServerContext* const context_;
  size_t held_ = 0;
};

const std::shared_ptr<const std::string>& EmptyBody() {
  static const auto* const kEmpty = new std::shared_ptr<const std::string>(std::make_shared<const std::string>());
  return *kEmpty;
}

using namespace http_wire;  // NOLINT(google-build-using-namespace): this file's own helpers

// RFC 9112 §6.1: the only transfer coding accepted is a single "chunked" (over all Transfer-Encoding
// lines). Anything else — an unknown coding ("xchunked"), a coding after chunked ("chunked, identity"),
// or a list that does not end in chunked ("gzip") — leaves the body length unknowable, so the request is
// refused rather than guessed at (a guess is how a request gets smuggled inside another one's body).
bool IsPlainChunked(const http::request_parser<http::string_body>::value_type& message) {
  int codings = 0;
  bool chunked = false;
  for (const auto& field : message) {
    if (field.name() != http::field::transfer_encoding) continue;
    std::string_view value = field.value();
    for (;;) {
      const size_t comma = value.find(',');
      std::string_view coding = TrimOws(value.substr(0, comma));
      if (!coding.empty()) {
        ++codings;
        chunked = EqualsIgnoreCase(coding, "chunked");
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return codings == 1 && chunked;
}

// One accepted connection. Every member function runs on the connection's strand; the connection lives as
// long as an operation it started is pending (each completion handler holds a shared_ptr to it).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerContext* context, Stream::socket_type socket)
      : context_(context),
        stream_(std::move(socket)),
        buffer_(std::max<size_t>(context->options.max_header_bytes, size_t{8} * 1024) + size_t{64} * 1024),
        reservation_(context) {
    if (std::shared_ptr<asio::ssl::context> tls = context->tls.load()) {
      tls_context_ = std::move(tls);
      tls_.emplace(stream_, *tls_context_);
    }
    on_chunk_header_ = [this](uint64_t, beast::string_view, error_code& ec) {
      if (++chunks_ > kMaxChunks) {
        too_many_chunks_ = true;
        ec = http::error::bad_chunk;
      }
    };
    // Chunk data goes straight into body_, which grows with what arrived (never more than doubling).
    on_chunk_body_ = [this](uint64_t, beast::string_view data, error_code& ec) -> size_t {
      const size_t need = body_.size() + data.size();
      if (need > body_.capacity()) {
        const size_t target = std::max({need, body_.capacity() * 2, kInitialBodyBytes});
        if (!reservation_.GrowTo(target)) {
          over_buffer_cap_ = true;
          ec = http::error::body_limit;
          return 0;
        }
        body_.reserve(target + kBodyPadding);  // spare bytes: see GrowBody
      }
      body_.append(data.data(), data.size());
      return data.size();
    };
  }

  ~Connection() {
    EndRequest();
    if (counted_) context_->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void Start() {
    const int max = context_->options.max_connections;
    if (max > 0 && context_->connections.fetch_add(1, std::memory_order_relaxed) >= max) {
      context_->connections.fetch_sub(1, std::memory_order_relaxed);
      // Refused with an answer, not a silent close, so the client knows to back off and retry.
      asio::dispatch(stream_.get_executor(), [self = shared_from_this(), max] {
        self->Handshake([self, max] {
          self->SetErrorResponse(503, "too many connections (the server's limit is " + std::to_string(max) + ")");
          self->WriteResponse(/*keep_alive=*/false, /*http10=*/false, /*head=*/false, /*linger=*/true);
        });
      });
      return;
    }
    if (max <= 0) context_->connections.fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
    buffer_.reserve(kInitialReadBuffer);
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this()] { self->Handshake([self] { self->ReadHeader(); }); });
  }

 private:
  // With TLS, the server handshake (bounded by the request timeout) before `next`; a failed one — plain
  // HTTP to the TLS port, no or a wrong client certificate under client_verify — closes the connection.
  template <class Next>
  void Handshake(Next next) {
    if (!tls_) return next();
    stream_.expires_after(context_->timeout);
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this(), next = std::move(next)](error_code ec) mutable {
                            if (ec) return self->CloseNow();
                            self->handshake_done_ = true;
                            next();
                          });
  }

  // Reads and writes of the request and response go through TLS when it is on; Close/Discard work on the
  // TCP stream underneath.
  template <class Buffers, class Handler>
  void AsyncReadSome(const Buffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    stream_.async_read_some(buffers, std::forward<Handler>(handler));
  }
  template <class Buffers, class Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler) {
    if (tls_) return asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    asio::async_write(stream_, buffers, std::forward<Handler>(handler));
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(context_->options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<uint64_t>(context_->options.max_body_bytes));
    parser_->on_chunk_header(on_chunk_header_);
    parser_->on_chunk_body(on_chunk_body_);
    chunks_ = 0;
    too_many_chunks_ = false;
    over_buffer_cap_ = false;
    close_after_response_ = false;
    header_scanned_ = 0;
    stream_.expires_after(context_->timeout);
    ParseHeader();
  }

  // Reads until the buffer holds a whole header block (up to its blank line), then gives exactly that block
  // to the parser; what follows stays in the buffer for the body.
  void ParseHeader() {
    const auto data = buffer_.data();
    char* const begin = static_cast<char*>(data.data());
    const std::string_view text(begin, data.size());
    const size_t end = text.find("\r\n\r\n", header_scanned_ > 3 ? header_scanned_ - 3 : 0);
    if (end == std::string_view::npos) {
      header_scanned_ = text.size();
      if (text.size() > context_->options.max_header_bytes) return FailRead(http::error::header_limit);
      AsyncReadSome(buffer_.prepare(kInitialReadBuffer), [self = shared_from_this()](error_code ec, size_t n) {
        self->buffer_.commit(n);
        if (ec) return self->FailRead(ec);
        self->ParseHeader();
      });
      return;
    }
    const size_t block = end + 4;
    close_after_response_ = NeutralizeContentLengthUnderTransferEncoding(begin, block);
    error_code ec;
    const size_t used = parser_->put(asio::buffer(begin, block), ec);
    buffer_.consume(used);
    if (!ec && !parser_->is_header_done()) ec = http::error::partial_message;
    OnHeader(ec);
  }

  void OnHeader(error_code ec) {
    if (ec) return FailRead(ec);
    BeginRequest();
    const auto& message = parser_->get();
    int hosts = 0;
    for (const auto& field : message) hosts += field.name() == http::field::host ? 1 : 0;
    if (hosts > 1) return SendError(400, "more than one Host header");
    if (hosts == 0 && message.version() >= 11) return SendError(400, "an HTTP/1.1 request needs a Host header");
    if (message.find(http::field::transfer_encoding) != message.end()) {
      if (message.version() < 11) return SendError(400, "Transfer-Encoding in an HTTP/1.0 request");
      if (!IsPlainChunked(message)) {
        return SendError(400, "unsupported Transfer-Encoding (only a single \"chunked\" is accepted)");
      }
    }
    encoding_ = Encoding::kIdentity;
    int encodings = 0;
    for (const auto& field : message) {  // (beast's equal_range assumes same-named fields are adjacent)
      if (field.name() != http::field::content_encoding) continue;
      encoding_ = ParseContentEncoding(field.value());
      ++encodings;
    }
    if (encodings > 1 || encoding_ == Encoding::kUnsupported) {
      return SendError(415, "unsupported Content-Encoding (supported: gzip, deflate, identity)");
    }
    if (!parser_->is_done() && message.version() >= 11) {
      auto expect = message.find(http::field::expect);
      if (expect != message.end() && EqualsIgnoreCase(expect->value(), "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(context_->timeout);
        AsyncWrite(asio::buffer(kContinue.data(), kContinue.size()),
                   [self = shared_from_this()](error_code ec, size_t) {
                     if (ec) return self->CloseNow();
                     self->ReadBody();
                   });
        return;
      }
    }
    ReadBody();
  }

  void ReadBody() {
    body_.clear();
    body_filled_ = 0;
    if (parser_->is_done()) return Dispatch(std::string());
    stream_.expires_after(context_->timeout);
    if (!parser_->chunked() && parser_->content_length()) {
      // A sized body is read straight into its final string (the parser already checked the length against
      // the cap). The string grows with what arrives, so a client that declares a large body and sends
      // little costs little.
      body_length_ = static_cast<size_t>(*parser_->content_length());
      body_filled_ = std::min(buffer_.size(), body_length_);
      if (!GrowBody(std::max(body_filled_, std::min(body_length_, kInitialBodyBytes)))) return;
      asio::buffer_copy(asio::buffer(body_.data(), body_filled_), buffer_.data());
      buffer_.consume(body_filled_);
      return ReadSizedBody();
    }
    auto on_read = [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->FailRead(ec);
      self->Dispatch(std::move(self->body_));
    };
    if (tls_) return http::async_read(*tls_, buffer_, *parser_, std::move(on_read));
    http::async_read(stream_, buffer_, *parser_, std::move(on_read));
  }

  void ReadSizedBody() {
    if (body_filled_ == body_length_) return Dispatch(std::move(body_));
    if (body_filled_ == body_.size() && !GrowBody(std::min(body_length_, body_.size() * 2))) return;
    AsyncReadSome(asio::buffer(body_.data() + body_filled_, body_.size() - body_filled_),
                  [self = shared_from_this()](error_code ec, size_t n) {
                    self->body_filled_ += n;
                    if (ec) return self->FailRead(ec);
                    self->ReadSizedBody();
                  });
  }

  // Resizes the sized body's buffer within the server-wide cap on buffered bodies; past it, answers 503.
  bool GrowBody(size_t size) {
    if (!reservation_.GrowTo(size)) {
      over_buffer_cap_ = true;
      FailRead(http::error::body_limit);
      return false;
    }
    // The complete body gets 64 spare bytes of capacity: the JSON decoders then read it in place
    // (ParseJsonFast needs that much readable padding after the text).
    if (size == body_length_) body_.reserve(size + kBodyPadding);
    body_.resize(size);
    return true;
  }

  // A read failed: answer what deserves an answer, close quietly on timeouts and client closes.
  void FailRead(error_code ec) {
    if (over_buffer_cap_) {
      body_.clear();
      body_.shrink_to_fit();
      reservation_.Release();
      return SendError(503, "the server is receiving too many request bodies at once; retry later");
    }
    if (ec == http::error::body_limit) {
      return SendError(
          413, "request body exceeds the limit of " + std::to_string(context_->options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return SendError(
          431, "request header exceeds the limit of " + std::to_string(context_->options.max_header_bytes) + " bytes");
    }
    if (too_many_chunks_) return SendError(400, "request body has more than 65536 chunks");
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return SendError(400, "malformed HTTP request: " + ec.message());
    }
    CloseNow();  // end of stream, reset, timeout, or the server is stopping
  }

  // The whole request is in: fill the HttpRequest, run the handler inline, write its answer.
  void Dispatch(std::string&& body) {
    reservation_.Release();  // complete: no longer a buffer a slow client holds open
    const auto& message = parser_->get();
    std::string_view path;
    std::string_view query;
    if (!SplitTarget(message.target(), path, query)) return SendError(400, "malformed request target");
    if (!PercentDecode(path, request_.path)) return SendError(400, "malformed percent-encoding in request path");
    request_.query.assign(query);
    request_.method.assign(message.method_string());
    size_t count = 0;
    for (const auto& field : message) {
      if (count == request_.headers.size()) request_.headers.emplace_back();
      auto& [name, value] = request_.headers[count++];
      name.assign(field.name_string());
      for (char& c : name) c = AsciiLower(c);
      value.assign(field.value());
    }
    request_.headers.resize(count);
    const bool keep_alive =
        message.keep_alive() && !close_after_response_ && !context_->draining.load(std::memory_order_relaxed);
    const bool head = message.method() == http::verb::head;
    const bool http10 = message.version() < 11;
    const http::verb method = message.method();

    if (context_->workers == nullptr || IsInlineRoute(method)) {
      const bool failed = Process(std::move(body), method, http10);
      return Respond(failed, keep_alive, http10, head);
    }
    if (MayTryInline(method, body.size())) {
      bool failed = false;
      bool deferred = false;
      std::shared_ptr<const std::string> kept;
      {
        InlineAttempt attempt(*context_->options.inline_gate, body.size());
        failed = Process(std::move(body), method, http10, &kept);
        deferred = attempt.deferred();
      }
      if (!deferred) return Respond(failed, keep_alive, http10, head);
      // Not admitted: nothing ran and nothing was answered; the worker does the request again from its body.
      body = *kept;
    }
    // Inflating, decoding and inference run on the fixed worker pool, so the io threads stay free to read,
    // write, and answer the inline routes (liveness, readiness, metrics) at once, however busy the
    // workers are. The connection waits (no read is pending) until the answer is back on its strand.
    auto task = [self = shared_from_this(), body = std::move(body), method, keep_alive, http10, head]() mutable {
      bool failed = true;
      if (self->context_->stopping.load(std::memory_order_relaxed)) {
        self->SetErrorResponse(503, "the server is stopping");
      } else {
        failed = self->Process(std::move(body), method, http10);
      }
      asio::post(self->stream_.get_executor(),
                 [self, failed, keep_alive, http10, head] { self->Respond(failed, keep_alive, http10, head); });
    };
    if (!context_->workers->TrySubmit(std::move(task))) {
      SetErrorResponse(503, "the server is stopping");
      Respond(/*failed=*/true, keep_alive, http10, head);
    }
  }

  // An inference request that may first be tried on this io thread (HttpServerOptions::inline_gate).
  bool MayTryInline(http::verb method, size_t body_bytes) const {
    const HttpServerOptions& options = context_->options;
    return method == http::verb::post && encoding_ == Encoding::kIdentity && options.inline_gate != nullptr &&
           options.inline_gate->MayTry(body_bytes) && options.inline_candidate &&
           options.inline_candidate(request_.path);
  }

  bool IsInlineRoute(http::verb method) const {
    if (method != http::verb::get && method != http::verb::head) return false;
    const auto& paths = context_->options.inline_paths;
    return std::find(paths.begin(), paths.end(), request_.path) != paths.end();
  }

  // Writes what Process left in response_: after a failure the connection closes (as SendError does).
  void Respond(bool failed, bool keep_alive, bool http10, bool head) {
    if (failed) return WriteResponse(/*keep_alive=*/false, /*http10=*/false, /*head=*/false, /*linger=*/true);
    WriteResponse(keep_alive, http10, head, /*linger=*/false);
  }

  // Inflates the body and runs the handler, leaving the answer in response_. True when the request failed
  // before the handler (the connection is then closed after the answer). Runs on the connection's strand
  // or, while the strand waits for it, on a worker.
  // `keep`: where to leave the body as the handler saw it (for a retry on a worker).
  bool Process(std::string&& body, http::verb method, bool http10, std::shared_ptr<const std::string>* keep = nullptr) {
    try {
      if (encoding_ != Encoding::kIdentity) {
        if (!body.empty()) {
          std::string inflated;
          switch (Inflate(body, encoding_, context_->options.max_body_bytes, inflated)) {
            case InflateResult::kOk:
              break;
            case InflateResult::kTooLarge:
              SetErrorResponse(413, "inflated request body exceeds the limit of " +
                                        std::to_string(context_->options.max_body_bytes) + " bytes");
              return true;
            case InflateResult::kCorrupt:
              SetErrorResponse(400, "corrupt compressed request body");
              return true;
          }
          body = std::move(inflated);
        }
        std::erase_if(request_.headers, [](const auto& header) { return header.first == "content-encoding"; });
        for (auto& [name, value] : request_.headers) {
          if (name == "content-length") value = std::to_string(body.size());
        }
      }
      request_.body = body.empty() ? EmptyBody() : std::make_shared<const std::string>(std::move(body));

      response_.status = 200;
      response_.content_type.assign("application/json");
      response_.headers.clear();
      response_.body.clear();
      if (context_->options.enable_cors && method == http::verb::options) {
        AnswerPreflight();
      } else {
        try {
          peer_state_.store(kPeerUnknown, std::memory_order_relaxed);
          last_probe_.store(0, std::memory_order_relaxed);
          // (No interim probe under TLS: a raw write would corrupt the TLS stream.)
          request_.peer_gone = [this, interim_allowed = !http10 && !tls_] { return PeerGone(interim_allowed); };
          context_->handler(request_, response_);
        } catch (...) {
          SetErrorResponse(500, "internal error");
        }
      }
    } catch (...) {  // out of memory while inflating or copying
      SetErrorResponse(500, "internal error");
    }
    if (keep != nullptr) *keep = std::move(request_.body);
    request_.body = EmptyBody();  // the handler may keep the body; the connection does not
    return false;
  }

  // Whether the client is gone, for the handler (any thread, while the handler runs). A peek that never
  // consumes: bytes waiting (a pipelined request) mean it is there; an error (a reset) means it is gone.
  // End of stream is ambiguous: a client that half-closed after its request still waits for the answer,
  // one that closed does not. Only a write tells them apart, so the first time an interim
  // `100 Continue` is sent (HTTP/1.1 clients must accept unsolicited 1xx, RFC 9110 §15.2): a half-closed
  // client reads past it, a closed one answers with a reset, which closes the socket (TCP_CLOSE; after a
  // FIN, recv keeps returning 0 and never reports it).
  bool PeerGone(bool interim_allowed) {
    if (peer_state_.load(std::memory_order_relaxed) == kPeerGone) return true;
    // A probe is a system call, and one request is checked several times in a row (before the run, at its
    // start, after it): checks within kProbeInterval of a probe that found the connection plainly open share
    // its answer. A client that left is still seen, at most kProbeInterval later. (An end of stream is
    // probed every time: the reset that tells a closed client apart arrives right after the interim write.)
    const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    const int64_t last = last_probe_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < kProbeInterval.count()) return false;
    const int fd = stream_.socket().native_handle();
    char byte = 0;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
      last_probe_.store(now, std::memory_order_relaxed);
      return false;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        last_probe_.store(now, std::memory_order_relaxed);
        return false;
      }
      peer_state_.store(kPeerGone, std::memory_order_relaxed);  // the error is reported once: remember it
      return true;
    }
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 && info.tcpi_state == TCP_CLOSE) {
      peer_state_.store(kPeerGone, std::memory_order_relaxed);
      return true;
    }
    int expected = kPeerUnknown;
    if (!interim_allowed || !peer_state_.compare_exchange_strong(expected, kPeerProbed)) return false;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    if (::send(fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK && errno != EINTR) {
      peer_state_.store(kPeerGone, std::memory_order_relaxed);
      return true;
    }
    return false;
  }

  void AnswerPreflight() {
    response_.status = 204;
    response_.content_type.clear();
    response_.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, HEAD");
    std::string_view requested = request_.Header("access-control-request-headers");
    response_.headers.emplace_back("Access-Control-Allow-Headers", requested.empty() ? "*" : std::string(requested));
    response_.headers.emplace_back("Access-Control-Max-Age", "86400");
  }

  void SetErrorResponse(int status, std::string_view message) {
    response_.status = status;
    response_.content_type.assign("application/json");
    response_.headers.clear();
    response_.body = ErrorJson(message);
  }

  // Answers an error and closes the connection after it (the rest of the request is never read).
  void SendError(int status, std::string_view message) {
    SetErrorResponse(status, message);
    WriteResponse(/*keep_alive=*/false, /*http10=*/false, /*head=*/false, /*linger=*/true);
  }

  void WriteResponse(bool keep_alive, bool http10, bool head, bool linger) {
    int status = response_.status;
    if (status < 200 || status > 999) status = 500;  // a handler cannot send an interim response
    const bool bodiless = status == 204 || status == 304;
    auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
    if (http::int_to_status(static_cast<unsigned>(status)) == http::status::unknown) reason = "Unknown";

    head_.clear();
    head_.append("HTTP/1.1 ");
    AppendNumber(head_, static_cast<uint64_t>(status));
    head_.push_back(' ');
    head_.append(reason.data(), reason.size());
    head_.append("\r\nServer: serval\r\nDate: ");
    head_.append(HttpDate());
    head_.append("\r\n");
    if (!bodiless) {
      if (!response_.content_type.empty() && IsSendableHeader("x", response_.content_type)) {
        head_.append("Content-Type: ");
        head_.append(response_.content_type);
        head_.append("\r\n");
      }
      head_.append("Content-Length: ");
      AppendNumber(head_, response_.body.size());
      head_.append("\r\n");
    }
    if (!keep_alive) {
      head_.append("Connection: close\r\n");
    } else if (http10) {
      head_.append("Connection: keep-alive\r\n");
    }
    if (context_->options.enable_cors) {
      head_.append("Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: *\r\n");
    }
    for (const auto& [name, value] : response_.headers) {
      if (!IsSendableHeader(name, value)) continue;
      head_.append(name);
      head_.append(": ");
      head_.append(value);
      head_.append("\r\n");
    }
    head_.append("\r\n");

    close_after_write_ = !keep_alive;
    linger_after_write_ = linger;
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(head_), (bodiless || head) ? asio::const_buffer() : asio::buffer(response_.body)};
    if (!tls_) {
      // First a plain non-blocking send: an answer that fits in the socket buffer (every small one) is then
      // done here, without a completion handler queued behind another poll of epoll. Only the rest, if any,
      // is written asynchronously (bounded by the timeout as before).
      error_code ec;
      const size_t written = SendNow(buffers, ec);
      if (ec) return OnWrite(ec);
      if (written == asio::buffer_size(buffers)) {
        // With nothing pipelined, OnWrite only starts the next read, so calling it here nests at most once;
        // a pipelined request is answered from a fresh handler instead (no recursion per request).
        if (buffer_.size() == 0) return OnWrite(ec);
        return asio::post(stream_.get_executor(), [self = shared_from_this()] { self->OnWrite(error_code()); });
      }
      beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(buffers);
      rest.consume(written);
      stream_.expires_after(context_->timeout);
      return AsyncWrite(rest, [self = shared_from_this()](error_code write_ec, size_t) { self->OnWrite(write_ec); });
    }
    stream_.expires_after(context_->timeout);
    AsyncWrite(buffers, [self = shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); });
  }

  // Sends what the socket takes now without blocking (MSG_DONTWAIT): the bytes sent; a full socket buffer is
  // not an error (0 or a partial count). Not Asio's synchronous send: on a full buffer it waits for room.
  size_t SendNow(const std::array<asio::const_buffer, 2>& buffers, error_code& ec) {
    std::array<iovec, 2> parts{};
    for (size_t i = 0; i < buffers.size(); ++i) {
      parts[i] = {const_cast<void*>(buffers[i].data()), buffers[i].size()};  // iovec's base is not const
    }
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = parts.size();
    for (;;) {
      const ssize_t sent = ::sendmsg(stream_.socket().native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent >= 0) return static_cast<size_t>(sent);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) ec = error_code(errno, asio::error::get_system_category());
      return 0;
    }
  }

  void OnWrite(error_code ec) {
    EndRequest();
    if (ec) return CloseNow();
    if (close_after_write_) return Close(linger_after_write_ || buffer_.size() > 0);
    if (response_.body.capacity() > kKeepCapacity) std::string().swap(response_.body);
    if (head_.capacity() > kKeepCapacity) std::string().swap(head_);
    if (buffer_.capacity() > kKeepCapacity && buffer_.size() == 0) {
      buffer_.shrink_to_fit();
      buffer_.reserve(kInitialReadBuffer);
    }
    ReadHeader();
  }

  // Half-closes; with `linger`, discards what the client still sends (for a bounded time) so that it reads
  // the answer rather than a reset, then closes.
  void Close(bool linger) {
    if (tls_ && handshake_done_) {
      // TLS ends with close_notify (so the client sees a clean end, not a truncation); waiting for the
      // client's own close_notify is bounded like lingering.
      handshake_done_ = false;
      stream_.expires_after(std::min<std::chrono::milliseconds>(context_->timeout, kMaxLinger));
      tls_->async_shutdown([self = shared_from_this()](error_code) { self->CloseNow(); });
      return;
    }
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!linger) return CloseNow();
    buffer_.consume(buffer_.size());
    stream_.expires_after(std::min<std::chrono::milliseconds>(context_->timeout, kMaxLinger));
    Discard();
  }

  void Discard() {
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->CloseNow();
      self->Discard();
    });
  }

  void CloseNow() {
    EndRequest();
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void BeginRequest() {
    if (!in_request_) context_->active_requests.fetch_add(1, std::memory_order_relaxed);
    in_request_ = true;
  }
  void EndRequest() {
    if (in_request_) context_->active_requests.fetch_sub(1, std::memory_order_relaxed);
    in_request_ = false;
  }

  ServerContext* const context_;
  Stream stream_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // what tls_ was made with: kept for the connection's life
  std::optional<TlsStream> tls_;                     // set when the server speaks TLS; wraps stream_
  bool handshake_done_ = false;
  beast::flat_buffer buffer_;  // bytes read and not yet parsed; may hold the next pipelined request
  std::optional<Parser> parser_;
  std::function<void(uint64_t, beast::string_view, error_code&)> on_chunk_header_;
  std::function<size_t(uint64_t, beast::string_view, error_code&)> on_chunk_body_;
  uint64_t chunks_ = 0;
  bool too_many_chunks_ = false;
  bool over_buffer_cap_ = false;       // growing a body buffer would pass max_buffered_body_bytes
  bool close_after_response_ = false;  // framing was ambiguous (Content-Length under Transfer-Encoding)
  size_t header_scanned_ = 0;          // buffer bytes already searched for the header's end
  bool counted_ = false;               // counted in ServerContext::connections
  Encoding encoding_ = Encoding::kIdentity;
  std::string body_;  // the body being read (sized: body_filled_ of body_length_ bytes are in; or chunked)
  size_t body_filled_ = 0;
  size_t body_length_ = 0;
  BodyReservation reservation_;  // body_'s share of the server-wide cap
  static constexpr int kPeerUnknown = 0, kPeerProbed = 1, kPeerGone = 2;
  std::atomic<int> peer_state_{kPeerUnknown};
  static constexpr std::chrono::steady_clock::duration kProbeInterval = std::chrono::microseconds(500);
  std::atomic<int64_t> last_probe_{0};  // steady_clock ticks of this request's last probe; 0 = none yet
  HttpRequest request_;
  HttpResponse response_;
  std::string head_;  // the response header block being written
  bool close_after_write_ = false;
  bool linger_after_write_ = false;
  bool in_request_ = false;
};

}  // namespace

struct HttpServer::State {
  ServerContext context;
  // One io_context per io thread (concurrency hint 1), cleared by Stop(), which destroys the connections.
  // io_contexts[0] also runs the acceptor.
  std::vector<std::unique_ptr<asio::io_context>> io_contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::atomic<size_t> next_context{0};  // round-robin choice of a new connection's io thread
  // One per io_context, always the earliest timer there (see ArmAnchor); destroyed before the io_contexts.
  std::vector<std::unique_ptr<asio::steady_timer>> anchors;
  std::mutex accept_mu;
  std::optional<tcp::acceptor> acceptor;           // guarded by accept_mu
  std::optional<asio::steady_timer> accept_retry;  // guarded by accept_mu
  bool accepting = false;                          // guarded by accept_mu
  int port = 0;
  std::vector<std::thread> threads;
  std::unique_ptr<WorkerPool> workers;  // with options.num_worker_threads > 0
  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu

  explicit State(int num_io_threads) {
    for (int i = 0; i < num_io_threads; ++i) io_contexts.push_back(std::make_unique<asio::io_context>(1));
  }

  // Every read and write of a connection re-arms its timeout (Beast's tcp_stream), and Asio reprograms the
  // kernel timer (timerfd_settime) whenever the io_context's earliest deadline changes: twice per request,
  // and on a VM each reprogramming is a trip to the hypervisor. An anchor timer that always expires before
  // any connection's deadline keeps the earliest deadline fixed between its own ticks, so re-arming a
  // connection's timeout is only a queue update. A tick re-arms it (one reprogramming per period per thread).
  static void ArmAnchor(asio::steady_timer* anchor, std::chrono::milliseconds period) {
    anchor->expires_after(period);
    anchor->async_wait([anchor, period](error_code ec) {
      if (!ec) ArmAnchor(anchor, period);
    });
  }

  // The io_context of the next connection: round robin over the io threads.
  asio::io_context& NextContext() {
    return *io_contexts[next_context.fetch_add(1, std::memory_order_relaxed) % io_contexts.size()];
  }

  // REQUIRES: accept_mu held and accepting.
  void Accept() {
    acceptor->async_accept(asio::make_strand(NextContext()), [this](error_code ec, Stream::socket_type socket) {
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        try {
          std::make_shared<Connection>(&context, std::move(socket))->Start();
        } catch (const std::exception& e) {
          std::fprintf(stderr, "serval http: dropping a connection: %s\n", e.what());
        }
      }
      std::lock_guard<std::mutex> lock(accept_mu);
      if (!accepting || ec == asio::error::operation_aborted) return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
          ec.value() == ENFILE) {
        // Out of file descriptors or memory: back off instead of spinning on accept.
        accept_retry->expires_after(std::chrono::milliseconds(50));
        accept_retry->async_wait([this](error_code wait_ec) {
          std::lock_guard<std::mutex> retry_lock(accept_mu);
          if (!wait_ec && accepting) Accept();
        });
        return;
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() {
  // Stop joins threads and takes locks, which may throw std::system_error; a destructor must not.
  try {
    Stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing left to do with a server that is going away
  }
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, Handler handler) {
  if (options.num_io_threads < 1 || options.num_io_threads > 1024) {
    return InvalidArgument("http: num_io_threads must be in [1, 1024], got " + std::to_string(options.num_io_threads));
  }
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument("http: port must be in [0, 65535], got " + std::to_string(options.port));
  }
  if (options.request_timeout_ms < 1) return InvalidArgument("http: request_timeout_ms must be positive");
  if (options.max_header_bytes < 256) return InvalidArgument("http: max_header_bytes must be at least 256");
  if (!handler) return InvalidArgument("http: no handler");
  error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec) return InvalidArgument("http: bad listen address '" + options.address + "': " + ec.message());

  auto state = std::make_unique<State>(options.num_io_threads);
  state->context.options = options;
  state->context.handler = std::move(handler);
  state->context.timeout = std::chrono::milliseconds(options.request_timeout_ms);
  if (options.tls.enabled()) {
    StatusOr<std::shared_ptr<asio::ssl::context>> tls = MakeTlsContext(options.tls);
    if (!tls.ok()) return tls.status();
    state->context.tls.store(std::move(tls).value());
  }
  if (options.inline_gate != nullptr && options.inline_gate->policy().max_concurrent >= options.num_io_threads) {
    return InvalidArgument(
        "http: the inline gate may run " + std::to_string(options.inline_gate->policy().max_concurrent) +
        " requests at once; it must be below num_io_threads (" + std::to_string(options.num_io_threads) + ")");
  }
  if (options.num_worker_threads < 0 || options.num_worker_threads > 4096) {
    return InvalidArgument("http: num_worker_threads must be in [0, 4096], got " +
                           std::to_string(options.num_worker_threads));
  }
  if (options.num_worker_threads > 0) {
    // A connection has at most one request with the workers, so the queue is bounded by the connections.
    state->workers = std::make_unique<WorkerPool>("http-worker", options.num_worker_threads, SIZE_MAX);
    state->context.workers = state->workers.get();
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  auto& acceptor = state->acceptor.emplace(*state->io_contexts[0]);
  const std::string where = options.address + ":" + std::to_string(options.port);
  if (acceptor.open(endpoint.protocol(), ec))
    return Unavailable("http: cannot open a socket for " + where + ": " + ec.message());
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) {
    return Unavailable("http: cannot set SO_REUSEADDR on " + where + ": " + ec.message());
  }
  if (acceptor.bind(endpoint, ec)) return Unavailable("http: cannot bind " + where + ": " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
    return Unavailable("http: cannot listen on " + where + ": " + ec.message());
  }
  state->port = acceptor.local_endpoint(ec).port();
  if (ec) return Unavailable("http: cannot read the bound port of " + where + ": " + ec.message());
  state->accept_retry.emplace(*state->io_contexts[0]);
  for (const auto& io_context : state->io_contexts) state->work.emplace_back(io_context->get_executor());
  // Shorter than any connection timeout (the request timeout, the linger bound), so that it stays earliest;
  // none for timeouts so short that the ticks would cost more than they save.
  const auto anchor_period = std::min<std::chrono::milliseconds>(
      {std::chrono::milliseconds(1000), state->context.timeout / 2, kMaxLinger / 2});
  if (anchor_period >= std::chrono::milliseconds(10)) {
    for (const auto& io_context : state->io_contexts) {
      State::ArmAnchor(state->anchors.emplace_back(std::make_unique<asio::steady_timer>(*io_context)).get(),
                       anchor_period);
    }
  }
  {
    std::lock_guard<std::mutex> lock(state->accept_mu);
    state->accepting = true;
    state->Accept();
  }
  State* raw = state.get();
  for (int i = 0; i < options.num_io_threads; ++i) {
    raw->threads.emplace_back([io_context = raw->io_contexts[i].get()] {
      for (;;) {
        try {
          io_context->run();
          return;
        } catch (const std::exception& e) {  // a bug: drop the operation that threw, keep serving
          std::fprintf(stderr, "serval http: exception on an io thread: %s\n", e.what());
        } catch (...) {
          std::fprintf(stderr, "serval http: unknown exception on an io thread\n");
        }
      }
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

int HttpServer::port() const { return state_->port; }

Status HttpServer::ReloadTls(const TlsSettings& settings) {
  if (!state_->context.tls.load()) return FailedPrecondition("http: the server was started without TLS");
  SERVAL_ASSIGN_OR_RETURN(std::shared_ptr<asio::ssl::context> context, MakeTlsContext(settings));
  state_->context.tls.store(std::move(context));
  return Status::Ok();
}

Status CheckTlsSettings(const TlsSettings& settings) { return MakeTlsContext(settings).status(); }

int64_t HttpServer::active_requests() const { return state_->context.active_requests.load(std::memory_order_relaxed); }

void HttpServer::StopAccepting() {
  state_->context.draining.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(state_->accept_mu);
  state_->accepting = false;
  error_code ignored;
  if (state_->acceptor) state_->acceptor->close(ignored);
  if (state_->accept_retry) state_->accept_retry->cancel();
}

void HttpServer::Stop() {
  std::lock_guard<std::mutex> stop_lock(state_->stop_mu);
  if (state_->stopped) return;
  state_->stopped = true;
  StopAccepting();
  state_->work.clear();
  for (const auto& io_context : state_->io_contexts) io_context->stop();
  for (auto& thread : state_->threads) thread.join();
  state_->threads.clear();
  // Handlers running on the workers finish (their answers are not sent); queued ones are answered 503
  // (not sent either). Joined before the io_contexts go, since each task holds its connection.
  state_->context.stopping.store(true, std::memory_order_relaxed);
  if (state_->workers) state_->workers->Stop();
  {
    std::lock_guard<std::mutex> lock(state_->accept_mu);
    state_->acceptor.reset();
    state_->accept_retry.reset();
  }
  // Destroying the io_contexts destroys the pending operations, which releases the connections they hold
  // and so closes their sockets. The anchors go first: a timer must not outlive its io_context.
  state_->anchors.clear();
  state_->io_contexts.clear();
}

}  // namespace serval

#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace serval::bench {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseDecimal(std::string_view text, int64_t* value) {
  text = Trim(text);
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size() && *value >= 0;
}

}  // namespace

Status ParseResponseHead(std::string_view head, HttpResponse* response, int64_t* content_length) {
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    return InvalidArgument("malformed HTTP status line");
  }
  int status = 0;
  auto [end, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || end != status_line.data() + 12 || status < 100) {
    return InvalidArgument("malformed HTTP status code");
  }
  response->status = status;
  response->inference_header_length = -1;
  *content_length = -1;
  while (line_end != std::string_view::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    std::string_view line = head.substr(start, line_end == std::string_view::npos ? head.npos : line_end - start);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return InvalidArgument("malformed HTTP header line");
    std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    if (EqualsIgnoreCase(name, "content-length")) {
      if (!ParseDecimal(value, content_length)) return InvalidArgument("malformed Content-Length");
    } else if (EqualsIgnoreCase(name, "inference-header-content-length")) {
      if (!ParseDecimal(value, &response->inference_header_length)) {
        return InvalidArgument("malformed Inference-Header-Content-Length");
      }
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      return InvalidArgument("chunked responses are not supported by serval-bench");
    }
  }
  if (*content_length < 0) return InvalidArgument("HTTP response without Content-Length");
  return Status::Ok();
}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  length_ = 0;
  consumed_ = 0;
}

Status HttpClient::Connect(const std::string& host, int port) {
  host_ = host;
  port_ = port;
  return Reconnect();
}

Status HttpClient::Reconnect() {
  Close();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("not a numeric IPv4 address: " + host_);
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Status error = Unavailable("connect " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno));
    Close();
    return error;
  }
  return Status::Ok();
}

Status HttpClient::Exchange(std::string_view request, HttpResponse* response, int64_t max_body_bytes) {
  const bool reused = fd_ >= 0;
  Status status = ExchangeOnce(request, response, max_body_bytes);
  // A keep-alive connection the server closed while idle (nginx's keepalive_requests, an idle timeout)
  // fails before any answer arrives: reconnect and send once more, as wrk does.
  if (!status.ok() && reused && status.code() == StatusCode::kUnavailable && closed_before_answer_) {
    ++reconnects_;
    status = ExchangeOnce(request, response, max_body_bytes);
  }
  return status;
}

Status HttpClient::ExchangeOnce(std::string_view request, HttpResponse* response, int64_t max_body_bytes) {
  closed_before_answer_ = false;
  if (fd_ < 0) SERVAL_RETURN_IF_ERROR(Reconnect());
  // Keep bytes that arrived after the previous response (a well-behaved server sends none unasked).
  if (consumed_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + consumed_, length_ - consumed_);
    length_ -= consumed_;
    consumed_ = 0;
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      closed_before_answer_ = true;
      Status error = Unavailable(std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed"));
      Close();
      return error;
    }
    sent += static_cast<size_t>(n);
  }
  size_t head_end = std::string::npos;
  int64_t content_length = -1;
  constexpr size_t kMaxHead = 64 * 1024;
  constexpr size_t kReadChunk = 64 * 1024;
  while (true) {
    const std::string_view received(buffer_.data(), length_);
    if (head_end == std::string::npos) {
      head_end = received.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        Status parsed = ParseResponseHead(received.substr(0, head_end + 2), response, &content_length);
        if (!parsed.ok() || content_length > max_body_bytes) {
          Close();
          return parsed.ok() ? ResourceExhausted("response body too large") : parsed;
        }
      } else if (length_ > kMaxHead) {
        Close();
        return InvalidArgument("HTTP response head larger than 64 KiB");
      }
    }
    size_t want = kReadChunk;
    if (head_end != std::string::npos) {
      const size_t total = head_end + 4 + static_cast<size_t>(content_length);
      if (length_ >= total) break;
      want = std::max(want, total - length_);
    }
    // Grow only: resize zero-fills, so a steady state with a large enough buffer never touches it again.
    if (buffer_.size() < length_ + want) buffer_.resize(length_ + want);
    const ssize_t n = ::recv(fd_, buffer_.data() + length_, want, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      closed_before_answer_ = length_ == 0;
      Status error =
          Unavailable(std::string("recv: ") + (n < 0 ? std::strerror(errno) : "server closed the connection"));
      Close();
      return error;
    }
    length_ += static_cast<size_t>(n);
  }
  response->body = std::string_view(buffer_.data() + head_end + 4, static_cast<size_t>(content_length));
  consumed_ = head_end + 4 + static_cast<size_t>(content_length);
  return Status::Ok();
}

}  // namespace serval::bench

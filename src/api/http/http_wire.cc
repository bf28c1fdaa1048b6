#include "api/http/http_wire.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <new>
#include <vector>

namespace serval::http_wire {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in` into `out`. False on a malformed escape or a decoded NUL.
bool PercentDecode(std::string_view in, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i < in.size()) {
    size_t pct = in.find('%', i);
    if (pct == std::string_view::npos) {
      out.append(in.data() + i, in.size() - i);
      break;
    }
    out.append(in.data() + i, pct - i);
    if (pct + 2 >= in.size()) return false;
    int hi = HexValue(in[pct + 1]);
    int lo = HexValue(in[pct + 2]);
    if (hi < 0 || lo < 0) return false;
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return false;
    out.push_back(c);
    i = pct + 3;
  }
  return true;
}

// Splits a request target into its path (still encoded) and raw query. False if it is neither
// origin-form ("/..."), absolute-form ("http://host/...") nor "*".
bool SplitTarget(std::string_view target, std::string_view& path, std::string_view& query) {
  size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (StartsWithIgnoreCase(path, "http://") || StartsWithIgnoreCase(path, "https://")) {
    size_t authority = path.find("://") + 3;
    size_t slash = path.find('/', authority);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    return true;
  }
  return path == "*" || (!path.empty() && path.front() == '/');
}

Encoding ParseContentEncoding(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || EqualsIgnoreCase(value, "identity")) return Encoding::kIdentity;
  if (EqualsIgnoreCase(value, "gzip") || EqualsIgnoreCase(value, "x-gzip")) return Encoding::kGzip;
  if (EqualsIgnoreCase(value, "deflate")) return Encoding::kDeflate;
  return Encoding::kUnsupported;
}

// Inflates a gzip (one or more members) or deflate (zlib-wrapped, or raw as some clients send it) body
// into `out`, never holding more than cap + 1 output bytes. Throws std::bad_alloc when zlib cannot.
InflateResult Inflate(const std::string& in, Encoding encoding, size_t cap, std::string& out) {
  const bool gzip = encoding == Encoding::kGzip;
  int window_bits = 15 + 16;
  if (!gzip) {
    const bool zlib_header = in.size() >= 2 && (static_cast<unsigned char>(in[0]) & 0x0f) == 8 &&
                             ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1])) % 31 == 0;
    window_bits = zlib_header ? 15 : -15;
  }
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) throw std::bad_alloc();
  struct Ender {
    z_stream* zs;
    ~Ender() { inflateEnd(zs); }
  } ender{&zs};

  constexpr size_t kMaxStep = size_t{1} << 30;  // z_stream counts are 32-bit
  const size_t limit = cap == SIZE_MAX ? cap : cap + 1;
  size_t consumed = 0;
  size_t produced = 0;
  out.clear();
  out.resize(std::min(limit, std::max<size_t>(size_t{64} * 1024, std::min(in.size(), kMaxStep) * 4)));
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= limit) return InflateResult::kTooLarge;
      out.resize(out.size() > limit / 2 ? limit : out.size() * 2);
    }
    const size_t in_step = std::min(in.size() - consumed, kMaxStep);
    const size_t out_step = std::min(out.size() - produced, kMaxStep);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
    zs.avail_in = static_cast<uInt>(in_step);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out_step);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_step - zs.avail_in;
    produced += out_step - zs.avail_out;
    if (produced > cap) return InflateResult::kTooLarge;
    if (rc == Z_STREAM_END) {
      if (consumed == in.size()) break;
      if (!gzip || inflateReset(&zs) != Z_OK) return InflateResult::kCorrupt;  // data after the stream
      continue;
    }
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateResult::kCorrupt;
    // No more input while inflate still has room to write: the stream is truncated.
    if (consumed == in.size() && produced < out.size()) return InflateResult::kCorrupt;
  }
  out.resize(produced);
  return InflateResult::kOk;
}

// RFC 7231 IMF-fixdate of the current second, cached per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = -1;
  thread_local std::array<char, 32> text{};
  thread_local size_t length = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    int n = std::snprintf(text.data(), text.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                          tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    length = n > 0 ? std::min(static_cast<size_t>(n), text.size() - 1) : 0;
    cached_second = now;
  }
  return {text.data(), length};
}

void AppendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  (void)ec;
  out.append(digits, end);
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A handler header is sent only if its name is a token, its value has no control characters other than
// tab, and it does not try to set what the server owns.
bool IsSendableHeader(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return !EqualsIgnoreCase(name, "content-length") && !EqualsIgnoreCase(name, "connection") &&
         !EqualsIgnoreCase(name, "transfer-encoding") && !EqualsIgnoreCase(name, "server") &&
         !EqualsIgnoreCase(name, "date") && !EqualsIgnoreCase(name, "content-type");
}

std::string ErrorJson(std::string_view message) {
  std::string json = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      json.push_back('\\');
      json.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      json.push_back(' ');
    } else {
      json.push_back(c);
    }
  }
  json += "\"}";
  return json;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9112 §6.3: when a request carries both Transfer-Encoding and Content-Length, Transfer-Encoding
// decides the framing. Beast refuses the combination outright, so before it parses the header block
// (which ends with its blank line) every Content-Length line is renamed in place to a same-length name
// that nothing reads. Returns whether it renamed any (the connection must then close after the answer).
bool NeutralizeContentLengthUnderTransferEncoding(char* block, size_t size) {
  static constexpr std::string_view kContentLength = "content-length";
  static constexpr std::string_view kReplacement = "x-ignored-clen";
  static_assert(kContentLength.size() == kReplacement.size());
  std::string_view text(block, size);
  const size_t first_line_end = text.find("\r\n");
  if (first_line_end == std::string_view::npos) return false;
  bool transfer_encoding = false;
  std::vector<size_t> content_lengths;
  for (size_t line = first_line_end + 2; line < text.size();) {
    size_t end = text.find("\r\n", line);
    if (end == std::string_view::npos) end = text.size();
    std::string_view field = text.substr(line, end - line);
    const size_t colon = field.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = field.substr(0, colon);
      if (EqualsIgnoreCase(name, "transfer-encoding")) transfer_encoding = true;
      if (EqualsIgnoreCase(name, kContentLength)) content_lengths.push_back(line);
    }
    line = end + 2;
  }
  if (!transfer_encoding || content_lengths.empty()) return false;
  for (size_t at : content_lengths) std::memcpy(block + at, kReplacement.data(), kReplacement.size());
  return true;
}

}  // namespace serval::http_wire

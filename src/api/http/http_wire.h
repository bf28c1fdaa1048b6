// HttpWire: the pure parts of HTTP/1.1 handling under HttpServer — case-insensitive comparison,
// percent-decoding and target splitting, content codings and bounded inflation, the Date header, header
// sanity, the JSON error body, and the request-smuggling guard for Content-Length with Transfer-Encoding.
// No sockets, no Boost: each function maps bytes to bytes, safe from any thread (HttpDate caches per second
// per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace serval::http_wire {

char AsciiLower(char c);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

int HexValue(char c);

// Percent-decodes `in` into `out`. False on a malformed escape or a decoded NUL.
bool PercentDecode(std::string_view in, std::string& out);

// Splits a request target into its path (still encoded) and raw query. False if it is neither
// origin-form ("/..."), absolute-form ("http://host/...") nor "*".
bool SplitTarget(std::string_view target, std::string_view& path, std::string_view& query);

enum class Encoding { kIdentity, kGzip, kDeflate, kUnsupported };

Encoding ParseContentEncoding(std::string_view value);

enum class InflateResult { kOk, kTooLarge, kCorrupt };

// Inflates a gzip (one or more members) or deflate (zlib-wrapped, or raw as some clients send it) body
// into `out`, never holding more than cap + 1 output bytes. Throws std::bad_alloc when zlib cannot.
InflateResult Inflate(const std::string& in, Encoding encoding, size_t cap, std::string& out);

// RFC 7231 IMF-fixdate of the current second, cached per thread.
std::string_view HttpDate();

void AppendNumber(std::string& out, uint64_t value);

bool IsTokenChar(char c);

// A handler header is sent only if its name is a token, its value has no control characters other than
// tab, and it does not try to set what the server owns.
bool IsSendableHeader(const std::string& name, const std::string& value);

std::string ErrorJson(std::string_view message);

std::string_view TrimOws(std::string_view s);

// RFC 9112 §6.3: when a request carries both Transfer-Encoding and Content-Length, Transfer-Encoding
// decides the framing. Beast refuses the combination outright, so before it parses the header block
// (which ends with its blank line) every Content-Length line is renamed in place to a same-length name
// that nothing reads. Returns whether it renamed any (the connection must then close after the answer).
bool NeutralizeContentLengthUnderTransferEncoding(char* block, size_t size);

}  // namespace serval::http_wire

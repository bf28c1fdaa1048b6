// ParseJsonFast: simdjson On-Demand drives the JsonHandler events; anything it does not take is read again
// by ParseJson (json_reader.h states the contract).
//
// The driver walks the document in order and emits exactly the events ParseJson would, for the documents it
// accepts. It accepts a document only where simdjson's reading provably matches RapidJSON's; it gives up
// (fallback) on:
//   * any simdjson error (malformed text, invalid UTF-8 — RapidJSON does not check UTF-8, so it decides);
//   * a root that is not an object or array (rare; RapidJSON's root-scalar rules decide);
//   * a string or key with a \u escape (the two libraries differ on lone surrogates) or a raw control
//     character;
//   * NaN / Infinity (simdjson refuses them), and numbers RapidJSON might refuse as "too big" although they
//     are finite (a zero with an exponent, a magnitude above 1e100, over 200 characters) unless RapidJSON
//     accepts that very token (ReaderAcceptsNumber);
//   * nesting past kMaxJsonDepth (RapidJSON reports it, with its offset);
//   * trailing content after the root;
//   * a handler that asks for it (JsonArrayBody::RequestFallback) or stops without an error.
// The walk recurses once per open array/object, at most kMaxJsonDepth (100) frames: it gives up before
// opening level 101.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/json/json_reader.h"
#include "api/json/json_simd.h"
#include "core/memory_budget.h"

namespace serval {

namespace od = simdjson::ondemand;

class JsonSimdDriver {
 public:
  explicit JsonSimdDriver(JsonHandler& handler, const char* text_end) : handler_(handler), text_end_(text_end) {}

  // False when the walk stopped: fallback() says whether to parse again, else the handler failed.
  bool Value(od::value& value) {
    std::string_view token = value.raw_json_token();
    if (token.empty()) return Bail();
    switch (token[0]) {
      case '[':
        return Array(value, token.data());
      case '{':
        return Object(value);
      case '"':
        return String(value, token.data());
      case 't':
      case 'f': {
        bool b = false;
        if (value.get_bool().get(b) != simdjson::SUCCESS) return Bail();
        return handler_.Bool(b);
      }
      case 'n': {
        bool is_null = false;
        if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return Bail();
        return handler_.Null();
      }
      default:
        return Number(value, token.data());
    }
  }

  bool fallback() const { return fallback_; }

 private:
  bool Bail() {
    fallback_ = true;
    return false;
  }
  // The handler returned false: an error, or (no error) a request to parse again.
  bool Stopped(const JsonArrayBody* body = nullptr) {
    if ((body != nullptr && body->fallback_requested()) || handler_.error().ok()) fallback_ = true;
    return false;
  }
  bool Enter() {
    if (handler_.depth_ >= kMaxJsonDepth) return false;
    ++handler_.depth_;
    return true;
  }

  bool Array(od::value& value, const char* open) {
    od::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS || !Enter()) return Bail();
    JsonSimdArray simd{&array};
    // As on the RapidJSON path, the body's text runs from just after the '[' to the end of the document.
    JsonArrayBody body(open + 1, text_end_, &simd);
    if (!handler_.StartArray(body)) return Stopped(&body);
    if (!body.consumed_all()) {
      for (auto element : array) {
        od::value child;
        if (element.get(child) != simdjson::SUCCESS) return Bail();
        if (!Value(child)) return false;
      }
    }
    const bool ok = handler_.EndArray();
    --handler_.depth_;
    return ok || Stopped();
  }

  bool Object(od::value& value) {
    od::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS || !Enter()) return Bail();
    if (!handler_.StartObject()) return Stopped();
    for (auto member : object) {
      od::field field;
      if (std::move(member).get(field) != simdjson::SUCCESS) return Bail();
      std::string_view key;
      const char* raw = field.key().raw();  // just after the opening quote
      const int escapes = StringContent(raw, &key);
      if (escapes < 0) return Bail();
      if (escapes > 0 && field.unescaped_key().get(key) != simdjson::SUCCESS) return Bail();
      if (!handler_.Key(key)) return Stopped();
      if (!Value(field.value())) return false;
    }
    const bool ok = handler_.EndObject();
    --handler_.depth_;
    return ok || Stopped();
  }

  bool String(od::value& value, const char* quote) {
    std::string_view text;
    const int escapes = StringContent(quote + 1, &text);
    if (escapes < 0) return Bail();
    // Every value is read through a getter: On-Demand skips a value left unread without validating it.
    if (escapes > 0) {
      if (value.get_string().get(text) != simdjson::SUCCESS) return Bail();
    } else {
      od::raw_json_string raw;
      if (value.get_raw_json_string().get(raw) != simdjson::SUCCESS) return Bail();
    }
    return handler_.String(text);
  }

  // The raw content of the string starting at `p` (after its opening quote; simdjson's stage 1 found it
  // closed). Returns 0 and the content when it has no escape, 1 when it has escapes other than \u (the
  // caller unescapes with simdjson), -1 for a \u escape or a raw control character (fallback).
  static int StringContent(const char* p, std::string_view* content) {
    int escapes = 0;
    const char* q = p;
    for (;; ++q) {
      const unsigned char c = static_cast<unsigned char>(*q);
      if (c == '"') break;
      if (c < 0x20) return -1;
      if (c == '\\') {
        if (q[1] == 'u') return -1;
        escapes = 1;
        ++q;
      }
    }
    *content = {p, static_cast<size_t>(q - p)};
    return escapes;
  }

  bool Number(od::value& value, const char* start) {
    double d = 0;
    if (value.get_double().get(d) != simdjson::SUCCESS) return Bail();
    const std::string_view token(start, static_cast<size_t>(JsonNumberTokenEnd(start) - start));
    const bool unusual = d == 0 ? JsonNumberHasExponent(start) : !(std::fabs(d) <= 1e100) || token.size() > 200;
    if (unusual && !ReaderAcceptsNumber(token)) return Bail();
    return handler_.Number(token);
  }

  JsonHandler& handler_;
  const char* text_end_;
  bool fallback_ = false;
};

namespace {

thread_local uint64_t t_fallbacks = 0;

// Parsers (with their copy buffers) are kept for reuse in one process-wide pool of at most kPooledParsers,
// each sized for texts up to kRetainedTextBytes (about 7 × that: 14 MiB each, 112 MiB in all at most; what
// is resident is what their largest parse touched). A parse finds one in the pool or makes one; a parser
// that grew past kRetainedTextBytes, or that finds the pool full, is freed after its parse. So memory held
// between requests is bounded whatever the thread count and body sizes.
constexpr size_t kRetainedTextBytes = size_t{2} << 20;
constexpr size_t kPooledParsers = 8;

// simdjson's own limit is 4 GiB; the server's body limit is far below. Larger texts (and SimdParseBytes
// overflowing) are left to ParseJson.
constexpr size_t kMaxSimdTextBytes = size_t{1} << 31;

// What a parse of `n` bytes of text allocates: simdjson's structural index (4 bytes per byte) and string
// buffer (5/3 per byte), the padded copy (charged even when the text is read in place), and slack.
size_t SimdParseBytes(size_t n) { return n * 7 + 4 * simdjson::SIMDJSON_PADDING + 4096; }

struct SimdParser {
  od::parser parser;
  std::unique_ptr<char[]> copy;
  size_t copy_capacity = 0;
  size_t largest_text = 0;

  // The text followed by SIMDJSON_PADDING spaces.
  const char* Copy(std::string_view text) {
    const size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
    if (needed > copy_capacity) {
      copy = std::make_unique_for_overwrite<char[]>(needed);
      copy_capacity = needed;
    }
    if (!text.empty()) std::memcpy(copy.get(), text.data(), text.size());
    std::memset(copy.get() + text.size(), ' ', simdjson::SIMDJSON_PADDING);
    return copy.get();
  }
};

class ParserPool {
 public:
  std::unique_ptr<SimdParser> Take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        std::unique_ptr<SimdParser> parser = std::move(free_.back());
        free_.pop_back();
        return parser;
      }
    }
    return std::make_unique<SimdParser>();
  }
  void Give(std::unique_ptr<SimdParser> parser) {
    if (parser->largest_text > kRetainedTextBytes) return;  // freed here
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.size() < kPooledParsers) free_.push_back(std::move(parser));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<SimdParser>> free_;
};

ParserPool& Pool() {
  static auto* pool = new ParserPool();  // never destroyed: parses may run during exit
  return *pool;
}

// Ok/handler error when the simdjson walk settled the document; nullopt when ParseJson must decide.
std::optional<Status> ParseSimd(SimdParser& simd, std::string_view text, size_t readable, JsonHandler& handler) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (text[first] != '{' && text[first] != '[')) return std::nullopt;
  // In place only when every token ends inside the text: it must end with a closing bracket (numbers and
  // atoms stop there; stage 1 finds strings closed), since the bytes after it may hold anything.
  const size_t last = text.find_last_not_of(" \t\r\n");
  const bool in_place =
      readable >= text.size() + simdjson::SIMDJSON_PADDING && (text[last] == ']' || text[last] == '}');
  const char* copy = in_place ? text.data() : simd.Copy(text);
  od::document document;
  if (simd.parser.iterate(copy, text.size(), text.size() + simdjson::SIMDJSON_PADDING).get(document) !=
      simdjson::SUCCESS) {
    return std::nullopt;
  }
  od::value root;
  if (document.get_value().get(root) != simdjson::SUCCESS) return std::nullopt;
  // The handler's views (strings, numbers, JsonArrayBody::text()) may point into the copy: the same bytes.
  JsonSimdDriver driver(handler, copy + text.size());
  if (!driver.Value(root)) {
    if (driver.fallback()) return std::nullopt;
    return handler.error();
  }
  // Trailing content: simdjson reports OUT_OF_BOUNDS only when no token is left after the root.
  const char* trailing = nullptr;
  if (document.current_location().get(trailing) != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return Status::Ok();
}

}  // namespace

Status ParseJsonFast(std::string_view text, const std::function<JsonHandler&()>& make_handler, size_t readable) {
  const size_t mark = RequestMemoryCharged();
  const size_t parse_bytes = text.size() <= kMaxSimdTextBytes ? SimdParseBytes(text.size()) : 0;
  if (parse_bytes != 0 && TryChargeRequestMemory(parse_bytes)) {
    std::unique_ptr<SimdParser> parser = Pool().Take();
    parser->largest_text = std::max(parser->largest_text, text.size());
    std::optional<Status> result = ParseSimd(*parser, text, readable, make_handler());
    Pool().Give(std::move(parser));
    RefundRequestMemory(parse_bytes);
    if (result) return *std::move(result);
  }
  ++t_fallbacks;
  // Memory the failed attempt's handler charged is freed with it (make_handler replaces it).
  const size_t attempt_bytes = RequestMemoryCharged() - mark;
  JsonHandler& handler = make_handler();
  RefundRequestMemory(attempt_bytes);
  return ParseJson(text, handler);
}

uint64_t JsonFastFallbacksOnThisThread() { return t_fallbacks; }

}  // namespace serval

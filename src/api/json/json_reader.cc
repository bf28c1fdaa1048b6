#include "api/json/json_reader.h"

#include <cassert>
#include <string>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace serval {
namespace {

// A read-only RapidJSON input stream over a string_view. Unlike StringStream it needs no NUL terminator,
// and unlike a copy-optimized stream the reader works on this very object, so the driver can move the
// read position when a handler consumed an array body itself.
class ViewStream {
 public:
  using Ch = char;

  ViewStream(const char* begin, const char* end) : pos_(begin), begin_(begin), end_(end) {}

  Ch Peek() const { return pos_ == end_ ? '\0' : *pos_; }
  Ch Take() { return pos_ == end_ ? '\0' : *pos_++; }
  size_t Tell() const { return static_cast<size_t>(pos_ - begin_); }
  Ch* PutBegin() {
    assert(false);
    return nullptr;
  }
  void Put(Ch) { assert(false); }
  void Flush() { assert(false); }
  size_t PutEnd(Ch*) {
    assert(false);
    return 0;
  }

  const char* pos_;
  const char* begin_;
  const char* end_;
};

constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNanAndInfFlag | rapidjson::kParseNumbersAsStringsFlag;

}  // namespace

// Adapts RapidJSON's handler concept to JsonHandler and enforces the depth cap.
class JsonReaderDriver {
 public:
  using Ch = char;

  JsonReaderDriver(JsonHandler& handler, ViewStream& stream) : handler_(handler), stream_(stream) {}

  bool depth_exceeded() const { return depth_exceeded_; }

  bool Null() { return handler_.Null(); }
  bool Bool(bool value) { return handler_.Bool(value); }
  // With kParseNumbersAsStringsFlag only RawNumber is called; the typed callbacks exist for the concept.
  bool Int(int) { return Unexpected(); }
  bool Uint(unsigned) { return Unexpected(); }
  bool Int64(int64_t) { return Unexpected(); }
  bool Uint64(uint64_t) { return Unexpected(); }
  bool Double(double) { return Unexpected(); }
  bool RawNumber(const Ch* text, rapidjson::SizeType length, bool) { return handler_.Number({text, length}); }
  bool String(const Ch* text, rapidjson::SizeType length, bool) { return handler_.String({text, length}); }
  bool Key(const Ch* text, rapidjson::SizeType length, bool) { return handler_.Key({text, length}); }

  bool StartObject() {
    if (!Enter()) return false;
    return handler_.StartObject();
  }
  bool EndObject(rapidjson::SizeType) {
    bool ok = handler_.EndObject();
    --handler_.depth_;
    return ok;
  }
  bool StartArray() {
    if (!Enter()) return false;
    // The iterative reader reports StartArray while it still looks at the '[' (it takes the bracket after
    // the handler returns). The body handed out starts right after the bracket.
    const bool at_bracket = stream_.pos_ != stream_.end_ && *stream_.pos_ == '[';
    JsonArrayBody body = at_bracket ? JsonArrayBody(stream_.pos_ + 1, stream_.end_) : JsonArrayBody();
    if (!handler_.StartArray(body)) return false;
    if (body.consumed() != 0) {
      const char* close = stream_.pos_ + 1 + body.consumed();
      assert(close < stream_.end_ && *close == ']');
      // Leave the reader on the last consumed byte: its own Take() of "the '['" then lands on the ']'.
      stream_.pos_ = close - 1;
    }
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    bool ok = handler_.EndArray();
    --handler_.depth_;
    return ok;
  }

 private:
  bool Enter() {
    if (handler_.depth_ >= kMaxJsonDepth) {
      depth_exceeded_ = true;
      return false;
    }
    ++handler_.depth_;
    return true;
  }
  bool Unexpected() { return handler_.Fail(Internal("JSON reader reported a number in an unexpected form")); }

  JsonHandler& handler_;
  ViewStream& stream_;
  bool depth_exceeded_ = false;
};

namespace {

// RapidJSON's reader allocates its allocator and its stack when it is first used. Each thread keeps one for
// texts up to 64 KiB (its stack, which holds the text of the longest string or number and the open levels,
// then stays below that), so that a small request parses with no allocation. Longer texts, and a parse
// started while this thread's reader is busy, get a reader of their own.
constexpr size_t kReusedReaderMaxText = size_t{64} << 10;

struct ThreadReader {
  rapidjson::Reader reader;
  bool busy = false;
};

rapidjson::ParseResult Parse(std::string_view text, ViewStream& stream, JsonReaderDriver& driver) {
  thread_local ThreadReader reused;
  if (text.size() > kReusedReaderMaxText || reused.busy) {
    rapidjson::Reader reader;
    return reader.Parse<kParseFlags>(stream, driver);
  }
  reused.busy = true;
  rapidjson::ParseResult result = reused.reader.Parse<kParseFlags>(stream, driver);
  reused.busy = false;
  return result;
}

}  // namespace

Status ParseJson(std::string_view text, JsonHandler& handler) {
  ViewStream stream(text.data(), text.data() + text.size());
  JsonReaderDriver driver(handler, stream);
  rapidjson::ParseResult result = Parse(text, stream, driver);
  if (result) {
    // RapidJSON takes a NUL for the end of the text; the text really ends at end_. Anything left (e.g.
    // "{}\0garbage") is not one JSON document.
    if (stream.pos_ != stream.end_) {
      return InvalidArgument("malformed JSON at offset " + std::to_string(stream.Tell()) +
                             ": unexpected data after the document");
    }
    return Status::Ok();
  }
  if (driver.depth_exceeded()) {
    return InvalidArgument("JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (at offset " +
                           std::to_string(result.Offset()) + ")");
  }
  if (result.Code() == rapidjson::kParseErrorTermination && !handler.error().ok()) return handler.error();
  return InvalidArgument(std::string("malformed JSON at offset ") + std::to_string(result.Offset()) + ": " +
                         rapidjson::GetParseError_En(result.Code()));
}

bool ReaderAcceptsNumber(std::string_view token) {
  struct AcceptAll : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, AcceptAll> {};
  ViewStream stream(token.data(), token.data() + token.size());
  AcceptAll handler;
  rapidjson::Reader reader;
  return !reader.Parse<kParseFlags>(stream, handler).IsError() && stream.pos_ == stream.end_;
}

}  // namespace serval

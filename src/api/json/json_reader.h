// ParseJson: the one entry point through which every REST codec reads client JSON. It drives RapidJSON's
// iterative (constant-stack) SAX reader over the text and forwards events to a JsonHandler, with:
//   * a nesting cap of kMaxJsonDepth arrays/objects: deeper input fails with INVALID_ARGUMENT as soon as
//     level 101 opens, so 100,000 '[' cost microseconds and no stack (docs/reliability.md lesson 3);
//   * bare NaN, Inf, Infinity, -Inf, -Infinity accepted as numbers (TF Serving emits and accepts them);
//   * numbers delivered as their source text, so each decoder converts them exactly once, straight to
//     the element type it needs (no double detour for int64, correctly rounded floats).
// Nothing is built: no DOM exists, and nothing recursive runs on client data.
//
// Fast path: a handler may parse the body of an array itself (JsonArrayBody) — the tensor decoders use it
// to read long numeric lists without a per-number trip through the generic reader.
// Pure function of its input; safe to call from any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace serval {

inline constexpr int kMaxJsonDepth = 100;

// The unread text of an array whose '[' has just been reported through JsonHandler::StartArray.
class JsonArrayBody {
 public:
  JsonArrayBody() = default;
  JsonArrayBody(const char* begin, const char* end) : begin_(begin), end_(end), available_(true) {}

  // False when the reader cannot hand out the body; the handler then just receives the events.
  bool available() const { return available_; }
  // From just after the '[' to the end of the document.
  std::string_view text() const { return {begin_, static_cast<size_t>(end_ - begin_)}; }
  // The handler has parsed text()[0, n) itself. REQUIRES: available(), and text()[n] is this array's
  // closing ']'; the reader resumes there and reports EndArray() next.
  void Consume(size_t n) { consumed_ = n; }
  size_t consumed() const { return consumed_; }

 private:
  const char* begin_ = nullptr;
  const char* end_ = nullptr;
  bool available_ = false;
  size_t consumed_ = 0;
};

// SAX events of one document. Each method returns false to stop parsing; it must then have called Fail()
// with the reason, which ParseJson returns. Strings are only valid during the call.
class JsonHandler {
 public:
  virtual ~JsonHandler() = default;

  virtual bool Null() = 0;
  virtual bool Bool(bool value) = 0;
  // `text` is the number as written (JSON grammar, or NaN / Inf / Infinity with an optional '-').
  virtual bool Number(std::string_view text) = 0;
  virtual bool String(std::string_view value) = 0;
  virtual bool StartObject() = 0;
  virtual bool Key(std::string_view key) = 0;
  virtual bool EndObject() = 0;
  virtual bool StartArray(JsonArrayBody& body) = 0;
  virtual bool EndArray() = 0;

  const Status& error() const { return error_; }

 protected:
  bool Fail(Status status) {
    error_ = std::move(status);
    return false;
  }
  // Arrays and objects open at this event, counting the one a Start*/End* event is about.
  int depth() const { return depth_; }

 private:
  friend class JsonReaderDriver;
  int depth_ = 0;
  Status error_;
};

// Whether ParseJson would accept `token` (one number) as a document. RapidJSON refuses some literals that
// are finite as written ("0e999999", "1e309", 310-digit integers: "number too big"); a handler that lexes
// numbers itself (JsonArrayBody) asks this for rare long-exponent or very long numbers, so that a number
// is accepted or refused the same whichever path reads it.
bool ReaderAcceptsNumber(std::string_view token);

// Parses `text` as one JSON document. Returns the handler's error when it stopped the parse, else
// INVALID_ARGUMENT for malformed or too deeply nested JSON (with the byte offset).
Status ParseJson(std::string_view text, JsonHandler& handler);

}  // namespace serval

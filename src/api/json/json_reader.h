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
//
// ParseJsonFast: the same contract through simdjson On-Demand (stage 1 indexes the text with SIMD; the
// driver walks it and emits the same events; numeric arrays are read by the handler straight from
// simdjson's cursor, JsonArrayBody::simd()). It is the decoders' hot path. Whatever that path does not take
// (NaN / Infinity, numbers RapidJSON would refuse or the typed fast path does not convert, \u escapes,
// malformed or too deeply nested text, a parser the request's memory budget cannot pay for) is read again
// from scratch by ParseJson with a fresh handler, so every error and every accepted document is exactly
// ParseJson's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace serval {

inline constexpr int kMaxJsonDepth = 100;

// simdjson's cursor over an array (json_simd.h; private to the JSON library).
struct JsonSimdArray;

// The unread text of an array whose '[' has just been reported through JsonHandler::StartArray.
class JsonArrayBody {
 public:
  JsonArrayBody() = default;
  JsonArrayBody(const char* begin, const char* end, JsonSimdArray* simd = nullptr)
      : begin_(begin), end_(end), available_(true), simd_(simd) {}

  // False when the reader cannot hand out the body; the handler then just receives the events.
  bool available() const { return available_; }
  // From just after the '[' to the end of the document.
  std::string_view text() const { return {begin_, static_cast<size_t>(end_ - begin_)}; }
  // The handler has parsed text()[0, n) itself. REQUIRES: available(), and text()[n] is this array's
  // closing ']'; the reader resumes there and reports EndArray() next.
  // RapidJSON path only (simd() is null).
  void Consume(size_t n) { consumed_ = n; }
  size_t consumed() const { return consumed_; }

  // ParseJsonFast: the array as simdjson's cursor, else null. A handler that reads the array through it
  // reads all of it, closing ']' included, then calls ConsumedAll(); the reader reports EndArray() next.
  JsonSimdArray* simd() const { return simd_; }
  void ConsumedAll() { consumed_all_ = true; }
  bool consumed_all() const { return consumed_all_; }
  // ParseJsonFast: the handler met something its fast path leaves to ParseJson. It returns false after
  // calling this (with no error); the document is then parsed again by ParseJson with a fresh handler.
  void RequestFallback() { fallback_ = true; }
  bool fallback_requested() const { return fallback_; }

 private:
  const char* begin_ = nullptr;
  const char* end_ = nullptr;
  bool available_ = false;
  JsonSimdArray* simd_ = nullptr;
  size_t consumed_ = 0;
  bool consumed_all_ = false;
  bool fallback_ = false;
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
  friend class JsonSimdDriver;
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

// Parses `text` as ParseJson does (same events, same result), through simdjson when it can (see the top).
// `make_handler` is called before each attempt and returns a fresh handler, replacing (destroying) the one
// it returned before; the handler of the last call is the one whose events made the result. What the
// request's memory scope was charged during a failed attempt is refunded before the next one (the handler
// that held it is gone).
// `readable`: bytes readable at text.data() (e.g. a std::string's capacity; the bytes past the text may
// hold anything). When that leaves simdjson's padding (64 bytes) and the text ends with its root's closing
// bracket (so no token can run into the padding), simdjson reads the text in place; else it reads a copy
// followed by 64 spaces. simdjson's buffers (and the copy: about 7 bytes per byte of text in all) are
// charged to the request while it parses; a request that cannot pay for them is read by ParseJson alone.
// Thread-safe; parsers are reused from a process-wide pool that keeps at most 8, each sized for texts up to
// 2 MiB (a larger text gets a parser freed after its parse).
Status ParseJsonFast(std::string_view text, const std::function<JsonHandler&()>& make_handler, size_t readable = 0);

// How many ParseJsonFast calls on this thread were read by ParseJson in the end (tests check that the fast
// path really takes what it should).
uint64_t JsonFastFallbacksOnThisThread();

}  // namespace serval

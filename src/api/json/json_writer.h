// Compact JSON output for the REST codecs: strings with escaping, numbers in shortest round-trip form
// (std::to_chars; a float is printed as a float, not widened to double), and whole tensors as nested or
// flat lists. No pretty printing.
//
// Number spelling: integral floats keep a ".0" ("1.0", like RapidJSON's writer that TF Serving and Triton
// use) so clients keep seeing floats; non-finite floats are the bare tokens NaN, Infinity and -Infinity (TF
// Serving's spelling; not strict JSON, and used for KServe output too — there is no strict alternative).
// FP16/BF16 elements are written as the float they convert to exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace serval {

// Appends to a std::string through raw pointers with amortized growth. Flush() (or the destructor) trims
// the string to what was written; do not touch the string directly in between.
class JsonOut {
 public:
  explicit JsonOut(std::string* out) : out_(out), size_(out->size()) {}
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;
  ~JsonOut() { Flush(); }

  // Room for `n` more bytes; write them at the returned pointer, then Commit(end of what was written).
  char* Reserve(size_t n) {
    if (out_->size() - size_ < n) Grow(n);
    return out_->data() + size_;
  }
  void Commit(char* end) { size_ = static_cast<size_t>(end - out_->data()); }
  void Append(std::string_view text) {
    char* p = Reserve(text.size());
    if (!text.empty()) __builtin_memcpy(p, text.data(), text.size());
    size_ += text.size();
  }
  void Append(char c) {
    *Reserve(1) = c;
    ++size_;
  }
  void Flush() { out_->resize(size_); }
  size_t size() const { return size_; }

 private:
  void Grow(size_t n);

  std::string* out_;
  size_t size_;
};

bool IsValidUtf8(std::string_view text);

// A quoted, escaped JSON string. Valid UTF-8 passes through (control characters, '"' and '\' escaped);
// each byte that is not part of a valid UTF-8 sequence becomes U+FFFD, since JSON text cannot carry raw
// bytes.
void WriteJsonString(JsonOut& out, std::string_view text);
void AppendJsonString(std::string* out, std::string_view text);

void WriteJsonFloat(JsonOut& out, float value);
void WriteJsonDouble(JsonOut& out, double value);
void WriteJsonInt(JsonOut& out, int64_t value);
void WriteJsonUint(JsonOut& out, uint64_t value);

// How STRING elements are written.
enum class JsonStringStyle {
  kString,       // a JSON string (invalid UTF-8 replaced, see WriteJsonString): KServe BYTES in JSON
  kB64Object,    // {"b64": "<base64>"}: TF Serving outputs whose name ends in "_bytes"
  kStringOrB64,  // a JSON string when the element is valid UTF-8, else {"b64": ...} (lossless)
};

// Writes `count` elements of `tensor` starting at element `first` as nested lists shaped by `dims`
// (count = product of dims; no dims: one bare scalar). Pass dims = {count} for a flat list.
// REQUIRES: the elements exist in the tensor; the tensor is not kInvalid.
void WriteTensorJson(JsonOut& out, const Tensor& tensor, std::span<const int64_t> dims, int64_t first,
                     JsonStringStyle string_style);

}  // namespace serval

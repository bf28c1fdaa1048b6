// simdjson On-Demand types shared by the JSON library's fast path (json_simd_reader.cc drives the document,
// JsonTensorBuilder reads numeric arrays from it). Private to src/api/json: nothing outside includes it.
#pragma once

#include <simdjson.h>

namespace serval {

// The array whose StartArray event is being delivered (JsonArrayBody::simd()).
struct JsonSimdArray {
  simdjson::ondemand::array* array;
};

// The JSON number token at `p` (simdjson checked its grammar): it ends at whitespace, a structural
// character or the padding after the text, all of which stop this scan.
inline const char* JsonNumberTokenEnd(const char* p) {
  for (;; ++p) {
    const char c = *p;
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return p;
  }
}

// Whether the number token at `p` has an exponent (RapidJSON refuses a zero written with a large one,
// "0e999", which simdjson reads as 0).
inline bool JsonNumberHasExponent(const char* p) {
  for (const char* end = JsonNumberTokenEnd(p); p != end; ++p) {
    if (*p == 'e' || *p == 'E') return true;
  }
  return false;
}

}  // namespace serval

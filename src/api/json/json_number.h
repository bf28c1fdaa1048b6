// Typed reading of JSON numbers: lex the number's text once, then convert it to exactly the element type
// a tensor needs, with a range check for that type:
//   * integers: exact up to 64 bits; "300" into UINT8 and "-1" into UINT32 are out of range; a number
//     written with a fraction or exponent ("2.0", "1e3") is accepted only when it is integral and its
//     magnitude is at most 2^53 (beyond that a double cannot be trusted to hold the integer the client meant);
//   * FP32/FP64: correctly rounded (the decimal is rounded once, to the target type, by fast_float); finite
//     numbers beyond the type's range are errors, numbers below its smallest subnormal become ±0; NaN /
//     Infinity tokens map to NaN / ±inf;
//   * FP16/BF16: decimal → double (correctly rounded) → round to nearest even; finite numbers that round
//     to infinity are errors;
//   * BOOL and STRING take no numbers.
// The JSON grammar is checked here (fast_float alone also accepts "1.", ".5", "01" and "inf"); the
// decimal-to-binary conversion is fast_float's. This is the exact path behind the decoders' simdjson fast
// path (json_simd_reader.cc, JsonTensorBuilder::ScanSimdBody): it converts the numbers of documents that
// path leaves to RapidJSON (NaN / Infinity, errors, rare forms) and of values whose type is not known yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include <fast_float/fast_float.h>

#include "api/json/float16.h"
#include "core/data_type.h"

namespace serval {

struct JsonNumber {
  enum class Special : uint8_t { kNone, kNaN, kInfinity };

  std::string_view text;
  bool negative = false;
  bool integral = true;  // written without fraction or exponent
  Special special = Special::kNone;
  uint64_t significand = 0;  // the leading digits, at most 19 of them (so below 10^19)
  int32_t exponent = 0;      // value = significand × 10^exponent, exact unless `truncated`
  bool truncated = false;    // a non-zero digit that did not fit was dropped
};

enum class NumberError : uint8_t {
  kOk,
  kNotAnInteger,  // a fraction, NaN or infinity for an integer type
  kOutOfRange,    // outside the type's range (or an integer beyond 2^53 written as a float)
  kWrongType,     // a number for BOOL or STRING
};

// Human text for an error converting `text` to `type`, e.g. "300 is out of range for UINT8".
std::string NumberErrorText(NumberError error, std::string_view text, DataType type);

namespace json_number_internal {

inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

NumberError SlowIntegerMagnitude(const JsonNumber& number, uint64_t* magnitude);

// Decimal → T (float or double), correctly rounded. False for a finite number out of T's range.
template <typename T>
inline bool ToBinary(const JsonNumber& n, T* out) {
  if (n.special != JsonNumber::Special::kNone) {
    T v = n.special == JsonNumber::Special::kNaN ? std::numeric_limits<T>::quiet_NaN()
                                                 : std::numeric_limits<T>::infinity();
    *out = n.negative ? -v : v;
    return true;
  }
  T v{};
  // The lexer checked the grammar; fast_float reads the same text. It rounds overflow to infinity.
  fast_float::from_chars(n.text.data(), n.text.data() + n.text.size(), v);
  if (v - v != 0) return false;  // ±inf from a finite number
  *out = v;
  return true;
}
inline bool ToDouble(const JsonNumber& n, double* out) { return ToBinary(n, out); }
inline bool ToFloat(const JsonNumber& n, float* out) { return ToBinary(n, out); }

// Magnitude of an integral value (sign in n.negative).
inline NumberError IntegerMagnitude(const JsonNumber& n, uint64_t* magnitude) {
  if (n.integral && n.exponent == 0 && !n.truncated) {
    *magnitude = n.significand;
    return NumberError::kOk;
  }
  return SlowIntegerMagnitude(n, magnitude);
}

template <typename T>
inline NumberError ToSigned(const JsonNumber& n, T* out) {
  uint64_t magnitude = 0;
  NumberError error = IntegerMagnitude(n, &magnitude);
  if (error != NumberError::kOk) return error;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<T>::max());
  if (n.negative) {
    if (magnitude > kMax + 1) return NumberError::kOutOfRange;
    *out = static_cast<T>(static_cast<int64_t>(0 - magnitude));  // two's complement, defined since C++20
  } else {
    if (magnitude > kMax) return NumberError::kOutOfRange;
    *out = static_cast<T>(magnitude);
  }
  return NumberError::kOk;
}

template <typename T>
inline NumberError ToUnsigned(const JsonNumber& n, T* out) {
  uint64_t magnitude = 0;
  NumberError error = IntegerMagnitude(n, &magnitude);
  if (error != NumberError::kOk) return error;
  if (n.negative && magnitude != 0) return NumberError::kOutOfRange;
  if (magnitude > static_cast<uint64_t>(std::numeric_limits<T>::max())) return NumberError::kOutOfRange;
  *out = static_cast<T>(magnitude);
  return NumberError::kOk;
}

template <typename T>
inline void Store(std::byte* out, T value) {
  std::memcpy(out, &value, sizeof value);
}

// The general lexer behind LexJsonNumber (the JSON number grammar, plus NaN / Inf / Infinity with an
// optional '-'). Returns the end of the token, or nullptr.
const char* LexJsonNumberGeneral(const char* p, const char* end, JsonNumber* n);

}  // namespace json_number_internal

// Lexes one JSON number starting at `p` (strict JSON grammar, plus NaN, Inf and Infinity with an optional
// '-', as RapidJSON's kParseNanAndInfFlag accepts them). Returns the end of the token, or nullptr when
// [p, end) does not start with a number.
inline const char* LexJsonNumber(const char* p, const char* end, JsonNumber* n) {
  return json_number_internal::LexJsonNumberGeneral(p, end, n);
}

// Converts a lexed number to one element of `Type` and writes its little-endian bytes at `out`.
template <DataType Type>
inline NumberError StoreJsonNumber(const JsonNumber& n, std::byte* out) {
  using namespace json_number_internal;
  NumberError error = NumberError::kOk;
  if constexpr (Type == DataType::kFp32) {
    float v = 0;
    if (!ToFloat(n, &v)) return NumberError::kOutOfRange;
    Store(out, v);
  } else if constexpr (Type == DataType::kFp64) {
    double v = 0;
    if (!ToDouble(n, &v)) return NumberError::kOutOfRange;
    Store(out, v);
  } else if constexpr (Type == DataType::kFp16 || Type == DataType::kBf16) {
    double v = 0;
    if (!ToDouble(n, &v)) return NumberError::kOutOfRange;
    uint16_t bits = Type == DataType::kFp16 ? DoubleToHalfBits(v) : DoubleToBfloat16Bits(v);
    // A finite number that rounded to infinity is out of range.
    const uint16_t infinity = Type == DataType::kFp16 ? 0x7c00 : 0x7f80;
    if ((bits & 0x7fff) == infinity && n.special == JsonNumber::Special::kNone) return NumberError::kOutOfRange;
    Store(out, bits);
  } else if constexpr (Type == DataType::kInt8) {
    int8_t v = 0;
    if ((error = ToSigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kInt16) {
    int16_t v = 0;
    if ((error = ToSigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kInt32) {
    int32_t v = 0;
    if ((error = ToSigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kInt64) {
    int64_t v = 0;
    if ((error = ToSigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kUint8) {
    uint8_t v = 0;
    if ((error = ToUnsigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kUint16) {
    uint16_t v = 0;
    if ((error = ToUnsigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kUint32) {
    uint32_t v = 0;
    if ((error = ToUnsigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else if constexpr (Type == DataType::kUint64) {
    uint64_t v = 0;
    if ((error = ToUnsigned(n, &v)) == NumberError::kOk) Store(out, v);
  } else {
    error = NumberError::kWrongType;
  }
  return error;
}

// Runtime-typed form of StoreJsonNumber (for the non-hot paths).
NumberError StoreJsonNumber(const JsonNumber& number, DataType type, std::byte* out);

// Lexes a whole token (as JsonHandler::Number delivers it). False when `text` is not exactly one number.
bool LexJsonNumberText(std::string_view text, JsonNumber* number);

}  // namespace serval

// Typed reading of JSON numbers: lex the number's text once, then convert it to exactly the element type
// a tensor needs, with a range check for that type:
//   * integers: exact up to 64 bits; "300" into UINT8 and "-1" into UINT32 are out of range; a number
//     written with a fraction or exponent ("2.0", "1e3") is accepted only when it is integral and its
//     magnitude is at most 2^53 (beyond that a double cannot be trusted to hold the integer the client meant);
//   * FP32/FP64: correctly rounded (the decimal is rounded once, to the target type); finite numbers beyond
//     the type's range are errors, numbers below its smallest subnormal become ±0; NaN / Infinity tokens map
//     to NaN / ±inf;
//   * FP16/BF16: decimal → double (correctly rounded) → round to nearest even; finite numbers that round
//     to infinity are errors;
//   * BOOL and STRING take no numbers.
// The hot functions are inline: the tensor decoders call them once per element.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

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

// Out-of-line conversions for the rare inputs the inline fast paths do not decide.
bool SlowToDouble(const JsonNumber& number, double* out);
bool SlowToFloat(const JsonNumber& number, float* out);
NumberError SlowIntegerMagnitude(const JsonNumber& number, uint64_t* magnitude);

inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Decimal → double. The fast path is Clinger's: a significand and a power of ten that are both exact
// doubles give a correctly rounded result with one multiplication or division. Returns false for a
// finite number out of double range.
inline bool ToDouble(const JsonNumber& n, double* out) {
  if (n.special != JsonNumber::Special::kNone) {
    double v = n.special == JsonNumber::Special::kNaN ? __builtin_nan("") : __builtin_inf();
    *out = n.negative ? -v : v;
    return true;
  }
  if (!n.truncated) {
    if (n.significand == 0) {
      *out = n.negative ? -0.0 : 0.0;
      return true;
    }
    if (n.significand <= (uint64_t{1} << 53) && n.exponent >= -22 && n.exponent <= 22) {
      double v = static_cast<double>(n.significand);
      v = n.exponent >= 0 ? v * kPow10[n.exponent] : v / kPow10[-n.exponent];
      *out = n.negative ? -v : v;
      return true;
    }
  }
  return SlowToDouble(n, out);
}

// Decimal → float, rounded once. A double computed exactly-rounded from the decimal rounds to the same
// float as the decimal itself unless it lands exactly on a midpoint between two floats; those (and
// values outside float's normal range) take the slow path.
inline bool ToFloat(const JsonNumber& n, float* out) {
  if (n.special != JsonNumber::Special::kNone) {
    float v = n.special == JsonNumber::Special::kNaN ? __builtin_nanf("") : __builtin_inff();
    *out = n.negative ? -v : v;
    return true;
  }
  if (!n.truncated) {
    if (n.significand == 0) {
      *out = n.negative ? -0.0f : 0.0f;
      return true;
    }
    if (n.significand <= (uint64_t{1} << 53) && n.exponent >= -22 && n.exponent <= 22) {
      double v = static_cast<double>(n.significand);
      v = n.exponent >= 0 ? v * kPow10[n.exponent] : v / kPow10[-n.exponent];
      uint64_t bits = 0;
      std::memcpy(&bits, &v, sizeof bits);
      // Float normal range [2^-126, 2^128) and not a float midpoint (bit 28 set, bits 0..27 clear).
      const uint64_t exponent = bits >> 52;  // sign is 0 here
      if (exponent >= 1023 - 126 && exponent < 1023 + 128 && (bits & 0x1fffffff) != 0x10000000) {
        if (v < 3.4028235677973366e38) {  // below FLT_MAX + half an ulp: rounds to a finite float
          float f = static_cast<float>(v);
          *out = n.negative ? -f : f;
          return true;
        }
        return false;
      }
    }
  }
  return SlowToFloat(n, out);
}

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

}  // namespace json_number_internal

namespace json_number_internal {

// Bytes of `v` (8 characters, the first in the low byte) minus '0'; *count = how many leading characters
// are digits (0..8). Bytes at and after the first non-digit are garbage in the result.
inline uint64_t LeadingDigits(uint64_t v, int* count) {
  const uint64_t digits = v - 0x3030303030303030ull;  // a digit byte becomes 0..9
  const uint64_t above = v + 0x4646464646464646ull;   // a byte above '9' sets its top bit
  const uint64_t non_digit = (digits | above) & 0x8080808080808080ull;
  // Borrows and carries only travel upward, from a non-digit: the lowest flagged byte is exact.
  *count = non_digit == 0 ? 8 : __builtin_ctzll(non_digit) >> 3;
  return digits;
}

// The value of 8 digit bytes (0..9, the most significant in the low byte).
inline uint64_t EightDigitsValue(uint64_t digits) {
  digits = digits * 10 + (digits >> 8);
  return (((digits & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
          (((digits >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
         32;
}

inline constexpr uint64_t kPow10Small[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// Reads the digit run at p into *significand (keeping at most 19 significant digits, 8 at a time while
// 8 bytes are readable). *taken = digits folded in (leading zeros included), *dropped = digits beyond
// the 19th, *dropped_nonzero = whether any of those was not '0'. Returns the end of the run.
inline const char* ReadDigits(const char* p, const char* end, uint64_t* significand, int* significant, int* taken,
                              int* dropped, bool* dropped_nonzero) {
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    int count = 0;
    uint64_t digits = LeadingDigits(v, &count);
    if (count == 0) return p;
    if (*significant + count > 19) break;
    digits <<= 8 * (8 - count);  // the run's digits to the top bytes; zero digits below them
    *significand = *significand * kPow10Small[count] + EightDigitsValue(digits);
    // Counting from the first folded digit over-counts leading zeros; that only sends a rare number to
    // the slow path earlier.
    *significant = *significand == 0 ? 0 : *significant + count;
    *taken += count;
    p += count;
    if (count < 8) return p;
  }
  while (p != end && IsDigit(*p)) {
    const unsigned digit = static_cast<unsigned>(*p - '0');
    if (*significant < 19) {
      *significand = *significand * 10 + digit;
      if (*significand != 0) ++*significant;
      ++*taken;
    } else {
      ++*dropped;
      *dropped_nonzero |= digit != 0;
    }
    ++p;
  }
  return p;
}

const char* LexSpecialJsonNumber(const char* start, const char* p, const char* end, bool negative, JsonNumber* n);

}  // namespace json_number_internal

namespace json_number_internal {

// The general lexer behind LexJsonNumber.
inline const char* LexJsonNumberGeneral(const char* p, const char* end, JsonNumber* n) {
  const char* const start = p;
  bool negative = false;
  if (p != end && *p == '-') {
    negative = true;
    ++p;
  }
  if (p == end) return nullptr;
  if (!IsDigit(*p)) return LexSpecialJsonNumber(start, p, end, negative, n);
  uint64_t significand = 0;
  int significant = 0;
  int taken = 0;
  int dropped = 0;
  bool truncated = false;
  bool integral = true;
  if (*p == '0') {
    ++p;  // a leading zero stands alone ("01" ends the number after the 0; the caller rejects the '1')
  } else {
    p = ReadDigits(p, end, &significand, &significant, &taken, &dropped, &truncated);
  }
  int32_t exponent = dropped;  // integer digits beyond the 19th scale the significand
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    integral = false;
    int fraction_taken = 0;
    int fraction_dropped = 0;
    p = ReadDigits(p, end, &significand, &significant, &fraction_taken, &fraction_dropped, &truncated);
    exponent -= fraction_taken;
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    integral = false;
    bool exponent_negative = false;
    if (p != end && (*p == '+' || *p == '-')) {
      exponent_negative = *p == '-';
      ++p;
    }
    if (p == end || !IsDigit(*p)) return nullptr;
    int32_t written = 0;
    do {
      if (written < 1000000) written = written * 10 + (*p - '0');  // saturates; the value is inf or 0 anyway
      ++p;
    } while (p != end && IsDigit(*p));
    exponent += exponent_negative ? -written : written;
  }
  n->text = {start, static_cast<size_t>(p - start)};
  n->negative = negative;
  n->integral = integral;
  n->special = JsonNumber::Special::kNone;
  n->significand = significand;
  n->exponent = exponent;
  n->truncated = truncated;
  return p;
}

}  // namespace json_number_internal

// Lexes one JSON number starting at `p` (strict JSON grammar, plus NaN, Inf and Infinity with an optional
// '-', as RapidJSON's kParseNanAndInfFlag accepts them). Returns the end of the token, or nullptr when
// [p, end) does not start with a number.
//
// Hot path: the shape of most tensor numbers, "-12.345678" (up to 7 integer digits, up to 15 fraction
// digits, no exponent), is read with three 8-byte loads and no per-character branches. Everything else,
// and numbers within 32 bytes of the end of the text, take the general lexer.
inline const char* LexJsonNumber(const char* p, const char* end, JsonNumber* n) {
  using namespace json_number_internal;
  if (end - p >= 32) {
    const char* q = p;
    const bool negative = *q == '-';
    q += negative;
    uint64_t word;
    std::memcpy(&word, q, 8);
    int integer_count = 0;
    const uint64_t integer_digits = LeadingDigits(word, &integer_count);
    // Not: no digit, 8+ integer digits, or a leading zero followed by digits (invalid JSON).
    if (integer_count != 0 && integer_count != 8 && (integer_count == 1 || (word & 0xff) != '0')) {
      uint64_t significand = EightDigitsValue(integer_digits << (8 * (8 - integer_count)));
      q += integer_count;
      int32_t exponent = 0;
      bool integral = true;
      bool fast = true;
      if (*q == '.') {
        uint64_t first_word, second_word;
        std::memcpy(&first_word, q + 1, 8);
        std::memcpy(&second_word, q + 9, 8);
        int first_count = 0;
        int second_count = 0;
        const uint64_t first = LeadingDigits(first_word, &first_count);
        const uint64_t second = LeadingDigits(second_word, &second_count);
        if (first_count == 0) return nullptr;  // "1." or "1.x"
        if (first_count < 8) second_count = 0;
        if (second_count == 8) {
          fast = false;
        } else {
          const uint64_t first_value = EightDigitsValue(first << (8 * (8 - first_count)));
          const uint64_t second_value = second_count == 0 ? 0 : EightDigitsValue(second << (8 * (8 - second_count)));
          // At most 7 + 8 + 7 = 22 digits: more than 19 may not fit; those take the general path.
          if (integer_count + first_count + second_count > 19) {
            fast = false;
          } else {
            significand =
                (significand * kPow10Small[first_count] + first_value) * kPow10Small[second_count] + second_value;
            exponent = -(first_count + second_count);
            q += 1 + first_count + second_count;
            integral = false;
          }
        }
      }
      if (fast && *q != 'e' && *q != 'E') {
        n->text = {p, static_cast<size_t>(q - p)};
        n->negative = negative;
        n->integral = integral;
        n->special = JsonNumber::Special::kNone;
        n->significand = significand;
        n->exponent = exponent;
        n->truncated = false;
        return q;
      }
    }
  }
  return LexJsonNumberGeneral(p, end, n);
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

#include "api/json/json_number.h"

#include <charconv>
#include <limits>
#include <system_error>

namespace serval {
namespace json_number_internal {
namespace {

constexpr uint64_t kPow10Int[] = {1ull,
                                  10ull,
                                  100ull,
                                  1000ull,
                                  10000ull,
                                  100000ull,
                                  1000000ull,
                                  10000000ull,
                                  100000000ull,
                                  1000000000ull,
                                  10000000000ull,
                                  100000000000ull,
                                  1000000000000ull,
                                  10000000000000ull,
                                  100000000000000ull,
                                  1000000000000000ull,
                                  10000000000000000ull,
                                  100000000000000000ull,
                                  1000000000000000000ull,
                                  10000000000000000000ull};

// x87 extended precision: a 64-bit significand holds any 19-digit significand exactly, and 10^0..10^27
// exactly (5^27 < 2^64), so significand × or ÷ 10^k is one correctly rounded operation. The result then
// rounds to the target exactly like the decimal unless it sits exactly on one of the target's midpoints.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__LDBL_MANT_DIG__) && __LDBL_MANT_DIG__ == 64
constexpr bool kHaveExtended = true;
constexpr long double kPow10Extended[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                          1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                          1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};

// Rounds significand × 10^exponent to 64 bits; false when the extended path does not apply.
bool ExtendedValue(const JsonNumber& n, long double* value, uint64_t* significand_bits) {
  if (n.truncated || n.exponent < -27 || n.exponent > 27) return false;
  long double v = static_cast<long double>(n.significand);
  v = n.exponent >= 0 ? v * kPow10Extended[n.exponent] : v / kPow10Extended[-n.exponent];
  std::memcpy(significand_bits, &v, sizeof *significand_bits);  // the low 8 bytes: the significand
  *value = v;
  return true;
}
#else
constexpr bool kHaveExtended = false;
bool ExtendedValue(const JsonNumber&, long double*, uint64_t*) { return false; }
#endif

// Decimal exponent of the leading digit (value is in [10^k, 10^(k+1))), for telling underflow from overflow.
int LeadingExponent(const JsonNumber& n) {
  int digits = 0;
  for (uint64_t s = n.significand; s != 0; s /= 10) ++digits;
  return digits - 1 + n.exponent;
}

template <typename T>
bool FromChars(const JsonNumber& n, T* out) {
  T value{};
  auto [end, error] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), value);
  if (error == std::errc() && end == n.text.data() + n.text.size()) {
    *out = value;
    return true;
  }
  if (error == std::errc::result_out_of_range && LeadingExponent(n) < 0) {
    *out = n.negative ? -T{0} : T{0};  // below the smallest subnormal: rounds to zero
    return true;
  }
  return false;
}

}  // namespace

bool SlowToDouble(const JsonNumber& n, double* out) {
  if constexpr (kHaveExtended) {
    long double v = 0;
    uint64_t bits = 0;
    // |v| is within [1e-27, 1e46]: a normal double. Midpoint: the 11 dropped bits are exactly 100...0.
    if (ExtendedValue(n, &v, &bits) && (bits & 0x7ff) != 0x400) {
      double d = static_cast<double>(v);
      *out = n.negative ? -d : d;
      return true;
    }
  }
  return FromChars(n, out);
}

bool SlowToFloat(const JsonNumber& n, float* out) {
  if (n.special == JsonNumber::Special::kNone && !n.truncated && n.significand == 0) {
    *out = n.negative ? -0.0f : 0.0f;
    return true;
  }
  if constexpr (kHaveExtended) {
    long double v = 0;
    uint64_t bits = 0;
    if (ExtendedValue(n, &v, &bits)) {
      if (v >= 3.4028235677973366e38L) return false;  // at or past FLT_MAX + half an ulp
      // |v| >= 1e-27 is a normal float. Midpoint: the 40 dropped bits are exactly 100...0.
      if ((bits & ((uint64_t{1} << 40) - 1)) != (uint64_t{1} << 39)) {
        float f = static_cast<float>(v);
        *out = n.negative ? -f : f;
        return true;
      }
    }
  }
  return FromChars(n, out);
}

const char* LexSpecialJsonNumber(const char* start, const char* p, const char* end, bool negative, JsonNumber* n) {
  const size_t left = static_cast<size_t>(end - p);
  JsonNumber::Special special = JsonNumber::Special::kNone;
  if (left >= 3 && std::memcmp(p, "NaN", 3) == 0) {
    special = JsonNumber::Special::kNaN;
    p += 3;
  } else if (left >= 8 && std::memcmp(p, "Infinity", 8) == 0) {
    special = JsonNumber::Special::kInfinity;
    p += 8;
  } else if (left >= 3 && std::memcmp(p, "Inf", 3) == 0) {
    special = JsonNumber::Special::kInfinity;
    p += 3;
  } else {
    return nullptr;
  }
  *n = JsonNumber();
  n->text = {start, static_cast<size_t>(p - start)};
  n->negative = negative;
  n->integral = false;
  n->special = special;
  return p;
}

NumberError SlowIntegerMagnitude(const JsonNumber& n, uint64_t* magnitude) {
  if (n.special != JsonNumber::Special::kNone) return NumberError::kNotAnInteger;
  if (n.integral) {
    // Digits only, but more than 19 of them: exact through from_chars, or out of range.
    std::string_view digits = n.text.substr(n.negative ? 1 : 0);
    uint64_t value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size()) return NumberError::kOutOfRange;
    *magnitude = value;
    return NumberError::kOk;
  }
  // Written with a fraction or an exponent: exact integer arithmetic on significand × 10^exponent.
  if (n.significand == 0 && !n.truncated) {
    *magnitude = 0;
    return NumberError::kOk;
  }
  if (n.truncated) {
    // A non-zero digit past the 19th: either a fraction digit of a number below 10^19 or a huge number.
    return LeadingExponent(n) >= 16 ? NumberError::kOutOfRange : NumberError::kNotAnInteger;
  }
  uint64_t value = n.significand;
  if (n.exponent < 0) {
    if (n.exponent < -19 || value % kPow10Int[-n.exponent] != 0) return NumberError::kNotAnInteger;
    value /= kPow10Int[-n.exponent];
  } else if (n.exponent > 0) {
    if (n.exponent > 19 || __builtin_mul_overflow(value, kPow10Int[n.exponent], &value)) {
      return NumberError::kOutOfRange;
    }
  }
  if (value > (uint64_t{1} << 53)) return NumberError::kOutOfRange;
  *magnitude = value;
  return NumberError::kOk;
}

}  // namespace json_number_internal

std::string NumberErrorText(NumberError error, std::string_view text, DataType type) {
  std::string shown(text.substr(0, 40));
  if (text.size() > 40) shown += "...";
  std::string type_name(KServeName(type));
  switch (error) {
    case NumberError::kOk:
      return "ok";
    case NumberError::kNotAnInteger:
      return shown + " is not an integer, but the type is " + type_name;
    case NumberError::kOutOfRange: {
      bool integer_type =
          type != DataType::kFp16 && type != DataType::kBf16 && type != DataType::kFp32 && type != DataType::kFp64;
      JsonNumber number;
      if (integer_type && LexJsonNumberText(text, &number) && !number.integral) {
        return shown + " is out of range for " + type_name +
               " (integers written with a fraction or exponent must be at most 2^53 in magnitude)";
      }
      return shown + " is out of range for " + type_name;
    }
    case NumberError::kWrongType:
      return "a number (" + shown + ") is not a " + type_name + " value";
  }
  return "bad number";
}

NumberError StoreJsonNumber(const JsonNumber& number, DataType type, std::byte* out) {
  switch (type) {
    case DataType::kUint8:
      return StoreJsonNumber<DataType::kUint8>(number, out);
    case DataType::kUint16:
      return StoreJsonNumber<DataType::kUint16>(number, out);
    case DataType::kUint32:
      return StoreJsonNumber<DataType::kUint32>(number, out);
    case DataType::kUint64:
      return StoreJsonNumber<DataType::kUint64>(number, out);
    case DataType::kInt8:
      return StoreJsonNumber<DataType::kInt8>(number, out);
    case DataType::kInt16:
      return StoreJsonNumber<DataType::kInt16>(number, out);
    case DataType::kInt32:
      return StoreJsonNumber<DataType::kInt32>(number, out);
    case DataType::kInt64:
      return StoreJsonNumber<DataType::kInt64>(number, out);
    case DataType::kFp16:
      return StoreJsonNumber<DataType::kFp16>(number, out);
    case DataType::kBf16:
      return StoreJsonNumber<DataType::kBf16>(number, out);
    case DataType::kFp32:
      return StoreJsonNumber<DataType::kFp32>(number, out);
    case DataType::kFp64:
      return StoreJsonNumber<DataType::kFp64>(number, out);
    case DataType::kBool:
    case DataType::kString:
    case DataType::kInvalid:
      break;
  }
  return NumberError::kWrongType;
}

bool LexJsonNumberText(std::string_view text, JsonNumber* number) {
  const char* end = text.data() + text.size();
  return !text.empty() && LexJsonNumber(text.data(), end, number) == end;
}

}  // namespace serval

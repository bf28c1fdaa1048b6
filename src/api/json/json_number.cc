#include "api/json/json_number.h"

#include <charconv>
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

// Decimal exponent of the leading digit (value is in [10^k, 10^(k+1))), for telling underflow from overflow.
int LeadingExponent(const JsonNumber& n) {
  int digits = 0;
  for (uint64_t s = n.significand; s != 0; s /= 10) ++digits;
  return digits - 1 + n.exponent;
}

// Reads the digit run at p into *significand, keeping at most 19 significant digits. *taken = digits
// folded in (leading zeros included), *dropped = digits beyond the 19th, *dropped_nonzero = whether any
// of those was not '0'. Returns the end of the run.
const char* ReadDigits(const char* p, const char* end, uint64_t* significand, int* significant, int* taken,
                       int* dropped, bool* dropped_nonzero) {
  for (; p != end && IsDigit(*p); ++p) {
    const unsigned digit = static_cast<unsigned>(*p - '0');
    if (*significant < 19) {
      *significand = *significand * 10 + digit;
      if (*significand != 0) ++*significant;
      ++*taken;
    } else {
      ++*dropped;
      *dropped_nonzero |= digit != 0;
    }
  }
  return p;
}

const char* LexSpecial(const char* start, const char* p, const char* end, bool negative, JsonNumber* n) {
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

}  // namespace

const char* LexJsonNumberGeneral(const char* p, const char* end, JsonNumber* n) {
  const char* const start = p;
  bool negative = false;
  if (p != end && *p == '-') {
    negative = true;
    ++p;
  }
  if (p == end) return nullptr;
  if (!IsDigit(*p)) return LexSpecial(start, p, end, negative, n);
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

#include "api/json/json_number.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

#include "api/json/float16.h"

namespace serval {
namespace {

// Converts `text` to `type`; returns the error and, on success, the element's bytes.
template <typename T>
NumberError Convert(std::string_view text, DataType type, T* value) {
  JsonNumber number;
  if (!LexJsonNumberText(text, &number)) {
    ADD_FAILURE() << "not a number: " << text;
    return NumberError::kWrongType;
  }
  std::byte bytes[8] = {};
  NumberError error = StoreJsonNumber(number, type, bytes);
  if (error == NumberError::kOk) std::memcpy(value, bytes, sizeof(T));
  return error;
}

template <typename T>
T Ok(std::string_view text, DataType type) {
  T value{};
  EXPECT_EQ(Convert(text, type, &value), NumberError::kOk) << text;
  return value;
}

template <typename T>
NumberError Err(std::string_view text, DataType type) {
  T value{};
  return Convert(text, type, &value);
}

TEST(JsonNumberTest, LexesJsonGrammarOnly) {
  JsonNumber n;
  for (const char* good : {"0", "-0", "1", "123", "-1.5", "1e5", "1E+5", "1.25e-3", "0.000123", "NaN", "-NaN",
                           "Infinity", "-Infinity", "Inf", "-Inf", "12345678901234567890123"}) {
    EXPECT_TRUE(LexJsonNumberText(good, &n)) << good;
  }
  for (const char* bad : {"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "0x10", "1,", "nan", "infinity", "Infinit",
                          "--1", "1.5.2", " 1"}) {
    EXPECT_FALSE(LexJsonNumberText(bad, &n)) << bad;
  }
  ASSERT_TRUE(LexJsonNumberText("-0.00125e2", &n));
  EXPECT_TRUE(n.negative);
  EXPECT_FALSE(n.integral);
  EXPECT_EQ(n.significand, 125u);
  EXPECT_EQ(n.exponent, -3);
}

// Lexes `text` followed by `tail` and 40 bytes of padding, so that the 8-byte-load hot path applies.
const char* LexInBuffer(std::string_view text, std::string_view tail, JsonNumber* n, std::string* buffer) {
  *buffer = std::string(text) + std::string(tail) + std::string(40, ' ');
  const char* end = LexJsonNumber(buffer->data(), buffer->data() + buffer->size(), n);
  return end;
}

TEST(JsonNumberTest, LexedValuesAreCorrectlyRounded) {
  std::mt19937_64 rng(9);
  std::vector<std::string> texts = {"0",
                                    "-0",
                                    "1",
                                    "01",
                                    "-01",
                                    "1.",
                                    "1.x",
                                    "-",
                                    "-x",
                                    "0.0",
                                    "12345678",
                                    "1234567",
                                    "1234567.123456789012345",
                                    "1234567.1234567890123456",
                                    "12345678.5",
                                    "1.5e3",
                                    "-0.5",
                                    "0.000000000000000000001",
                                    "9.999999999999999999",
                                    "1.2345678901234567",
                                    "NaN",
                                    "-Infinity",
                                    "1.23456789012345",
                                    "7.123456789012345e-3",
                                    "5.",
                                    ".5"};
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    if (rng() & 1) text += '-';
    int integer_digits = static_cast<int>(rng() % 9);
    for (int d = 0; d < integer_digits; ++d) text += static_cast<char>('0' + rng() % 10);
    if (integer_digits == 0) text += '0';
    if (rng() % 4 != 0) {
      text += '.';
      int fraction_digits = static_cast<int>(rng() % 18) + (rng() % 8 == 0 ? 0 : 1);
      for (int d = 0; d < fraction_digits; ++d) text += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 8 == 0) text += "e-" + std::to_string(rng() % 30);
    texts.push_back(text);
  }
  for (const std::string& text : texts) {
    for (std::string_view tail : {",", "]", " ", "x", "0"}) {
      std::string buffer;
      JsonNumber lexed;
      const char* end = LexInBuffer(text, tail, &lexed, &buffer);
      // A number ends where the grammar says: never inside the tail's delimiter.
      if (end == nullptr) continue;
      ASSERT_LE(end - buffer.data(), static_cast<ptrdiff_t>(text.size() + tail.size())) << text << tail;
      ASSERT_EQ(lexed.text.data(), buffer.data()) << text << tail;
      float value = 0;
      if (!json_number_internal::ToFloat(lexed, &value)) continue;
      // The value is the correctly rounded one (strtof's), whatever path the digits took.
      const float expected = std::strtof(std::string(lexed.text).c_str(), nullptr);
      if (std::isfinite(expected)) {
        EXPECT_EQ(std::bit_cast<uint32_t>(value), std::bit_cast<uint32_t>(expected)) << text;
      }
    }
  }
}

TEST(JsonNumberTest, IntegersAreExactAndRangeChecked) {
  EXPECT_EQ(Ok<int8_t>("-128", DataType::kInt8), -128);
  EXPECT_EQ(Ok<int8_t>("127", DataType::kInt8), 127);
  EXPECT_EQ(Err<int8_t>("128", DataType::kInt8), NumberError::kOutOfRange);
  EXPECT_EQ(Err<int8_t>("-129", DataType::kInt8), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<uint8_t>("255", DataType::kUint8), 255);
  EXPECT_EQ(Err<uint8_t>("300", DataType::kUint8), NumberError::kOutOfRange);
  EXPECT_EQ(Err<uint8_t>("-1", DataType::kUint8), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<uint8_t>("-0", DataType::kUint8), 0);
  EXPECT_EQ(Ok<int16_t>("-32768", DataType::kInt16), -32768);
  EXPECT_EQ(Err<uint16_t>("65536", DataType::kUint16), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<int32_t>("-2147483648", DataType::kInt32), INT32_MIN);
  EXPECT_EQ(Err<int32_t>("2147483648", DataType::kInt32), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<uint32_t>("4294967295", DataType::kUint32), UINT32_MAX);
  EXPECT_EQ(Ok<int64_t>("9223372036854775807", DataType::kInt64), INT64_MAX);
  EXPECT_EQ(Ok<int64_t>("-9223372036854775808", DataType::kInt64), INT64_MIN);
  EXPECT_EQ(Err<int64_t>("9223372036854775808", DataType::kInt64), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<uint64_t>("18446744073709551615", DataType::kUint64), UINT64_MAX);
  EXPECT_EQ(Err<uint64_t>("18446744073709551616", DataType::kUint64), NumberError::kOutOfRange);
  EXPECT_EQ(Err<uint64_t>("123456789012345678901234567890", DataType::kUint64), NumberError::kOutOfRange);
}

TEST(JsonNumberTest, IntegersWrittenAsFloats) {
  EXPECT_EQ(Ok<int32_t>("2.0", DataType::kInt32), 2);
  EXPECT_EQ(Ok<int32_t>("1e3", DataType::kInt32), 1000);
  EXPECT_EQ(Ok<int32_t>("-12.5e1", DataType::kInt32), -125);
  EXPECT_EQ(Ok<int32_t>("0.0", DataType::kInt32), 0);
  EXPECT_EQ(Err<int32_t>("1.5", DataType::kInt32), NumberError::kNotAnInteger);
  EXPECT_EQ(Err<int32_t>("1e-1", DataType::kInt32), NumberError::kNotAnInteger);
  EXPECT_EQ(Err<int32_t>("NaN", DataType::kInt32), NumberError::kNotAnInteger);
  EXPECT_EQ(Err<int32_t>("Infinity", DataType::kInt32), NumberError::kNotAnInteger);
  EXPECT_EQ(Err<int32_t>("1.00000000000000000001", DataType::kInt32), NumberError::kNotAnInteger);
  // At most 2^53 when written as a float: beyond it a double cannot be trusted to mean one integer.
  EXPECT_EQ(Ok<int64_t>("9007199254740992.0", DataType::kInt64), int64_t{1} << 53);
  EXPECT_EQ(Err<int64_t>("9007199254740993.0", DataType::kInt64), NumberError::kOutOfRange);
  EXPECT_EQ(Err<uint64_t>("1e19", DataType::kUint64), NumberError::kOutOfRange);
  EXPECT_EQ(Err<int64_t>("1e400", DataType::kInt64), NumberError::kOutOfRange);
  EXPECT_NE(NumberErrorText(NumberError::kOutOfRange, "9007199254740993.0", DataType::kInt64).find("2^53"),
            std::string::npos);
  EXPECT_EQ(NumberErrorText(NumberError::kOutOfRange, "300", DataType::kUint8), "300 is out of range for UINT8");
}

TEST(JsonNumberTest, FloatsAndSpecials) {
  EXPECT_EQ(Ok<float>("1.5", DataType::kFp32), 1.5f);
  EXPECT_EQ(Ok<float>("3.4028235e38", DataType::kFp32), 3.4028235e38f);
  EXPECT_EQ(Err<float>("3.5e38", DataType::kFp32), NumberError::kOutOfRange);
  EXPECT_EQ(Err<float>("1e39", DataType::kFp32), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<float>("1e-50", DataType::kFp32), 0.0f);
  EXPECT_TRUE(std::signbit(Ok<float>("-1e-50", DataType::kFp32)));
  EXPECT_EQ(Ok<float>("1e-45", DataType::kFp32), std::ldexp(1.0f, -149));
  EXPECT_TRUE(std::signbit(Ok<float>("-0", DataType::kFp32)));
  EXPECT_TRUE(std::isnan(Ok<float>("NaN", DataType::kFp32)));
  EXPECT_EQ(Ok<float>("-Infinity", DataType::kFp32), -INFINITY);
  EXPECT_EQ(Ok<double>("Inf", DataType::kFp64), INFINITY);
  EXPECT_EQ(Ok<double>("1.7976931348623157e308", DataType::kFp64), 1.7976931348623157e308);
  EXPECT_EQ(Ok<double>("5e-324", DataType::kFp64), 5e-324);
  EXPECT_EQ(Ok<double>("1e-400", DataType::kFp64), 0.0);
  EXPECT_EQ(Err<double>("1e400", DataType::kFp64), NumberError::kOutOfRange);
  EXPECT_EQ(Err<uint8_t>("1", DataType::kBool), NumberError::kWrongType);
  EXPECT_EQ(Err<uint8_t>("1", DataType::kString), NumberError::kWrongType);
}

TEST(JsonNumberTest, FloatRoundingIsSingle) {
  // Just above the midpoint between 1 and the next float: a double rounds it onto the midpoint, and a
  // second rounding (ties to even) would give 1.0.
  EXPECT_EQ(Ok<float>("1.000000059604644776", DataType::kFp32), std::nextafter(1.0f, 2.0f));
  EXPECT_EQ(Ok<float>("1.00000005960464477539062500000001", DataType::kFp32), std::nextafter(1.0f, 2.0f));
  EXPECT_EQ(Ok<float>("1.000000059604644775390625", DataType::kFp32), 1.0f);  // exactly the midpoint: even
  EXPECT_EQ(Ok<float>("1.000000059604644775", DataType::kFp32), 1.0f);
}

TEST(JsonNumberTest, FloatsMatchTheCLibraryOnRandomDecimals) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> digits_dist(1, 25);
  std::uniform_int_distribution<int> exponent_dist(-45, 38);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    if (rng() & 1) text += '-';
    int digits = digits_dist(rng);
    text += static_cast<char>('1' + rng() % 9);
    if (digits > 1) text += '.';
    for (int d = 1; d < digits; ++d) text += static_cast<char>('0' + rng() % 10);
    text += 'e' + std::to_string(exponent_dist(rng));
    float expected_float = std::strtof(text.c_str(), nullptr);
    double expected_double = std::strtod(text.c_str(), nullptr);
    float f = 0;
    double d = 0;
    NumberError ef = Convert(text, DataType::kFp32, &f);
    if (std::isinf(expected_float)) {
      EXPECT_EQ(ef, NumberError::kOutOfRange) << text;
    } else {
      ASSERT_EQ(ef, NumberError::kOk) << text;
      EXPECT_EQ(std::bit_cast<uint32_t>(f), std::bit_cast<uint32_t>(expected_float))
          << text << " " << f << " vs " << expected_float;
    }
    ASSERT_EQ(Convert(text, DataType::kFp64, &d), NumberError::kOk) << text;
    EXPECT_EQ(std::bit_cast<uint64_t>(d), std::bit_cast<uint64_t>(expected_double)) << text;
  }
}

TEST(JsonNumberTest, ShortestAndPythonStyleFloatTextRoundTrips) {
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    uint32_t bits = rng();
    float value;
    std::memcpy(&value, &bits, 4);
    if (!std::isfinite(value)) continue;
    char buffer[64];
    auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    float parsed = Ok<float>(std::string_view(buffer, static_cast<size_t>(end - buffer)), DataType::kFp32);
    ASSERT_EQ(std::bit_cast<uint32_t>(parsed), std::bit_cast<uint32_t>(value)) << buffer;
    // numpy float32 → Python float → json.dumps: the double's shortest form, often 17 digits.
    end = std::to_chars(buffer, buffer + sizeof buffer, static_cast<double>(value)).ptr;
    parsed = Ok<float>(std::string_view(buffer, static_cast<size_t>(end - buffer)), DataType::kFp32);
    ASSERT_EQ(std::bit_cast<uint32_t>(parsed), std::bit_cast<uint32_t>(value)) << buffer;
  }
}

TEST(JsonNumberTest, HalfAndBfloat16FromText) {
  EXPECT_EQ(Ok<uint16_t>("1", DataType::kFp16), 0x3c00);
  EXPECT_EQ(Ok<uint16_t>("0.1", DataType::kFp16), 0x2e66);
  EXPECT_EQ(Ok<uint16_t>("65504", DataType::kFp16), 0x7bff);
  EXPECT_EQ(Err<uint16_t>("65520", DataType::kFp16), NumberError::kOutOfRange);
  EXPECT_EQ(Ok<uint16_t>("-Infinity", DataType::kFp16), 0xfc00);
  EXPECT_EQ(Ok<uint16_t>("1", DataType::kBf16), 0x3f80);
  EXPECT_EQ(Ok<uint16_t>("-2.5", DataType::kBf16), DoubleToBfloat16Bits(-2.5));
  EXPECT_EQ(Err<uint16_t>("3.4e38", DataType::kBf16), NumberError::kOutOfRange);
}

}  // namespace
}  // namespace serval

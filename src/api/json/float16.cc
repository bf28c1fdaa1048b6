#include "api/json/float16.h"

#include <cstring>

namespace serval {
namespace {

// Rounds a double to a binary format with `mantissa_bits` stored fraction bits, `exponent_bits` exponent
// bits and the matching bias, to nearest with ties to even, straight from the double's 53-bit significand
// (one rounding: no detour through float).
uint16_t NarrowDouble(double value, int mantissa_bits, int exponent_bits) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t sign = static_cast<uint32_t>(bits >> 63) << (mantissa_bits + exponent_bits);
  const int double_exponent = static_cast<int>((bits >> 52) & 0x7ff);
  const uint64_t fraction = bits & ((uint64_t{1} << 52) - 1);
  const uint32_t max_exponent = (1u << exponent_bits) - 1;
  const uint32_t infinity = max_exponent << mantissa_bits;
  if (double_exponent == 0x7ff) {
    if (fraction == 0) return static_cast<uint16_t>(sign | infinity);
    return static_cast<uint16_t>(sign | infinity | (1u << (mantissa_bits - 1)));  // quiet NaN
  }
  // Double subnormals (and zero) are far below the smallest FP16/BF16 subnormal: they round to zero.
  if (double_exponent == 0) return static_cast<uint16_t>(sign);

  const int bias = (1 << (exponent_bits - 1)) - 1;
  const int exponent = double_exponent - 1023 + bias;  // the target's biased exponent for a normal result
  if (exponent >= static_cast<int>(max_exponent)) return static_cast<uint16_t>(sign | infinity);

  const uint64_t significand = fraction | (uint64_t{1} << 52);  // 53 bits, value = significand × 2^(e-52)
  int shift = 52 - mantissa_bits;
  if (exponent <= 0) shift += 1 - exponent;  // subnormal result: fewer bits survive
  if (shift > 63) return static_cast<uint16_t>(sign);
  uint64_t rounded = significand >> shift;
  const uint64_t remainder = significand & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  if (remainder > half || (remainder == half && (rounded & 1) != 0)) ++rounded;

  // Normal: (exponent - 1) << m plus the significand with its implicit bit lands the exponent field on
  // `exponent`, and a carry out of the fraction bumps it by one (up to infinity when it overflows).
  // Subnormal: `rounded` is the fraction; a carry into the implicit bit yields the smallest normal.
  uint64_t result = exponent > 0 ? (static_cast<uint64_t>(exponent - 1) << mantissa_bits) + rounded : rounded;
  if (result >= infinity) result = infinity;
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(result));
}

}  // namespace

uint16_t DoubleToHalfBits(double value) { return NarrowDouble(value, 10, 5); }
uint16_t DoubleToBfloat16Bits(double value) { return NarrowDouble(value, 7, 8); }

float HalfBitsToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  uint32_t fraction = half & 0x3ff;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (fraction << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (fraction << 13);
  } else if (fraction == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalize into a float.
    int shift = 0;
    while ((fraction & 0x400) == 0) {
      fraction <<= 1;
      ++shift;
    }
    fraction &= 0x3ff;
    bits = sign | (static_cast<uint32_t>(127 - 15 + 1 - shift) << 23) | (fraction << 13);
  }
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float Bfloat16BitsToFloat(uint16_t bf16) {
  const uint32_t bits = static_cast<uint32_t>(bf16) << 16;
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace serval

#include "api/json/float16.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

namespace serval {
namespace {

TEST(Float16Test, HalfKnownValues) {
  EXPECT_EQ(DoubleToHalfBits(1.0), 0x3c00);
  EXPECT_EQ(DoubleToHalfBits(-2.0), 0xc000);
  EXPECT_EQ(DoubleToHalfBits(0.1), 0x2e66);
  EXPECT_EQ(DoubleToHalfBits(65504.0), 0x7bff);
  EXPECT_EQ(DoubleToHalfBits(65519.99), 0x7bff);
  EXPECT_EQ(DoubleToHalfBits(65520.0), 0x7c00);  // the tie rounds to even: infinity
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1.0, -24)), 0x0001);
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1.0, -25)), 0x0000);  // tie between 0 and the smallest: even
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1.5, -25)), 0x0001);
  EXPECT_EQ(DoubleToHalfBits(std::ldexp(1023.5, -24)), 0x0400);     // subnormal rounds up into the normals
  EXPECT_EQ(DoubleToHalfBits(1.0 + std::ldexp(1.0, -11)), 0x3c00);  // tie: even
  EXPECT_EQ(DoubleToHalfBits(1.0 + 3 * std::ldexp(1.0, -11)), 0x3c02);
  EXPECT_EQ(DoubleToHalfBits(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalfBits(1e-300), 0x0000);
  EXPECT_EQ(DoubleToHalfBits(std::numeric_limits<double>::infinity()), 0x7c00);
  EXPECT_EQ(DoubleToHalfBits(-std::numeric_limits<double>::infinity()), 0xfc00);
  EXPECT_EQ(DoubleToHalfBits(std::numeric_limits<double>::quiet_NaN()) & 0x7e00, 0x7e00);
}

TEST(Float16Test, Bfloat16KnownValues) {
  EXPECT_EQ(DoubleToBfloat16Bits(1.0), 0x3f80);
  EXPECT_EQ(DoubleToBfloat16Bits(1.0 + std::ldexp(1.0, -8)), 0x3f80);  // tie: even
  EXPECT_EQ(DoubleToBfloat16Bits(1.0 + 3 * std::ldexp(1.0, -8)), 0x3f82);
  EXPECT_EQ(DoubleToBfloat16Bits(3.3895313892515355e38), 0x7f7f);
  EXPECT_EQ(DoubleToBfloat16Bits(3.4e38), 0x7f80);
  EXPECT_EQ(DoubleToBfloat16Bits(-1e-45), 0x8000);
  EXPECT_EQ(DoubleToBfloat16Bits(std::ldexp(1.0, -133)), 0x0001);  // smallest subnormal
}

TEST(Float16Test, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = HalfBitsToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(value)) continue;
    ASSERT_EQ(DoubleToHalfBits(value), bits) << std::hex << bits;
  }
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(0x7e00)));
  EXPECT_EQ(HalfBitsToFloat(0x0001), std::ldexp(1.0f, -24));
}

TEST(Float16Test, EveryBfloat16RoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = Bfloat16BitsToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(value)) continue;
    ASSERT_EQ(DoubleToBfloat16Bits(value), bits) << std::hex << bits;
  }
}

}  // namespace
}  // namespace serval

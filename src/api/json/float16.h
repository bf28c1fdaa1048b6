// IEEE binary16 (FP16) and bfloat16 (BF16) conversions for the text codecs. Neither type has a JSON
// spelling, so Serval reads them from JSON numbers (an extension over TF Serving and Triton) and writes
// them as float numbers. Narrowing rounds to nearest, ties to even; NaN stays NaN (quiet), ±inf stays ±inf.
#pragma once

#include <cstdint>

namespace serval {

uint16_t DoubleToHalfBits(double value);
uint16_t DoubleToBfloat16Bits(double value);
float HalfBitsToFloat(uint16_t bits);
float Bfloat16BitsToFloat(uint16_t bits);

}  // namespace serval

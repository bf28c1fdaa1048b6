// Model signatures the decoder fuzzers decode against: every element type, fixed and variable dims, a
// scalar, so that each type's path in the decoders is reachable.
#pragma once

#include "core/inference.h"

namespace serval::fuzz {

inline ModelSignature MixedSignature() {
  ModelSignature s;
  s.inputs = {{"f", DataType::kFp32, {-1, 2}},  {"d", DataType::kFp64, {-1}},  {"h", DataType::kFp16, {-1}},
              {"i", DataType::kInt64, {-1, 3}}, {"u", DataType::kUint8, {-1}}, {"b", DataType::kBool, {-1}},
              {"s", DataType::kString, {-1}},   {"k", DataType::kInt32, {}},   {"g", DataType::kBf16, {2, -1}},
              {"n", DataType::kInt8, {-1}},     {"m", DataType::kUint64, {-1}}};
  s.outputs = {{"y", DataType::kFp32, {-1}}};
  return s;
}

// One FP32 input: the common case, where most of a decoder's row/columnar logic is.
inline ModelSignature OneInputSignature() {
  ModelSignature s;
  s.inputs = {{"x", DataType::kFp32, {-1, 4}}};
  s.outputs = {{"y", DataType::kFp32, {-1, 4}}};
  return s;
}

}  // namespace serval::fuzz

// The tensorflow.DataType enum (tensorflow/core/framework/types.proto) as TF Serving's REST metadata
// ("DT_FLOAT") and gRPC TensorProto.dtype (1) carry it, mapped to Serval's DataType. Shared by the TF
// Serving REST and gRPC codecs. Header-only.
#pragma once

#include <string_view>

#include "core/data_type.h"

namespace serval {

// Wire numbers of the TF types Serval maps (others, such as complex, quantized and resource types, have no
// DataType and are rejected as unsupported).
enum class TfDataType : int {
  kInvalid = 0,
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUint8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kInt64 = 9,
  kBool = 10,
  kBfloat16 = 14,
  kUint16 = 17,
  kHalf = 19,
  kUint32 = 22,
  kUint64 = 23,
};

constexpr TfDataType ToTfDataType(DataType type) {
  switch (type) {
    case DataType::kBool:
      return TfDataType::kBool;
    case DataType::kUint8:
      return TfDataType::kUint8;
    case DataType::kUint16:
      return TfDataType::kUint16;
    case DataType::kUint32:
      return TfDataType::kUint32;
    case DataType::kUint64:
      return TfDataType::kUint64;
    case DataType::kInt8:
      return TfDataType::kInt8;
    case DataType::kInt16:
      return TfDataType::kInt16;
    case DataType::kInt32:
      return TfDataType::kInt32;
    case DataType::kInt64:
      return TfDataType::kInt64;
    case DataType::kFp16:
      return TfDataType::kHalf;
    case DataType::kBf16:
      return TfDataType::kBfloat16;
    case DataType::kFp32:
      return TfDataType::kFloat;
    case DataType::kFp64:
      return TfDataType::kDouble;
    case DataType::kString:
      return TfDataType::kString;
    case DataType::kInvalid:
      break;
  }
  return TfDataType::kInvalid;
}

// kInvalid for 0, unknown numbers, *_REF types (> 100) and TF types Serval does not support.
constexpr DataType FromTfDataType(int tf_type) {
  switch (static_cast<TfDataType>(tf_type)) {
    case TfDataType::kFloat:
      return DataType::kFp32;
    case TfDataType::kDouble:
      return DataType::kFp64;
    case TfDataType::kInt32:
      return DataType::kInt32;
    case TfDataType::kUint8:
      return DataType::kUint8;
    case TfDataType::kInt16:
      return DataType::kInt16;
    case TfDataType::kInt8:
      return DataType::kInt8;
    case TfDataType::kString:
      return DataType::kString;
    case TfDataType::kInt64:
      return DataType::kInt64;
    case TfDataType::kBool:
      return DataType::kBool;
    case TfDataType::kBfloat16:
      return DataType::kBf16;
    case TfDataType::kUint16:
      return DataType::kUint16;
    case TfDataType::kHalf:
      return DataType::kFp16;
    case TfDataType::kUint32:
      return DataType::kUint32;
    case TfDataType::kUint64:
      return DataType::kUint64;
    case TfDataType::kInvalid:
      break;
  }
  return DataType::kInvalid;
}

// "DT_FLOAT", "DT_HALF", ...; "DT_INVALID" for kInvalid.
constexpr std::string_view TfDataTypeName(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "DT_BOOL";
    case DataType::kUint8:
      return "DT_UINT8";
    case DataType::kUint16:
      return "DT_UINT16";
    case DataType::kUint32:
      return "DT_UINT32";
    case DataType::kUint64:
      return "DT_UINT64";
    case DataType::kInt8:
      return "DT_INT8";
    case DataType::kInt16:
      return "DT_INT16";
    case DataType::kInt32:
      return "DT_INT32";
    case DataType::kInt64:
      return "DT_INT64";
    case DataType::kFp16:
      return "DT_HALF";
    case DataType::kBf16:
      return "DT_BFLOAT16";
    case DataType::kFp32:
      return "DT_FLOAT";
    case DataType::kFp64:
      return "DT_DOUBLE";
    case DataType::kString:
      return "DT_STRING";
    case DataType::kInvalid:
      break;
  }
  return "DT_INVALID";
}

}  // namespace serval

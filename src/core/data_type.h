// DataType: the element types Serval moves between protocols and the engine. Every codec maps its own
// type names to these; nothing below the codecs knows a wire name except the KServe names kept here,
// because they are also Serval's canonical spelling in logs and errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace serval {

enum class DataType : uint8_t {
  kInvalid = 0,
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kBf16,
  kFp32,
  kFp64,
  kString,  // variable-length bytes: KServe BYTES, TF DT_STRING, ONNX STRING
};

// Bytes per element; 0 for kString and kInvalid (strings have no fixed size).
size_t ElementSize(DataType type);
// KServe v2 names: BOOL, UINT8, ..., FP16, BF16, FP32, FP64, BYTES. "INVALID" for kInvalid.
std::string_view KServeName(DataType type);
// Inverse of KServeName; kInvalid for an unknown name.
DataType DataTypeFromKServeName(std::string_view name);

}  // namespace serval

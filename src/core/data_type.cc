#include "core/data_type.h"

#include <array>

namespace serval {
namespace {

struct TypeRow {
  DataType type;
  size_t size;
  std::string_view kserve_name;
};

constexpr std::array<TypeRow, 15> kTypes{{
    {DataType::kInvalid, 0, "INVALID"},
    {DataType::kBool, 1, "BOOL"},
    {DataType::kUint8, 1, "UINT8"},
    {DataType::kUint16, 2, "UINT16"},
    {DataType::kUint32, 4, "UINT32"},
    {DataType::kUint64, 8, "UINT64"},
    {DataType::kInt8, 1, "INT8"},
    {DataType::kInt16, 2, "INT16"},
    {DataType::kInt32, 4, "INT32"},
    {DataType::kInt64, 8, "INT64"},
    {DataType::kFp16, 2, "FP16"},
    {DataType::kBf16, 2, "BF16"},
    {DataType::kFp32, 4, "FP32"},
    {DataType::kFp64, 8, "FP64"},
    {DataType::kString, 0, "BYTES"},
}};

const TypeRow& RowFor(DataType type) {
  auto index = static_cast<size_t>(type);
  return index < kTypes.size() ? kTypes[index] : kTypes[0];
}

}  // namespace

size_t ElementSize(DataType type) { return RowFor(type).size; }
std::string_view KServeName(DataType type) { return RowFor(type).kserve_name; }

DataType DataTypeFromKServeName(std::string_view name) {
  for (const TypeRow& row : kTypes) {
    if (row.type != DataType::kInvalid && row.kserve_name == name) return row.type;
  }
  return DataType::kInvalid;
}

}  // namespace serval

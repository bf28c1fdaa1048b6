#include "core/tensor.h"

#include "core/memory_budget.h"

namespace serval {

StatusOr<Tensor> Tensor::Allocate(std::string name, DataType type, Shape shape, size_t max_bytes) {
  StatusOr<int64_t> count = ElementCount(shape, name);
  if (!count.ok()) return count.status();
  StatusOr<size_t> size = ByteSize(*count, type, name);
  if (!size.ok()) return size.status();
  if (*size > max_bytes) {
    return ResourceExhausted("tensor '" + name + "' needs " + std::to_string(*size) + " bytes, over the limit of " +
                             std::to_string(max_bytes));
  }
  // Charged to the request being served (if any) before the buffer exists; released when it ends.
  SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(*size, "tensor '" + name + "'"));
  Tensor tensor;
  // for_overwrite: no zero-fill, the caller writes every byte.
  std::shared_ptr<std::byte[]> buffer = std::make_shared_for_overwrite<std::byte[]>(*size == 0 ? 1 : *size);
  tensor.name_ = std::move(name);
  tensor.dtype_ = type;
  tensor.shape_ = std::move(shape);
  tensor.element_count_ = *count;
  tensor.writable_ = buffer.get();
  tensor.data_ = buffer.get();
  tensor.size_ = *size;
  tensor.owner_ = std::move(buffer);
  return tensor;
}

Tensor Tensor::Borrow(std::string name, DataType type, Shape shape, std::span<const std::byte> bytes,
                      std::shared_ptr<const void> owner) {
  Tensor tensor;
  tensor.name_ = std::move(name);
  tensor.dtype_ = type;
  tensor.element_count_ = static_cast<int64_t>(ElementSize(type) == 0 ? 0 : bytes.size() / ElementSize(type));
  tensor.shape_ = std::move(shape);
  tensor.data_ = bytes.data();
  tensor.size_ = bytes.size();
  tensor.owner_ = std::move(owner);
  return tensor;
}

Tensor Tensor::FromStrings(std::string name, Shape shape, std::vector<std::string> values) {
  Tensor tensor;
  tensor.name_ = std::move(name);
  tensor.dtype_ = DataType::kString;
  tensor.shape_ = std::move(shape);
  tensor.element_count_ = static_cast<int64_t>(values.size());
  tensor.strings_ = std::move(values);
  return tensor;
}

}  // namespace serval

// Tensor: a named, typed, shaped block of elements, the one currency between codecs, scheduler and
// engine. Numeric data is a byte span, little-endian, row-major, no padding, that the tensor either owns
// (Allocate) or borrows from an owner it keeps alive (Borrow: a request body, an engine output buffer).
// Borrowed bytes may be unaligned: read them with memcpy, never through a cast pointer.
// STRING tensors hold one std::string per element instead.
// Copying a Tensor is cheap (it shares the buffer); a tensor is not synchronized: share it read-only.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/data_type.h"
#include "core/shape.h"
#include "core/status.h"

namespace serval {

class Tensor {
 public:
  Tensor() = default;

  // A writable, uninitialized buffer for `shape` × `type`. Fails on a bad shape or size overflow, or when
  // the size exceeds `max_bytes`. REQUIRES: type is a fixed-size type.
  static StatusOr<Tensor> Allocate(std::string name, DataType type, Shape shape,
                                   size_t max_bytes = static_cast<size_t>(1) << 40);
  // Wraps `bytes` without copying; `owner` keeps them alive. REQUIRES: bytes.size() equals the
  // checked ByteSize of `shape` × `type` (the caller verified it before calling).
  static Tensor Borrow(std::string name, DataType type, Shape shape, std::span<const std::byte> bytes,
                       std::shared_ptr<const void> owner);
  // A STRING tensor. REQUIRES: values.size() equals the element count of `shape`.
  static Tensor FromStrings(std::string name, Shape shape, std::vector<std::string> values);

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t element_count() const { return element_count_; }

  // Numeric payload (empty for STRING tensors).
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  // REQUIRES: the tensor came from Allocate (borrowed bytes are read-only).
  std::span<std::byte> mutable_bytes() { return {writable_, writable_ ? size_ : 0}; }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  std::string name_;
  DataType dtype_ = DataType::kInvalid;
  Shape shape_;
  int64_t element_count_ = 0;
  const std::byte* data_ = nullptr;
  std::byte* writable_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<const void> owner_;
  std::vector<std::string> strings_;
};

}  // namespace serval

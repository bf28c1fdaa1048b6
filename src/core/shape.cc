#include "core/shape.h"

#include <limits>

namespace serval {

StatusOr<int64_t> ElementCount(const Shape& shape, std::string_view what) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return InvalidArgument("tensor '" + std::string(what) + "' has a negative dimension in shape " +
                             ShapeToString(shape));
    }
    if (__builtin_mul_overflow(count, dim, &count)) {
      return InvalidArgument("tensor '" + std::string(what) + "' shape " + ShapeToString(shape) +
                             " has an element count that overflows int64");
    }
  }
  return count;
}

StatusOr<size_t> ByteSize(int64_t element_count, DataType type, std::string_view what) {
  size_t element_size = ElementSize(type);
  if (element_size == 0) return InvalidArgument("tensor '" + std::string(what) + "' has no fixed element size");
  if (element_count < 0) return InvalidArgument("tensor '" + std::string(what) + "' has a negative element count");
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(element_count), element_size, &bytes) ||
      bytes > static_cast<size_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("tensor '" + std::string(what) + "' byte size overflows");
  }
  return bytes;
}

std::string ShapeToString(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(shape[i]);
  }
  out += ']';
  return out;
}

bool ShapeMatches(const Shape& pattern, const Shape& shape) {
  if (pattern.size() != shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (pattern[i] != -1 && pattern[i] != shape[i]) return false;
  }
  return true;
}

}  // namespace serval

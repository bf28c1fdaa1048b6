// Shape arithmetic on client-declared dimensions. Every size computed from a request goes through these
// checked functions before anything is allocated (docs/reliability.md §3.2: overflow CVEs in other servers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/data_type.h"
#include "core/status.h"

namespace serval {

// Dimensions of a tensor; in a signature, -1 marks a variable dimension.
using Shape = std::vector<int64_t>;

// Product of the dims. Fails (INVALID_ARGUMENT) on a negative dim or when the product overflows int64.
// `what` names the tensor in the error message.
StatusOr<int64_t> ElementCount(const Shape& shape, std::string_view what);
// element_count × ElementSize(type), checked; fails for kString/kInvalid or on overflow.
StatusOr<size_t> ByteSize(int64_t element_count, DataType type, std::string_view what);
// "[1,2,3]"
std::string ShapeToString(const Shape& shape);
// True when `shape` fits `pattern` (same rank; equal where pattern's dim is not -1).
bool ShapeMatches(const Shape& pattern, const Shape& shape);

}  // namespace serval

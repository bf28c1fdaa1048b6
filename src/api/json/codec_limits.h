// CodecLimits: the bounds every REST decoder enforces on what a client controls, before it allocates
// (docs/reliability.md §5 "Codecs"). The HTTP layer caps the body size; these cap what a body may ask for.
#pragma once

#include <cstddef>

namespace serval {

struct CodecLimits {
  // Decoded bytes of one tensor (numeric payload, or the sum of a STRING tensor's element sizes plus
  // per-element overhead). Over it: RESOURCE_EXHAUSTED.
  size_t max_tensor_bytes = static_cast<size_t>(1) << 31;
  size_t max_inputs = 1024;      // named inputs in one request
  size_t max_outputs = 1024;     // requested outputs in one request
  size_t max_name_bytes = 1024;  // an input/output name, a signature name, a request id
  size_t max_rank = 64;          // dimensions of a declared shape
};

}  // namespace serval

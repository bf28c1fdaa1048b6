// The workload of one serval-bench run: input tensors built once from the model's signature (fixed seed),
// and the reference outputs of the same inputs computed in process with the same ONNX Runtime. Every
// target checks sampled responses against these references, so a server that answers fast but wrong
// fails the run.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/inference.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval::bench {

struct WorkloadOptions {
  int64_t batch = 1;        // replaces a variable first dimension
  int64_t dynamic_dim = 1;  // replaces any other variable dimension
  int64_t int_range = 2;    // integer inputs take values in [0, int_range) (token ids, masks, type ids)
  // Per-input integer ranges [first, second) that override int_range (e.g. attention_mask -> [1, 2)).
  std::map<std::string, std::pair<int64_t, int64_t>> int_ranges;
  uint64_t seed = 1;
  int64_t max_input_bytes = int64_t{1} << 30;  // hostile-signature guard
};

// Inputs in signature order, each Allocate'd and filled deterministically from `seed`: floats uniform in
// [0, 1), integers in [0, int_range), bools alternate. FAILED_PRECONDITION for STRING or other types the
// bench does not generate; INVALID_ARGUMENT when the sizes overflow or exceed max_input_bytes.
StatusOr<std::vector<Tensor>> MakeInputs(const ModelSignature& signature, const WorkloadOptions& options);

// Parses "name=lo:hi,name=lo:hi" into WorkloadOptions::int_ranges. INVALID_ARGUMENT unless lo < hi.
StatusOr<std::map<std::string, std::pair<int64_t, int64_t>>> ParseIntRanges(const std::string& text);

// Element values as doubles, for comparison. Supports BOOL, (U)INT8..64, FP16 is not supported
// (FAILED_PRECONDITION), FP32, FP64. `bytes` may be unaligned. INVALID_ARGUMENT when the size is not a
// multiple of the element size.
StatusOr<std::vector<double>> ToDoubles(DataType type, std::span<const std::byte> bytes);

// A reference output the responses are checked against.
struct ExpectedOutput {
  std::string name;
  DataType dtype = DataType::kInvalid;
  Shape shape;
  std::vector<double> values;
};

// OK when `got` has the same length as `expected.values` and each value is within
// 1e-4 + 1e-3 × |expected| (JSON text round-trips floats exactly, but a server may run different kernels).
// INTERNAL ("wrong answer ...") otherwise, naming the first differing index.
Status CheckValues(const ExpectedOutput& expected, std::span<const double> got);

}  // namespace serval::bench

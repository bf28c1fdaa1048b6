// Internal to src/batching: merging requests into one batch input along dim 0, and splitting batch outputs
// back into each request's rows. Pure functions over the queued tasks; no locks, no threads.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "batching/batch_queue.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval::batching {

// pad_variable_length_inputs can make a batch much bigger than its requests (one long in one dim, one in
// another): padding is allowed up to kPaddingBudgetFactor x the real elements (or kMinPaddingBudget
// elements); past that the requests run one by one instead.
inline constexpr int64_t kMinPaddingBudget = int64_t{256} * 1024;
inline constexpr int64_t kPaddingBudgetFactor = 4;

// Input `index` (signature order) of every task, merged along dim 0 into `padded_rows` rows; rows past
// the real ones repeat the last real row (valid data: zeros could make some models divide by zero).
StatusOr<Tensor> MergeInput(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, int64_t padded_rows);

// The largest size of each non-leading dim of input `index` over `tasks`; `*ragged` when they differ.
Shape InnerMax(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, bool* ragged);

// False when padding `tasks` to `padded_rows` rows and their largest inner dims exceeds the budget above.
bool PaddingWithinBudget(const std::vector<std::shared_ptr<Task>>& tasks, int64_t padded_rows);

// Input `index` of every task in a [padded_rows, inner_max...] tensor, each request's values at the
// start of every dim and zeros (empty strings) elsewhere, as TF Serving's pad_variable_length_inputs.
StatusOr<Tensor> MergeRaggedInput(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, int64_t padded_rows,
                                  const Shape& inner_max);

// Rows [row, row + rows) of `output`: a tensor that borrows them and keeps `owner` (the whole batch
// output) alive; STRING outputs are copied.
Tensor SliceRows(const Tensor& output, const std::shared_ptr<const Tensor>& owner, int64_t row, int64_t rows);

}  // namespace serval::batching

#include "batching/batch_merge.h"

#include <algorithm>
#include <cstring>

namespace serval::batching {

// Input `index` (signature order) of every task, merged along dim 0 into `padded_rows` rows; rows past
// the real ones repeat the last real row (valid data: zeros could make some models divide by zero).
StatusOr<Tensor> MergeInput(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, int64_t padded_rows) {
  const Tensor& first = (*tasks.front()->inputs)[index];
  Shape shape = first.shape();
  shape[0] = padded_rows;
  if (first.dtype() == DataType::kString) {
    std::vector<std::string> values;
    for (const std::shared_ptr<Task>& task : tasks) {
      const std::vector<std::string>& strings = (*task->inputs)[index].strings();
      values.insert(values.end(), strings.begin(), strings.end());
    }
    const Task& last = *tasks.back();
    const std::vector<std::string>& last_strings = (*last.inputs)[index].strings();
    const size_t row_elements = last_strings.size() / static_cast<size_t>(last.rows);
    int64_t real_rows = 0;
    for (const std::shared_ptr<Task>& task : tasks) real_rows += task->rows;
    for (int64_t row = real_rows; row < padded_rows; ++row) {
      values.insert(values.end(), last_strings.end() - static_cast<std::ptrdiff_t>(row_elements), last_strings.end());
    }
    return Tensor::FromStrings(first.name(), std::move(shape), std::move(values));
  }
  StatusOr<Tensor> merged = Tensor::Allocate(first.name(), first.dtype(), shape);
  if (!merged.ok()) return merged.status();
  std::span<std::byte> out = merged->mutable_bytes();
  size_t offset = 0;
  for (const std::shared_ptr<Task>& task : tasks) {
    std::span<const std::byte> bytes = (*task->inputs)[index].bytes();
    if (offset + bytes.size() > out.size()) return Internal("batch input '" + first.name() + "' overflows");
    if (!bytes.empty()) std::memcpy(out.data() + offset, bytes.data(), bytes.size());
    offset += bytes.size();
  }
  const Task& last = *tasks.back();
  std::span<const std::byte> last_bytes = (*last.inputs)[index].bytes();
  const size_t row_bytes = last_bytes.size() / static_cast<size_t>(last.rows);
  if (row_bytes > 0) {
    while (offset + row_bytes <= out.size()) {
      std::memcpy(out.data() + offset, last_bytes.data() + last_bytes.size() - row_bytes, row_bytes);
      offset += row_bytes;
    }
  }
  if (offset != out.size()) return Internal("batch input '" + first.name() + "' has an unexpected size");
  return merged;
}

// The largest size of each non-leading dim of input `index` over `tasks`; `*ragged` when they differ.
Shape InnerMax(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, bool* ragged) {
  Shape max((*tasks.front()->inputs)[index].shape().begin() + 1, (*tasks.front()->inputs)[index].shape().end());
  for (const std::shared_ptr<Task>& task : tasks) {
    const Shape& shape = (*task->inputs)[index].shape();
    for (size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] != max[d - 1]) *ragged = true;
      max[d - 1] = std::max(max[d - 1], shape[d]);
    }
  }
  return max;
}

bool PaddingWithinBudget(const std::vector<std::shared_ptr<Task>>& tasks, int64_t padded_rows) {
  const size_t input_count = tasks.front()->inputs->size();
  for (size_t i = 0; i < input_count; ++i) {
    bool ragged = false;
    Shape shape = InnerMax(tasks, i, &ragged);
    if (!ragged) continue;
    shape.insert(shape.begin(), padded_rows);
    StatusOr<int64_t> padded = ElementCount(shape, "batch");
    if (!padded.ok()) return false;
    int64_t real = 0;
    for (const std::shared_ptr<Task>& task : tasks) real += (*task->inputs)[i].element_count();
    if (*padded > std::max(kMinPaddingBudget, kPaddingBudgetFactor * real)) return false;
  }
  return true;
}

// Input `index` of every task in a [padded_rows, inner_max...] tensor, each request's values at the
// start of every dim and zeros (empty strings) elsewhere, as TF Serving's pad_variable_length_inputs.
StatusOr<Tensor> MergeRaggedInput(const std::vector<std::shared_ptr<Task>>& tasks, size_t index, int64_t padded_rows,
                                  const Shape& inner_max) {
  const Tensor& first = (*tasks.front()->inputs)[index];
  Shape shape = inner_max;
  shape.insert(shape.begin(), padded_rows);
  StatusOr<int64_t> count = ElementCount(shape, first.name());
  if (!count.ok()) return count.status();
  const bool strings = first.dtype() == DataType::kString;
  std::vector<std::string> string_values;
  Tensor merged;
  size_t element_size = 0;
  if (strings) {
    string_values.resize(static_cast<size_t>(*count));
  } else {
    StatusOr<Tensor> allocated = Tensor::Allocate(first.name(), first.dtype(), shape);
    if (!allocated.ok()) return allocated.status();
    merged = std::move(allocated).value();
    std::memset(merged.mutable_bytes().data(), 0, merged.mutable_bytes().size());
    element_size = ElementSize(first.dtype());
  }
  // Strides of the merged tensor, in elements.
  std::vector<int64_t> stride(shape.size(), 1);
  for (size_t d = shape.size() - 1; d > 0; --d) stride[d - 1] = stride[d] * shape[d];
  int64_t row_offset = 0;
  for (const std::shared_ptr<Task>& task : tasks) {
    const Tensor& tensor = (*task->inputs)[index];
    const Shape& source = tensor.shape();
    const int64_t run = source.back();  // the innermost dim is copied as one run
    int64_t runs = 1;
    for (size_t d = 0; d + 1 < source.size(); ++d) runs *= source[d];
    for (int64_t r = 0; r < runs; ++r) {
      // r as an index over source[0 .. rank-2], mapped to the merged tensor's element offset.
      int64_t rest = r;
      int64_t target = 0;
      for (size_t d = source.size() - 1; d > 0; --d) {
        const int64_t idx = rest % source[d - 1];
        rest /= source[d - 1];
        target += (d - 1 == 0 ? idx + row_offset : idx) * stride[d - 1];
      }
      const int64_t from = r * run;
      if (strings) {
        for (int64_t e = 0; e < run; ++e) {
          string_values[static_cast<size_t>(target + e)] = tensor.strings()[static_cast<size_t>(from + e)];
        }
      } else if (run > 0) {
        std::memcpy(merged.mutable_bytes().data() + static_cast<size_t>(target) * element_size,
                    tensor.bytes().data() + static_cast<size_t>(from) * element_size,
                    static_cast<size_t>(run) * element_size);
      }
    }
    row_offset += task->rows;
  }
  if (strings) return Tensor::FromStrings(first.name(), std::move(shape), std::move(string_values));
  return merged;
}

// Rows [row, row + rows) of `output`: a tensor that borrows them and keeps `owner` (the whole batch
// output) alive; STRING outputs are copied.
Tensor SliceRows(const Tensor& output, const std::shared_ptr<const Tensor>& owner, int64_t row, int64_t rows) {
  Shape shape = output.shape();
  const int64_t total_rows = shape[0];
  shape[0] = rows;
  if (output.dtype() == DataType::kString) {
    const size_t row_elements = output.strings().size() / static_cast<size_t>(total_rows);
    auto begin = output.strings().begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(row) * row_elements);
    std::vector<std::string> values(begin,
                                    begin + static_cast<std::ptrdiff_t>(static_cast<size_t>(rows) * row_elements));
    return Tensor::FromStrings(output.name(), std::move(shape), std::move(values));
  }
  const size_t row_bytes = output.bytes().size() / static_cast<size_t>(total_rows);
  std::span<const std::byte> bytes =
      output.bytes().subspan(static_cast<size_t>(row) * row_bytes, static_cast<size_t>(rows) * row_bytes);
  return Tensor::Borrow(output.name(), output.dtype(), std::move(shape), bytes, owner);
}

}  // namespace serval::batching

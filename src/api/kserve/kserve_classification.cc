#include "api/kserve/kserve_classification.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "api/json/float16.h"

namespace serval {
namespace {

template <typename T>
T Load(const std::byte* data, size_t index) {
  T value;
  std::memcpy(&value, data + index * sizeof(T), sizeof(T));
  return value;
}

// Element `index` as a double (for ordering) and as Triton writes the score (std::to_string of the value in its
// own type; half and bfloat16 as float).
struct Score {
  double order = 0;
  std::string text;
};

Score ScoreAt(DataType type, const std::byte* data, size_t index) {
  auto num = [](auto value) { return Score{static_cast<double>(value), std::to_string(value)}; };
  switch (type) {
    case DataType::kBool:
      return num(static_cast<int>(Load<uint8_t>(data, index) != 0));
    case DataType::kUint8:
      return num(static_cast<unsigned>(Load<uint8_t>(data, index)));
    case DataType::kUint16:
      return num(static_cast<unsigned>(Load<uint16_t>(data, index)));
    case DataType::kUint32:
      return num(Load<uint32_t>(data, index));
    case DataType::kUint64:
      return num(Load<uint64_t>(data, index));
    case DataType::kInt8:
      return num(static_cast<int>(Load<int8_t>(data, index)));
    case DataType::kInt16:
      return num(static_cast<int>(Load<int16_t>(data, index)));
    case DataType::kInt32:
      return num(Load<int32_t>(data, index));
    case DataType::kInt64:
      return num(Load<int64_t>(data, index));
    case DataType::kFp16:
      return num(HalfBitsToFloat(Load<uint16_t>(data, index)));
    case DataType::kBf16:
      return num(Bfloat16BitsToFloat(Load<uint16_t>(data, index)));
    case DataType::kFp32:
      return num(Load<float>(data, index));
    case DataType::kFp64:
      return num(Load<double>(data, index));
    case DataType::kString:
    case DataType::kInvalid:
      break;
  }
  return {};
}

}  // namespace

StatusOr<Tensor> ClassifyTopN(const Tensor& output, int count, bool batched, const std::vector<std::string>* labels) {
  if (count < 1) return InvalidArgument("classification count must be positive for output '" + output.name() + "'");
  if (output.dtype() == DataType::kString || output.dtype() == DataType::kInvalid) {
    // Triton's text (classification.cc).
    return InvalidArgument("class result not available for output due to unsupported type '" +
                           std::string(KServeName(output.dtype())) + "'");
  }
  int64_t rows = 1;
  if (batched) {
    if (output.shape().empty()) return InvalidArgument("output '" + output.name() + "' has no batch dimension");
    rows = output.shape()[0];
  }
  const int64_t total = output.element_count();
  const int64_t classes = rows == 0 ? 0 : total / rows;
  const int64_t n = std::min<int64_t>(count, classes);
  std::vector<std::string> values;
  values.reserve(static_cast<size_t>(rows * n));
  const std::byte* data = output.bytes().data();
  std::vector<int64_t> order(static_cast<size_t>(classes));
  std::vector<Score> scores(static_cast<size_t>(classes));
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t c = 0; c < classes; ++c)
      scores[static_cast<size_t>(c)] = ScoreAt(output.dtype(), data, static_cast<size_t>(row * classes + c));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&scores](int64_t a, int64_t b) {
      return scores[static_cast<size_t>(a)].order > scores[static_cast<size_t>(b)].order;
    });
    for (int64_t k = 0; k < n; ++k) {
      const int64_t index = order[static_cast<size_t>(k)];
      std::string text = scores[static_cast<size_t>(index)].text + ":" + std::to_string(index);
      if (labels != nullptr && index < static_cast<int64_t>(labels->size()))
        text += ":" + (*labels)[static_cast<size_t>(index)];
      values.push_back(std::move(text));
    }
  }
  Shape shape = batched ? Shape{rows, n} : Shape{n};
  return Tensor::FromStrings(output.name(), std::move(shape), std::move(values));
}

Status ClassifyOutputs(const std::vector<KServeClassification>& requests, bool batched,
                       const std::map<std::string, std::vector<std::string>>* labels, InferenceResponse* response) {
  for (const KServeClassification& request : requests) {
    for (Tensor& output : response->outputs) {
      if (output.name() != request.output) continue;
      const std::vector<std::string>* output_labels = nullptr;
      if (labels != nullptr) {
        auto it = labels->find(request.output);
        if (it != labels->end()) output_labels = &it->second;
      }
      const int count = static_cast<int>(std::min<int64_t>(request.count, std::numeric_limits<int>::max()));
      // Triton treats a batching model's rank-0 output as one row, as below.
      SERVAL_ASSIGN_OR_RETURN(output, ClassifyTopN(output, count, batched && !output.shape().empty(), output_labels));
    }
  }
  return Status::Ok();
}

}  // namespace serval

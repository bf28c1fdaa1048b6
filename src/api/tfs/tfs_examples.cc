#include "api/tfs/tfs_examples.h"
#include "core/client_message.h"

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#include "api/json/base64.h"
#include "api/json/float16.h"
#include "api/json/json_number.h"
#include "api/json/json_reader.h"
#include "api/json/json_writer.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

std::string_view KindName(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kFloat:
      return "float_list";
    case FeatureKind::kInt64:
      return "int64_list";
    case FeatureKind::kBytes:
      return "bytes_list";
  }
  return "?";
}

std::string SpecText(const TensorSpec& spec) {
  return std::string(KServeName(spec.dtype)) + " " + ShapeToString(spec.shape);
}

std::string DescribeOutputs(const ModelSignature& signature) {
  std::string text;
  for (const TensorSpec& spec : signature.outputs) {
    if (!text.empty()) text += ", ";
    text += QuotedName(spec.name) + " " + SpecText(spec);
  }
  return text.empty() ? "none" : text;
}

// Whether an output declared as `spec` can have shape [batch] or [batch, 1] (Regress).
bool CouldBeRegression(const TensorSpec& spec) {
  return spec.shape.size() == 1 || (spec.shape.size() == 2 && (spec.shape[1] == 1 || spec.shape[1] < 0));
}

bool IsFloatType(DataType type) {
  return type == DataType::kFp32 || type == DataType::kFp64 || type == DataType::kFp16 || type == DataType::kBf16;
}

// Which feature kinds can feed an input of `type`.
bool KindFeeds(FeatureKind kind, DataType type) {
  if (type == DataType::kString) return kind == FeatureKind::kBytes;
  if (IsFloatType(type)) return kind == FeatureKind::kFloat || kind == FeatureKind::kInt64;
  return kind == FeatureKind::kInt64;  // integers and BOOL
}

std::string_view KindsFor(DataType type) {
  if (type == DataType::kString) return "a bytes_list";
  if (IsFloatType(type)) return "a float_list (or an int64_list)";
  return "an int64_list";
}

const Tensor* FindTensor(const InferenceResponse& response, std::string_view name) {
  for (const Tensor& tensor : response.outputs) {
    if (tensor.name() == name) return &tensor;
  }
  return nullptr;
}

// Where a value came from, for error messages (built only when one is needed).
struct ValueSource {
  std::string_view feature;
  size_t example = 0;
  std::string Text() const { return "feature " + QuotedName(feature) + " of example " + std::to_string(example); }
};

// Writes `values` as `type` elements at `out`.
template <typename T>
Status StoreIntegers(std::span<const int64_t> values, DataType type, std::byte* out, const ValueSource& where) {
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t value = values[i];
    if (!std::in_range<T>(value)) {
      return InvalidArgument(where.Text() + ": value " + std::to_string(value) + " is out of range for " +
                             std::string(KServeName(type)));
    }
    const T narrowed = static_cast<T>(value);
    std::memcpy(out + i * sizeof(T), &narrowed, sizeof(T));
  }
  return Status::Ok();
}

template <typename Source>
Status StoreFloats(std::span<const Source> values, DataType type, std::byte* out, const ValueSource& where) {
  for (size_t i = 0; i < values.size(); ++i) {
    const Source value = values[i];
    switch (type) {
      case DataType::kFp32: {
        const float v = static_cast<float>(value);
        std::memcpy(out + i * 4, &v, 4);
        break;
      }
      case DataType::kFp64: {
        const double v = static_cast<double>(value);
        std::memcpy(out + i * 8, &v, 8);
        break;
      }
      case DataType::kFp16:
      case DataType::kBf16: {
        const double wide = static_cast<double>(value);
        const bool half = type == DataType::kFp16;
        const uint16_t bits = half ? DoubleToHalfBits(wide) : DoubleToBfloat16Bits(wide);
        if ((bits & 0x7fff) == (half ? 0x7c00 : 0x7f80) && std::isfinite(wide)) {
          return InvalidArgument(where.Text() + ": value " + std::to_string(wide) + " is out of range for " +
                                 std::string(KServeName(type)));
        }
        std::memcpy(out + i * 2, &bits, 2);
        break;
      }
      default:
        return Internal("StoreFloats: not a float type");
    }
  }
  return Status::Ok();
}

Status StoreValues(const FeatureValues& values, DataType type, std::byte* out, const ValueSource& where) {
  if (values.kind == FeatureKind::kFloat) return StoreFloats<float>(values.floats, type, out, where);
  if (IsFloatType(type)) return StoreFloats<int64_t>(values.int64s, type, out, where);
  switch (type) {
    case DataType::kBool:
      for (size_t i = 0; i < values.int64s.size(); ++i) {
        const int64_t v = values.int64s[i];
        if (v != 0 && v != 1) return InvalidArgument(where.Text() + ": BOOL takes 0 or 1, not " + std::to_string(v));
        out[i] = static_cast<std::byte>(v);
      }
      return Status::Ok();
    case DataType::kInt8:
      return StoreIntegers<int8_t>(values.int64s, type, out, where);
    case DataType::kInt16:
      return StoreIntegers<int16_t>(values.int64s, type, out, where);
    case DataType::kInt32:
      return StoreIntegers<int32_t>(values.int64s, type, out, where);
    case DataType::kInt64:
      return StoreIntegers<int64_t>(values.int64s, type, out, where);
    case DataType::kUint8:
      return StoreIntegers<uint8_t>(values.int64s, type, out, where);
    case DataType::kUint16:
      return StoreIntegers<uint16_t>(values.int64s, type, out, where);
    case DataType::kUint32:
      return StoreIntegers<uint32_t>(values.int64s, type, out, where);
    case DataType::kUint64:
      return StoreIntegers<uint64_t>(values.int64s, type, out, where);
    default:
      return Internal("StoreValues: unexpected type " + std::string(KServeName(type)));
  }
}

std::string ExampleWhere(std::string_view feature, size_t example) { return ValueSource{feature, example}.Text(); }

StatusOr<Tensor> FillInput(const TensorSpec& spec, const ExampleBatch& batch, const CodecLimits& limits,
                           std::vector<const FeatureValues*>& found) {
  const size_t count = batch.examples.size();
  if (spec.shape.empty()) {
    return FailedPrecondition("model input " + QuotedName(spec.name) + " (" + SpecText(spec) +
                              ") is a scalar: tf.Example input needs a batch dimension on every model input");
  }
  int64_t fixed = 1;  // product of the fixed non-batch dims
  size_t variable_at = 0;
  int variable = 0;
  for (size_t i = 1; i < spec.shape.size(); ++i) {
    if (spec.shape[i] < 0) {
      ++variable;
      variable_at = i;
    } else if (__builtin_mul_overflow(fixed, spec.shape[i], &fixed)) {
      return FailedPrecondition("model input " + QuotedName(spec.name) + " has too many elements per example");
    }
  }
  if (variable > 1) {
    return FailedPrecondition("model input " + QuotedName(spec.name) + " (" + SpecText(spec) +
                              ") has more than one variable dimension after the batch dimension: tf.Example "
                              "input can infer only one of them from the number of values");
  }
  if (spec.shape[0] >= 0 && static_cast<uint64_t>(spec.shape[0]) != count) {
    return InvalidArgument("model input " + QuotedName(spec.name) + " (" + SpecText(spec) + ") takes exactly " +
                           std::to_string(spec.shape[0]) + " example(s) per request, not " + std::to_string(count));
  }

  for (size_t e = 0; e < count; ++e) {
    const FeatureMap& features = batch.examples[e];
    auto it = features.find(spec.name);
    if (it == features.end()) {
      it = batch.context.find(spec.name);
      if (it == batch.context.end()) {
        return InvalidArgument("example " + std::to_string(e) + " has no feature " + QuotedName(spec.name) +
                               " (nor has the context): the model input " + QuotedName(spec.name) + " (" +
                               SpecText(spec) + ") is filled from the feature of the same name");
      }
    }
    const FeatureValues& values = it->second;
    if (values.size() != 0 && !KindFeeds(values.kind, spec.dtype)) {
      return InvalidArgument(ExampleWhere(spec.name, e) + " is a " + std::string(KindName(values.kind)) +
                             ", but the model input " + QuotedName(spec.name) + " is " +
                             std::string(KServeName(spec.dtype)) + ": send " + std::string(KindsFor(spec.dtype)));
    }
    if (e > 0 && values.size() != found[0]->size()) {
      return InvalidArgument(ExampleWhere(spec.name, e) + " has " + std::to_string(values.size()) +
                             " value(s) but example 0 has " + std::to_string(found[0]->size()) +
                             ": every example must give the same number");
    }
    found[e] = &values;
  }

  const int64_t per_example = static_cast<int64_t>(found[0]->size());
  Shape shape = spec.shape;
  shape[0] = static_cast<int64_t>(count);
  if (variable == 0) {
    if (per_example != fixed) {
      return InvalidArgument("feature " + QuotedName(spec.name) + " has " + std::to_string(per_example) +
                             " value(s) per example, but the model input " + QuotedName(spec.name) + " (" +
                             SpecText(spec) + ") needs " + std::to_string(fixed) +
                             " (the product of its dimensions after the batch dimension)");
    }
  } else {
    if (fixed == 0) {
      return FailedPrecondition("model input " + QuotedName(spec.name) + " (" + SpecText(spec) +
                                ") has a zero dimension: its variable dimension cannot be inferred");
    }
    if (per_example % fixed != 0) {
      return InvalidArgument("feature " + QuotedName(spec.name) + " has " + std::to_string(per_example) +
                             " value(s) per example, which is not a multiple of " + std::to_string(fixed) +
                             " as the model input " + QuotedName(spec.name) + " (" + SpecText(spec) + ") needs");
    }
    shape[variable_at] = per_example / fixed;
  }
  SERVAL_ASSIGN_OR_RETURN(int64_t elements, ElementCount(shape, spec.name));

  if (spec.dtype == DataType::kString) {
    // Bytes as strings will hold (each element also costs a std::string), summed before copying.
    size_t bytes = 0;
    for (size_t e = 0; e < count; ++e) {
      for (std::string_view value : found[e]->bytes) bytes += value.size() + sizeof(std::string);
      if (bytes > limits.max_tensor_bytes) {
        return ResourceExhausted("model input " + QuotedName(spec.name) + " from the examples exceeds the limit of " +
                                 std::to_string(limits.max_tensor_bytes) + " bytes per tensor");
      }
    }
    SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(bytes + static_cast<size_t>(elements) * kMallocOverhead,
                                               "model input " + QuotedName(spec.name) + " from the examples"));
    std::vector<std::string> strings;
    strings.reserve(static_cast<size_t>(elements));
    for (size_t e = 0; e < count; ++e) {
      for (std::string_view value : found[e]->bytes) strings.emplace_back(value);
    }
    return Tensor::FromStrings(spec.name, std::move(shape), std::move(strings));
  }

  StatusOr<Tensor> tensor = Tensor::Allocate(spec.name, spec.dtype, std::move(shape), limits.max_tensor_bytes);
  if (!tensor.ok()) {
    if (tensor.status().code() == StatusCode::kResourceExhausted && !tensor.status().server_busy()) {
      return ResourceExhausted("model input " + QuotedName(spec.name) + " from the examples exceeds the limit of " +
                               std::to_string(limits.max_tensor_bytes) + " bytes per tensor");
    }
    return tensor.status();
  }
  std::byte* out = tensor->mutable_bytes().data();
  const size_t stride = static_cast<size_t>(per_example) * ElementSize(spec.dtype);
  for (size_t e = 0; e < count; ++e) {
    if (per_example == 0) break;
    SERVAL_RETURN_IF_ERROR(StoreValues(*found[e], spec.dtype, out + e * stride, ValueSource{spec.name, e}));
  }
  return tensor;
}

}  // namespace

std::vector<std::string> ClassifyPlan::Outputs() const {
  std::vector<std::string> names;
  if (!scores.empty()) names.push_back(scores);
  if (!classes.empty()) names.push_back(classes);
  return names;
}

StatusOr<ClassifyPlan> PlanClassify(const ModelSignature& signature) {
  ClassifyPlan plan;
  const TensorSpec* scores = signature.FindOutput("scores");
  if (scores == nullptr) scores = signature.FindOutput("probabilities");
  if (scores != nullptr) {
    if (scores->dtype != DataType::kFp32 || scores->shape.size() != 2) {
      return FailedPrecondition(
          "Classify reads class scores from a FP32 output of shape [batch, num_classes], "
          "but the model's output " +
          QuotedName(scores->name) + " is " + SpecText(*scores));
    }
    plan.scores = scores->name;
  }
  if (const TensorSpec* classes = signature.FindOutput("classes")) {
    if (classes->dtype != DataType::kString || classes->shape.size() != 2) {
      return FailedPrecondition(
          "Classify reads class labels from a STRING output of shape [batch, num_classes], but "
          "the model's output 'classes' is " +
          SpecText(*classes));
    }
    plan.classes = classes->name;
  }
  if (plan.scores.empty() && plan.classes.empty()) {
    return FailedPrecondition(
        "the model cannot serve Classify: it needs a FP32 output named 'scores' (or 'probabilities') of shape "
        "[batch, num_classes] and/or a STRING output named 'classes' of the same shape; the model's outputs are " +
        DescribeOutputs(signature));
  }
  return plan;
}

StatusOr<std::string> PlanRegress(const ModelSignature& signature) {
  if (const TensorSpec* outputs = signature.FindOutput("outputs")) {
    if (outputs->dtype != DataType::kFp32 || !CouldBeRegression(*outputs)) {
      return FailedPrecondition(
          "Regress reads a FP32 output of shape [batch] or [batch, 1], but the model's output "
          "'outputs' is " +
          SpecText(*outputs));
    }
    return outputs->name;
  }
  const TensorSpec* only = nullptr;
  int fp32_outputs = 0;
  for (const TensorSpec& spec : signature.outputs) {
    if (spec.dtype == DataType::kFp32) {
      ++fp32_outputs;
      only = &spec;
    }
  }
  if (fp32_outputs == 1 && CouldBeRegression(*only)) return only->name;
  return FailedPrecondition(
      "the model cannot serve Regress: it needs a FP32 output named 'outputs' of shape [batch] or [batch, 1] "
      "(or a single FP32 output of that shape); the model's outputs are " +
      DescribeOutputs(signature));
}

StatusOr<std::vector<Tensor>> ExamplesToInputs(const ModelSignature& signature, const ExampleBatch& batch,
                                               const CodecLimits& limits) {
  if (batch.examples.empty()) return InvalidArgument("Input is empty: the request has no examples");
  std::vector<Tensor> inputs;
  inputs.reserve(signature.inputs.size());
  std::vector<const FeatureValues*> found(batch.examples.size(), nullptr);
  for (const TensorSpec& spec : signature.inputs) {
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, FillInput(spec, batch, limits, found));
    inputs.push_back(std::move(tensor));
  }
  return inputs;
}

StatusOr<ClassificationRows> ReadClassifications(const InferenceResponse& response, const ClassifyPlan& plan,
                                                 int64_t batch) {
  const Tensor* scores = nullptr;
  const Tensor* classes = nullptr;
  int64_t classes_per_example = -1;
  auto check = [&](const std::string& name, DataType type, const Tensor** out) -> Status {
    if (name.empty()) return Status::Ok();
    const Tensor* tensor = FindTensor(response, name);
    if (tensor == nullptr) return Internal("the model returned no output " + QuotedName(name));
    if (tensor->dtype() != type) {
      return Internal("output " + QuotedName(name) + " is " + std::string(KServeName(tensor->dtype())));
    }
    const Shape& shape = tensor->shape();
    if (shape.size() != 2 || shape[0] != batch) {
      return InvalidArgument("Classify expects output " + QuotedName(name) +
                             " of shape [batch_size, num_classes] with "
                             "batch_size " +
                             std::to_string(batch) + ", got " + ShapeToString(shape));
    }
    if (classes_per_example >= 0 && shape[1] != classes_per_example) {
      return InvalidArgument("outputs 'scores' and 'classes' disagree on the number of classes: " +
                             std::to_string(classes_per_example) + " vs " + std::to_string(shape[1]));
    }
    classes_per_example = shape[1];
    *out = tensor;
    return Status::Ok();
  };
  SERVAL_RETURN_IF_ERROR(check(plan.scores, DataType::kFp32, &scores));
  SERVAL_RETURN_IF_ERROR(check(plan.classes, DataType::kString, &classes));
  const size_t k = static_cast<size_t>(classes_per_example < 0 ? 0 : classes_per_example);
  const size_t rows_count = static_cast<size_t>(batch);
  if ((scores != nullptr && scores->bytes().size() != rows_count * k * sizeof(float)) ||
      (classes != nullptr && classes->strings().size() != rows_count * k)) {
    return Internal("Classify: an output's payload does not match its shape");
  }
  ClassificationRows rows(rows_count, std::vector<ClassScore>(k));
  for (size_t e = 0; e < rows_count; ++e) {
    for (size_t c = 0; c < k; ++c) {
      ClassScore& entry = rows[e][c];
      if (scores != nullptr)
        std::memcpy(&entry.score, scores->bytes().data() + (e * k + c) * sizeof(float), sizeof(float));
      if (classes != nullptr) entry.label = classes->strings()[e * k + c];
    }
  }
  return rows;
}

StatusOr<std::vector<float>> ReadRegressions(const InferenceResponse& response, std::string_view output,
                                             int64_t batch) {
  const Tensor* tensor = FindTensor(response, output);
  if (tensor == nullptr) return Internal("the model returned no output " + QuotedName(output));
  if (tensor->dtype() != DataType::kFp32) {
    return Internal("output " + QuotedName(output) + " is " + std::string(KServeName(tensor->dtype())));
  }
  const Shape& shape = tensor->shape();
  const bool fits =
      (shape.size() == 1 && shape[0] == batch) || (shape.size() == 2 && shape[0] == batch && shape[1] == 1);
  if (!fits) {
    return InvalidArgument("Regress expects output " + QuotedName(output) +
                           " of shape [batch_size] or [batch_size, 1] "
                           "with batch_size " +
                           std::to_string(batch) + ", got " + ShapeToString(shape));
  }
  std::vector<float> values(static_cast<size_t>(batch));
  if (tensor->bytes().size() != values.size() * sizeof(float)) {
    return Internal("Regress: the output's payload does not match its shape");
  }
  if (!values.empty()) std::memcpy(values.data(), tensor->bytes().data(), values.size() * sizeof(float));
  return values;
}

}  // namespace serval

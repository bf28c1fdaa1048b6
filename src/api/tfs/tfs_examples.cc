#include "api/tfs/tfs_examples.h"

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

constexpr size_t kMaxNameInError = 256;

// 'name', cut short for error messages (names come from clients).
std::string Quoted(std::string_view name) {
  if (name.size() > kMaxNameInError) return "'" + std::string(name.substr(0, kMaxNameInError)) + "...'";
  return "'" + std::string(name) + "'";
}

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
    text += Quoted(spec.name) + " " + SpecText(spec);
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
  std::string Text() const { return "feature " + Quoted(feature) + " of example " + std::to_string(example); }
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
    return FailedPrecondition("model input " + Quoted(spec.name) + " (" + SpecText(spec) +
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
      return FailedPrecondition("model input " + Quoted(spec.name) + " has too many elements per example");
    }
  }
  if (variable > 1) {
    return FailedPrecondition("model input " + Quoted(spec.name) + " (" + SpecText(spec) +
                              ") has more than one variable dimension after the batch dimension: tf.Example "
                              "input can infer only one of them from the number of values");
  }
  if (spec.shape[0] >= 0 && static_cast<uint64_t>(spec.shape[0]) != count) {
    return InvalidArgument("model input " + Quoted(spec.name) + " (" + SpecText(spec) + ") takes exactly " +
                           std::to_string(spec.shape[0]) + " example(s) per request, not " + std::to_string(count));
  }

  for (size_t e = 0; e < count; ++e) {
    const FeatureMap& features = batch.examples[e];
    auto it = features.find(spec.name);
    if (it == features.end()) {
      it = batch.context.find(spec.name);
      if (it == batch.context.end()) {
        return InvalidArgument("example " + std::to_string(e) + " has no feature " + Quoted(spec.name) +
                               " (nor has the context): the model input " + Quoted(spec.name) + " (" + SpecText(spec) +
                               ") is filled from the feature of the same name");
      }
    }
    const FeatureValues& values = it->second;
    if (values.size() != 0 && !KindFeeds(values.kind, spec.dtype)) {
      return InvalidArgument(ExampleWhere(spec.name, e) + " is a " + std::string(KindName(values.kind)) +
                             ", but the model input " + Quoted(spec.name) + " is " +
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
      return InvalidArgument("feature " + Quoted(spec.name) + " has " + std::to_string(per_example) +
                             " value(s) per example, but the model input " + Quoted(spec.name) + " (" + SpecText(spec) +
                             ") needs " + std::to_string(fixed) +
                             " (the product of its dimensions after the batch dimension)");
    }
  } else {
    if (fixed == 0) {
      return FailedPrecondition("model input " + Quoted(spec.name) + " (" + SpecText(spec) +
                                ") has a zero dimension: its variable dimension cannot be inferred");
    }
    if (per_example % fixed != 0) {
      return InvalidArgument("feature " + Quoted(spec.name) + " has " + std::to_string(per_example) +
                             " value(s) per example, which is not a multiple of " + std::to_string(fixed) +
                             " as the model input " + Quoted(spec.name) + " (" + SpecText(spec) + ") needs");
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
        return ResourceExhausted("model input " + Quoted(spec.name) + " from the examples exceeds the limit of " +
                                 std::to_string(limits.max_tensor_bytes) + " bytes per tensor");
      }
    }
    SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(bytes + static_cast<size_t>(elements) * kMallocOverhead,
                                               "model input " + Quoted(spec.name) + " from the examples"));
    std::vector<std::string> strings;
    strings.reserve(static_cast<size_t>(elements));
    for (size_t e = 0; e < count; ++e) {
      for (std::string_view value : found[e]->bytes) strings.emplace_back(value);
    }
    return Tensor::FromStrings(spec.name, std::move(shape), std::move(strings));
  }

  StatusOr<Tensor> tensor = Tensor::Allocate(spec.name, spec.dtype, std::move(shape), limits.max_tensor_bytes);
  if (!tensor.ok()) {
    if (tensor.status().code() == StatusCode::kResourceExhausted) {
      return ResourceExhausted("model input " + Quoted(spec.name) + " from the examples exceeds the limit of " +
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
          Quoted(scores->name) + " is " + SpecText(*scores));
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
    if (tensor == nullptr) return Internal("the model returned no output " + Quoted(name));
    if (tensor->dtype() != type) {
      return Internal("output " + Quoted(name) + " is " + std::string(KServeName(tensor->dtype())));
    }
    const Shape& shape = tensor->shape();
    if (shape.size() != 2 || shape[0] != batch) {
      return InvalidArgument("Classify expects output " + Quoted(name) +
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
  if (tensor == nullptr) return Internal("the model returned no output " + Quoted(output));
  if (tensor->dtype() != DataType::kFp32) {
    return Internal("output " + Quoted(output) + " is " + std::string(KServeName(tensor->dtype())));
  }
  const Shape& shape = tensor->shape();
  const bool fits =
      (shape.size() == 1 && shape[0] == batch) || (shape.size() == 2 && shape[0] == batch && shape[1] == 1);
  if (!fits) {
    return InvalidArgument("Regress expects output " + Quoted(output) +
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

// --- REST JSON --------------------------------------------------------------------------------------

namespace {

// What a decoded JSON batch views.
struct JsonExampleStorage {
  std::deque<std::string> names;
  std::deque<std::string> strings;
  std::deque<std::vector<float>> floats;
  std::deque<std::vector<int64_t>> int64s;
};

class ExamplesJsonHandler final : public JsonHandler {
 public:
  ExamplesJsonHandler(JsonExampleStorage* storage, TfsExamplesJsonRequest* out) : storage_(storage), out_(out) {}

  bool saw_examples() const { return saw_examples_; }

  bool Null() override { return Scalar("null"); }
  bool Bool(bool) override { return Scalar("a boolean"); }
  bool Number(std::string_view text) override {
    if (state_ == State::kSkip) return SkipScalar();
    if (state_ != State::kValue && state_ != State::kList) return Unexpected("a number");
    if (!AddNumber(text)) return false;
    return state_ == State::kValue ? FinishFeature() : true;
  }
  bool String(std::string_view value) override {
    switch (state_) {
      case State::kSkip:
        return SkipScalar();
      case State::kSignatureName:
        out_->signature_name = std::string(value);
        state_ = State::kRoot;
        return true;
      case State::kValue:
        return AddBytes(value) && FinishFeature();
      case State::kList:
        return AddBytes(value);
      case State::kB64String: {
        std::string decoded;
        if (!Base64Decode(value, &decoded)) {
          return Invalid("feature " + Quoted(feature_name_) + ": invalid base64 in a {\"b64\": ...} value");
        }
        if (!AddBytes(decoded)) return false;
        state_ = State::kB64End;
        return true;
      }
      default:
        return Unexpected("a string");
    }
  }
  bool StartObject() override {
    switch (state_) {
      case State::kTop:
        state_ = State::kRoot;
        return true;
      case State::kSkip:
        ++skip_depth_;
        return true;
      case State::kExamples:
        out_->batch.examples.emplace_back();
        target_ = &out_->batch.examples.back();
        in_context_ = false;
        state_ = State::kFeatures;
        return true;
      case State::kContextOpen:
        target_ = &out_->batch.context;
        in_context_ = true;
        state_ = State::kFeatures;
        return true;
      case State::kValue:
      case State::kList:
        b64_return_ = state_;
        state_ = State::kB64Key;
        return true;
      default:
        return Unexpected("an object");
    }
  }
  bool Key(std::string_view key) override {
    switch (state_) {
      case State::kSkip:
        return true;
      case State::kRoot:
        if (key == "signature_name") {
          state_ = State::kSignatureName;
        } else if (key == "examples") {
          if (saw_examples_) return Invalid("'examples' is given more than once");
          saw_examples_ = true;
          state_ = State::kExamplesOpen;
        } else if (key == "context") {
          if (saw_context_) return Invalid("'context' is given more than once");
          saw_context_ = true;
          state_ = State::kContextOpen;
        } else {
          state_ = State::kSkip;  // other members are ignored
          skip_depth_ = 0;
        }
        return true;
      case State::kFeatures:
        storage_->names.emplace_back(key);
        feature_name_ = storage_->names.back();
        if (target_->contains(feature_name_)) {
          return Invalid("feature " + Quoted(feature_name_) + " is given more than once in " + Where());
        }
        BeginFeature();
        state_ = State::kValue;
        return true;
      case State::kB64Key:
        if (key != "b64") {
          return Invalid("feature " + Quoted(feature_name_) + ": an object value must be {\"b64\": \"<base64>\"}");
        }
        state_ = State::kB64String;
        return true;
      default:
        return Unexpected("a key");
    }
  }
  bool EndObject() override {
    switch (state_) {
      case State::kSkip:
        return SkipEnd();
      case State::kRoot:
        state_ = State::kDone;
        return true;
      case State::kFeatures:
        state_ = in_context_ ? State::kRoot : State::kExamples;
        return true;
      case State::kB64End:
        if (b64_return_ == State::kValue) return FinishFeature();
        state_ = State::kList;
        return true;
      case State::kB64Key:
        return Invalid("feature " + Quoted(feature_name_) + ": an object value must be {\"b64\": \"<base64>\"}");
      default:
        return Unexpected("the end of an object");
    }
  }
  bool StartArray(JsonArrayBody&) override {
    switch (state_) {
      case State::kSkip:
        ++skip_depth_;
        return true;
      case State::kExamplesOpen:
        state_ = State::kExamples;
        return true;
      case State::kValue:
        state_ = State::kList;
        return true;
      case State::kList:
        return Invalid("feature " + Quoted(feature_name_) + ": a feature value is a flat list (no nested lists)");
      default:
        return Unexpected("a list");
    }
  }
  bool EndArray() override {
    switch (state_) {
      case State::kSkip:
        return SkipEnd();
      case State::kExamples:
        state_ = State::kRoot;
        return true;
      case State::kList:
        return FinishFeature();
      default:
        return Unexpected("the end of a list");
    }
  }

 private:
  enum class State {
    kTop,
    kRoot,
    kSignatureName,
    kExamplesOpen,
    kExamples,
    kContextOpen,
    kFeatures,
    kValue,
    kList,
    kB64Key,
    kB64String,
    kB64End,
    kSkip,
    kDone,
  };

  bool Invalid(std::string message) { return Fail(InvalidArgument(std::move(message))); }

  std::string Where() const {
    return in_context_ ? std::string("the context") : "example " + std::to_string(out_->batch.examples.size() - 1);
  }

  bool Unexpected(const char* what) {
    switch (state_) {
      case State::kTop:
        return Invalid("the request body must be a JSON object");
      case State::kSignatureName:
        return Invalid("'signature_name' must be a string");
      case State::kExamplesOpen:
        return Invalid("'examples' must be a list of objects (one per example)");
      case State::kExamples:
        return Invalid("each element of 'examples' must be an object of features");
      case State::kContextOpen:
        return Invalid("'context' must be an object of features");
      case State::kValue:
      case State::kList:
        return Invalid("feature " + Quoted(feature_name_) + " in " + Where() + ": " + what +
                       " is not a feature value (use numbers, strings or {\"b64\": ...})");
      case State::kB64Key:
      case State::kB64String:
      case State::kB64End:
        return Invalid("feature " + Quoted(feature_name_) + ": an object value must be {\"b64\": \"<base64>\"}");
      default:
        return Invalid(std::string("unexpected ") + what + " in the request body");
    }
  }

  bool Scalar(const char* what) {
    if (state_ == State::kSkip) return SkipScalar();
    return Unexpected(what);
  }
  bool SkipScalar() {
    if (skip_depth_ == 0) state_ = State::kRoot;
    return true;
  }
  bool SkipEnd() {
    if (--skip_depth_ == 0) state_ = State::kRoot;
    return true;
  }

  void BeginFeature() {
    has_numbers_ = has_strings_ = is_float_ = false;
    ints_.clear();
    floats_.clear();
    strings_begin_ = storage_->strings.size();
  }

  bool AddNumber(std::string_view text) {
    if (has_strings_)
      return Invalid("feature " + Quoted(feature_name_) + " in " + Where() + " mixes strings and numbers");
    has_numbers_ = true;
    JsonNumber number;
    if (!LexJsonNumberText(text, &number)) return Invalid("invalid number '" + std::string(text.substr(0, 64)) + "'");
    if (!is_float_ && number.integral && number.special == JsonNumber::Special::kNone) {
      int64_t value = 0;
      if (json_number_internal::ToSigned(number, &value) == NumberError::kOk) {
        ints_.push_back(value);
        return true;
      }
      return Invalid("feature " + Quoted(feature_name_) + " in " + Where() + ": " + std::string(text.substr(0, 64)) +
                     " is out of range for int64");
    }
    if (!is_float_) {
      is_float_ = true;
      floats_.reserve(ints_.size() + 1);
      for (int64_t v : ints_) floats_.push_back(static_cast<float>(v));
      ints_.clear();
    }
    float value = 0;
    if (!json_number_internal::ToFloat(number, &value)) {
      return Invalid("feature " + Quoted(feature_name_) + " in " + Where() + ": " + std::string(text.substr(0, 64)) +
                     " is out of range for a float");
    }
    floats_.push_back(value);
    return true;
  }

  bool AddBytes(std::string_view value) {
    if (has_numbers_)
      return Invalid("feature " + Quoted(feature_name_) + " in " + Where() + " mixes strings and numbers");
    has_strings_ = true;
    storage_->strings.emplace_back(value);
    return true;
  }

  bool FinishFeature() {
    FeatureValues values;
    if (has_strings_) {
      values.kind = FeatureKind::kBytes;
      values.bytes.reserve(storage_->strings.size() - strings_begin_);
      for (size_t i = strings_begin_; i < storage_->strings.size(); ++i)
        values.bytes.emplace_back(storage_->strings[i]);
    } else if (is_float_) {
      values.kind = FeatureKind::kFloat;
      storage_->floats.push_back(std::move(floats_));
      values.floats = storage_->floats.back();
    } else if (has_numbers_) {
      values.kind = FeatureKind::kInt64;
      storage_->int64s.push_back(std::move(ints_));
      values.int64s = storage_->int64s.back();
    }
    floats_ = {};
    ints_ = {};
    target_->emplace(feature_name_, std::move(values));
    state_ = State::kFeatures;
    return true;
  }

  JsonExampleStorage* storage_;
  TfsExamplesJsonRequest* out_;
  State state_ = State::kTop;
  int skip_depth_ = 0;
  bool saw_examples_ = false;
  bool saw_context_ = false;
  FeatureMap* target_ = nullptr;
  bool in_context_ = false;
  State b64_return_ = State::kValue;

  std::string_view feature_name_;
  bool has_numbers_ = false;
  bool has_strings_ = false;
  bool is_float_ = false;
  std::vector<int64_t> ints_;
  std::vector<float> floats_;
  size_t strings_begin_ = 0;
};

}  // namespace

StatusOr<TfsExamplesJsonRequest> DecodeTfsExamplesJson(std::string_view body) {
  auto storage = std::make_shared<JsonExampleStorage>();
  TfsExamplesJsonRequest request;
  ExamplesJsonHandler handler(storage.get(), &request);
  SERVAL_RETURN_IF_ERROR(ParseJson(body, handler));
  if (!handler.saw_examples()) return InvalidArgument("the request has no 'examples' list");
  request.batch.storage = std::move(storage);
  return request;
}

std::string EncodeTfsClassifyJson(const ClassificationRows& rows) {
  std::string body;
  {
    JsonOut out(&body);
    out.Append("{\"results\":[");
    for (size_t e = 0; e < rows.size(); ++e) {
      if (e > 0) out.Append(',');
      out.Append('[');
      for (size_t c = 0; c < rows[e].size(); ++c) {
        if (c > 0) out.Append(',');
        out.Append('[');
        WriteJsonString(out, rows[e][c].label);
        out.Append(',');
        WriteJsonFloat(out, rows[e][c].score);
        out.Append(']');
      }
      out.Append(']');
    }
    out.Append("]}");
  }
  return body;
}

std::string EncodeTfsRegressJson(std::span<const float> values) {
  std::string body;
  {
    JsonOut out(&body);
    out.Append("{\"results\":[");
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.Append(',');
      WriteJsonFloat(out, values[i]);
    }
    out.Append("]}");
  }
  return body;
}

}  // namespace serval

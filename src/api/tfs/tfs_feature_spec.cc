#include "api/tfs/tfs_feature_spec.h"

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "api/tfs/tfs_grpc_codec.h"
#include "core/shape.h"
#include "tensorflow/core/example/example.pb.h"

namespace serval {
namespace {

namespace tf = ::tensorflow;

constexpr size_t kStringOverhead = sizeof(std::string);  // what each element of a STRING tensor costs besides its bytes

const char* TypeName(DataType type) {
  return type == DataType::kFp32 ? "float" : type == DataType::kInt64 ? "int64" : "string";
}
const char* TypeName(FeatureKind kind) {
  return kind == FeatureKind::kFloat ? "float" : kind == FeatureKind::kInt64 ? "int64" : "string";
}
FeatureKind KindOf(DataType type) {
  return type == DataType::kFp32    ? FeatureKind::kFloat
         : type == DataType::kInt64 ? FeatureKind::kInt64
                                    : FeatureKind::kBytes;
}

// The example's own feature, else the context's; nullptr when neither has it.
const FeatureValues* Lookup(const ExampleBatch& batch, size_t example, const std::string& key) {
  const FeatureMap& features = batch.examples[example];
  if (auto it = features.find(key); it != features.end()) return &it->second;
  if (auto it = batch.context.find(key); it != batch.context.end()) return &it->second;
  return nullptr;
}

Status CheckType(const ExampleFeatureSpec& feature, const FeatureValues& values, size_t example) {
  if (values.kind == KindOf(feature.dtype)) return Status::Ok();
  return InvalidArgument("Name: <unknown>, Key: " + feature.key.substr(0, 256) + ", Index: " + std::to_string(example) +
                         ".  Data types don't match. Data type: " + TypeName(values.kind) +
                         " but expected type: " + TypeName(feature.dtype));
}

Status TooLarge(const ExampleFeatureSpec& feature, const CodecLimits& limits) {
  return ResourceExhausted("feature " + feature.key.substr(0, 256) + ": the parsed tensor would exceed " +
                           std::to_string(limits.max_tensor_bytes) + " bytes");
}

// Bytes a STRING tensor of `values` costs, saturating at SIZE_MAX.
size_t StringBytes(const FeatureValues& values) {
  size_t total = 0;
  for (std::string_view value : values.bytes) {
    const size_t add = value.size() + kStringOverhead;
    total = total > std::numeric_limits<size_t>::max() - add ? std::numeric_limits<size_t>::max() : total + add;
  }
  return total;
}

// Copies values.floats / values.int64s into `out` from element `offset` on.
void CopyNumbers(const FeatureValues& values, DataType type, std::byte* out, size_t offset) {
  if (type == DataType::kFp32) {
    if (!values.floats.empty()) std::memcpy(out + offset * 4, values.floats.data(), values.floats.size_bytes());
  } else {
    if (!values.int64s.empty()) std::memcpy(out + offset * 8, values.int64s.data(), values.int64s.size_bytes());
  }
}

// The spec's default as FeatureValues (views into the spec).
FeatureValues DefaultValues(const ExampleFeatureSpec& feature) {
  FeatureValues values;
  values.kind = KindOf(feature.dtype);
  values.floats = feature.default_floats;
  values.int64s = feature.default_int64s;
  for (const std::string& value : feature.default_bytes) values.bytes.emplace_back(value);
  return values;
}

Status FixedLen(const ExampleFeatureSpec& feature, const ExampleBatch& batch, const CodecLimits& limits,
                std::vector<Tensor>* out) {
  StatusOr<int64_t> per_example = ElementCount(feature.shape, feature.key);
  if (!per_example.ok()) return per_example.status();
  const auto rows = static_cast<int64_t>(batch.examples.size());
  Shape shape = {rows};
  shape.insert(shape.end(), feature.shape.begin(), feature.shape.end());
  StatusOr<int64_t> count = ElementCount(shape, feature.key);
  if (!count.ok()) return count.status();
  const FeatureValues fallback = DefaultValues(feature);
  if (feature.has_default && static_cast<int64_t>(fallback.size()) != *per_example) {
    return InvalidArgument("feature " + feature.key.substr(0, 256) + ": its default does not fill its shape");
  }
  // Pass 1: every example's values checked, the output's size counted.
  std::vector<const FeatureValues*> chosen(batch.examples.size());
  size_t string_bytes = 0;
  for (size_t i = 0; i < batch.examples.size(); ++i) {
    const FeatureValues* values = Lookup(batch, i, feature.key);
    if (values == nullptr) {
      if (!feature.has_default) {
        return InvalidArgument("Name: <unknown>, Feature: " + feature.key.substr(0, 256) +
                               " (data type: " + TypeName(feature.dtype) + ") is required but could not be found.");
      }
      values = &fallback;
    }
    SERVAL_RETURN_IF_ERROR(CheckType(feature, *values, i));
    if (static_cast<int64_t>(values->size()) != *per_example) {
      return InvalidArgument("Name: <unknown>, Key: " + feature.key.substr(0, 256) + ", Index: " + std::to_string(i) +
                             ".  Number of " + TypeName(feature.dtype) + " values != expected.  Values size: " +
                             std::to_string(values->size()) + " but output shape: " + ShapeToString(feature.shape));
    }
    if (feature.dtype == DataType::kString) {
      const size_t bytes = StringBytes(*values);
      if (bytes > limits.max_tensor_bytes - string_bytes) return TooLarge(feature, limits);
      string_bytes += bytes;
    }
    chosen[i] = values;
  }
  // Pass 2: the tensor.
  if (feature.dtype == DataType::kString) {
    std::vector<std::string> strings;
    strings.reserve(static_cast<size_t>(*count));
    for (const FeatureValues* values : chosen) {
      for (std::string_view value : values->bytes) strings.emplace_back(value);
    }
    out->push_back(Tensor::FromStrings(feature.values_name, std::move(shape), std::move(strings)));
    return Status::Ok();
  }
  StatusOr<size_t> bytes = ByteSize(*count, feature.dtype, feature.key);
  if (!bytes.ok()) return bytes.status();
  if (*bytes > limits.max_tensor_bytes) return TooLarge(feature, limits);
  StatusOr<Tensor> tensor = Tensor::Allocate(feature.values_name, feature.dtype, std::move(shape));
  if (!tensor.ok()) return tensor.status();
  std::byte* data = tensor->mutable_bytes().data();
  for (size_t i = 0; i < chosen.size(); ++i) {
    CopyNumbers(*chosen[i], feature.dtype, data, i * static_cast<size_t>(*per_example));
  }
  out->push_back(std::move(tensor).value());
  return Status::Ok();
}

Status VarLen(const ExampleFeatureSpec& feature, const ExampleBatch& batch, const CodecLimits& limits,
              std::vector<Tensor>* out) {
  // Pass 1: types checked; the number of values, the longest list and the output's size counted.
  std::vector<const FeatureValues*> chosen(batch.examples.size());
  size_t total = 0;
  size_t longest = 0;
  size_t string_bytes = 0;
  // indices cost 16 bytes per value: the largest of the three tensors for numeric features
  const size_t max_values = limits.max_tensor_bytes / 16;
  for (size_t i = 0; i < batch.examples.size(); ++i) {
    const FeatureValues* values = Lookup(batch, i, feature.key);
    if (values == nullptr) continue;
    SERVAL_RETURN_IF_ERROR(CheckType(feature, *values, i));
    if (values->size() > max_values - total) return TooLarge(feature, limits);
    total += values->size();
    longest = std::max(longest, values->size());
    if (feature.dtype == DataType::kString) {
      const size_t bytes = StringBytes(*values);
      if (bytes > limits.max_tensor_bytes - string_bytes) return TooLarge(feature, limits);
      string_bytes += bytes;
    }
    chosen[i] = values;
  }
  // Pass 2: the three tensors.
  const auto n = static_cast<int64_t>(total);
  StatusOr<Tensor> indices = Tensor::Allocate(feature.indices_name, DataType::kInt64, {n, 2});
  StatusOr<Tensor> dense_shape = Tensor::Allocate(feature.dense_shape_name, DataType::kInt64, {2});
  if (!indices.ok()) return indices.status();
  if (!dense_shape.ok()) return dense_shape.status();
  std::byte* index_data = indices->mutable_bytes().data();
  size_t at = 0;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i] == nullptr) continue;
    for (size_t j = 0; j < chosen[i]->size(); ++j, ++at) {
      const int64_t pair[2] = {static_cast<int64_t>(i), static_cast<int64_t>(j)};
      std::memcpy(index_data + at * sizeof(pair), pair, sizeof(pair));
    }
  }
  const int64_t dims[2] = {static_cast<int64_t>(batch.examples.size()), static_cast<int64_t>(longest)};
  std::memcpy(dense_shape->mutable_bytes().data(), dims, sizeof(dims));
  if (feature.dtype == DataType::kString) {
    std::vector<std::string> strings;
    strings.reserve(total);
    for (const FeatureValues* values : chosen) {
      if (values == nullptr) continue;
      for (std::string_view value : values->bytes) strings.emplace_back(value);
    }
    out->push_back(Tensor::FromStrings(feature.values_name, {n}, std::move(strings)));
  } else {
    StatusOr<Tensor> values = Tensor::Allocate(feature.values_name, feature.dtype, {n});
    if (!values.ok()) return values.status();
    std::byte* data = values->mutable_bytes().data();
    size_t offset = 0;
    for (const FeatureValues* chosen_values : chosen) {
      if (chosen_values == nullptr) continue;
      CopyNumbers(*chosen_values, feature.dtype, data, offset);
      offset += chosen_values->size();
    }
    out->push_back(std::move(values).value());
  }
  out->push_back(std::move(indices).value());
  out->push_back(std::move(dense_shape).value());
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<Tensor>> FeaturesToTensors(const ExampleParseSpec& spec, const ExampleBatch& batch,
                                                const CodecLimits& limits) {
  std::vector<Tensor> out;
  out.reserve(spec.features.size() * 3);
  for (const ExampleFeatureSpec& feature : spec.features) {
    if (feature.dtype != DataType::kFp32 && feature.dtype != DataType::kInt64 && feature.dtype != DataType::kString) {
      return InvalidArgument("feature " + feature.key.substr(0, 256) +
                             ": a tf.Example feature is float, int64 or string");
    }
    SERVAL_RETURN_IF_ERROR(feature.kind == ExampleFeatureSpec::Kind::kFixedLen ? FixedLen(feature, batch, limits, &out)
                                                                               : VarLen(feature, batch, limits, &out));
  }
  return out;
}

StatusOr<ExampleBatch> ParseSerializedExamples(const Tensor& serialized) {
  if (serialized.dtype() != DataType::kString || serialized.shape().size() != 1) {
    return InvalidArgument("Expected serialized to be a vector, got shape: " + ShapeToString(serialized.shape()));
  }
  const std::vector<std::string>& rows = serialized.strings();
  auto examples = std::make_shared<std::vector<tf::Example>>(rows.size());
  ExampleBatch batch;
  batch.examples.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    tf::Example& example = (*examples)[i];
    if (!example.ParseFromString(rows[i])) {
      return InvalidArgument("Could not parse example input, value: example " + std::to_string(i) + " (" +
                             std::to_string(rows[i].size()) + " bytes) is not a serialized tf.Example");
    }
    for (const auto& [name, feature] : example.features().feature()) {
      // A feature with no value list is absent, as in TensorFlow.
      if (feature.kind_case() == tf::Feature::KIND_NOT_SET) continue;
      batch.examples[i].emplace(name, ViewFeature(feature));
    }
  }
  batch.storage = std::move(examples);
  return batch;
}

ExampleParser MakeExampleParser(CodecLimits limits) {
  return [limits](const ExampleParseSpec& spec, const Tensor& serialized) -> StatusOr<std::vector<Tensor>> {
    StatusOr<ExampleBatch> batch = ParseSerializedExamples(serialized);
    if (!batch.ok()) return batch.status();
    return FeaturesToTensors(spec, *batch, limits);
  };
}

}  // namespace serval

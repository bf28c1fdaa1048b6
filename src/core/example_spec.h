// ExampleParseSpec: what TensorFlow's ParseExample did inside a graph that was cut after it (an ONNX
// conversion of a tf.Example signature, docs/signature-file.md). The server parses the serialized tf.Examples
// itself into the tensors the graph takes instead. Data only; the parsing lives in the api layer (it reads
// the tf.Example wire format) and reaches the engine as an ExampleParser.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/data_type.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

// One feature as tf.io.FixedLenFeature or tf.io.VarLenFeature declared it.
struct ExampleFeatureSpec {
  enum class Kind : uint8_t { kFixedLen, kVarLen };

  std::string key;  // the feature's name in the tf.Example
  Kind kind = Kind::kFixedLen;
  DataType dtype = DataType::kFp32;  // kFp32, kInt64 or kString: the tf.Example list types
  std::vector<int64_t> shape;        // fixed_len: the per-example shape, every dim >= 0
  // fixed_len: the flat default (prod(shape) values of `dtype`'s vector) used when an example lacks the
  // feature. Without one the feature is required.
  bool has_default = false;
  std::vector<float> default_floats;
  std::vector<int64_t> default_int64s;
  std::vector<std::string> default_bytes;
  // Graph inputs fed: fixed_len: `values` ([batch] + shape); var_len: `values` (flat), `indices` (int64
  // [N, 2]: example, position) and `dense_shape` (int64 [2]: batch, longest list).
  std::string values_name;
  std::string indices_name;
  std::string dense_shape_name;
};

// The features parsed out of one DT_STRING signature input (alias `input`) of serialized tf.Examples.
struct ExampleParseSpec {
  std::string input;
  std::vector<ExampleFeatureSpec> features;
};

// Parses `serialized` (a STRING tensor of serialized tf.Examples, one per example: shape [batch], or a
// scalar for one example) per `spec` into the graph's input tensors, named by the spec's graph input names.
// Errors follow TensorFlow's (INVALID_ARGUMENT for a malformed example, a missing required feature, a wrong
// value count or type; RESOURCE_EXHAUSTED beyond the server's tensor size limit).
using ExampleParser =
    std::function<StatusOr<std::vector<Tensor>>(const ExampleParseSpec& spec, const Tensor& serialized)>;

}  // namespace serval

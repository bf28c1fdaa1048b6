// Small builders shared by the codec unit tests (test-only): a signature from specs, a tensor from
// values, and a tensor's values read back (memcpy: borrowed bytes may be unaligned).
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "core/inference.h"
#include "core/tensor.h"

namespace serval {

inline ModelSignature Signature(std::vector<TensorSpec> inputs, std::vector<TensorSpec> outputs = {}) {
  ModelSignature signature;
  signature.inputs = std::move(inputs);
  signature.outputs = std::move(outputs);
  return signature;
}

template <typename T>
std::vector<T> Values(const Tensor& tensor) {
  std::vector<T> values(tensor.bytes().size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), tensor.bytes().data(), tensor.bytes().size());
  return values;
}

template <typename T>
Tensor MakeTensor(std::string name, DataType type, Shape shape, const std::vector<T>& values) {
  Tensor tensor = *Tensor::Allocate(std::move(name), type, std::move(shape));
  if (!values.empty()) std::memcpy(tensor.mutable_bytes().data(), values.data(), values.size() * sizeof(T));
  return tensor;
}

}  // namespace serval

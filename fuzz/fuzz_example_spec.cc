// Serialized tf.Examples (client bytes: gRPC Predict string tensors, REST b64) parsed by Serval with a feature
// spec, as a signature cut after ParseExample does: every fixed_len / var_len kind and type. The input is split
// at each 0x00 0x00 pair into the batch's rows.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/tfs/tfs_feature_spec.h"

namespace {

serval::ExampleParseSpec Spec() {
  using serval::DataType;
  using Kind = serval::ExampleFeatureSpec::Kind;
  serval::ExampleParseSpec spec;
  spec.input = "inputs";
  auto add = [&spec](std::string key, Kind kind, DataType type, std::vector<int64_t> shape, bool with_default) {
    serval::ExampleFeatureSpec f;
    f.key = key;
    f.kind = kind;
    f.dtype = type;
    f.shape = shape;
    f.values_name = key;
    f.indices_name = key + "_indices";
    f.dense_shape_name = key + "_dense_shape";
    if (with_default) {
      f.has_default = true;
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      f.default_floats.assign(static_cast<size_t>(type == DataType::kFp32 ? n : 0), 0.5f);
      f.default_int64s.assign(static_cast<size_t>(type == DataType::kInt64 ? n : 0), 7);
      f.default_bytes.assign(static_cast<size_t>(type == DataType::kString ? n : 0), "d");
    }
    spec.features.push_back(std::move(f));
  };
  add("x", Kind::kFixedLen, DataType::kFp32, {2}, true);
  add("i", Kind::kFixedLen, DataType::kInt64, {1, 2}, true);
  add("s", Kind::kFixedLen, DataType::kString, {}, true);
  add("r", Kind::kFixedLen, DataType::kFp32, {1}, false);
  add("vf", Kind::kVarLen, DataType::kFp32, {}, false);
  add("vi", Kind::kVarLen, DataType::kInt64, {}, false);
  add("vs", Kind::kVarLen, DataType::kString, {}, false);
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const serval::ExampleParseSpec kSpec = Spec();
  static const serval::ExampleParser kParser = [] {
    serval::CodecLimits limits;
    limits.max_tensor_bytes = 1 << 20;
    return serval::MakeExampleParser(limits);
  }();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> rows;
  size_t start = 0;
  for (size_t at = bytes.find(std::string("\0\0", 2)); at != std::string::npos && rows.size() < 64;
       at = bytes.find(std::string("\0\0", 2), start)) {
    rows.push_back(bytes.substr(start, at - start));
    start = at + 2;
  }
  rows.push_back(bytes.substr(start));
  const auto n = static_cast<int64_t>(rows.size());
  (void)kParser(kSpec, serval::Tensor::FromStrings("inputs", {n}, std::move(rows)));
  return 0;
}

#include "workload.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/shape.h"

namespace serval::bench {

namespace {

template <typename T>
void Fill(std::span<std::byte> out, std::mt19937_64* rng, int64_t lo, int64_t hi, bool floating) {
  const size_t n = out.size() / sizeof(T);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (size_t i = 0; i < n; ++i) {
    T value;
    if (floating) {
      value = static_cast<T>(unit(*rng));
    } else {
      value = static_cast<T>(lo + static_cast<int64_t>((*rng)() % static_cast<uint64_t>(hi - lo)));
    }
    std::memcpy(out.data() + i * sizeof(T), &value, sizeof(T));
  }
}

template <typename T>
std::vector<double> Convert(std::span<const std::byte> bytes) {
  std::vector<double> values(bytes.size() / sizeof(T));
  for (size_t i = 0; i < values.size(); ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    values[i] = static_cast<double>(value);
  }
  return values;
}

}  // namespace

StatusOr<std::vector<Tensor>> MakeInputs(const ModelSignature& signature, const WorkloadOptions& options) {
  if (options.int_range <= 0) return InvalidArgument("--int_range must be positive");
  for (const auto& [name, range] : options.int_ranges) {
    if (range.first >= range.second) return InvalidArgument("empty integer range for input " + name);
  }
  std::mt19937_64 rng(options.seed);
  std::vector<Tensor> inputs;
  for (const TensorSpec& spec : signature.inputs) {
    Shape shape = spec.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) shape[d] = d == 0 ? options.batch : options.dynamic_dim;
    }
    if (ElementSize(spec.dtype) == 0) {
      return FailedPrecondition("input " + spec.name + " has type " + std::string(KServeName(spec.dtype)) +
                                ", which serval-bench does not generate");
    }
    auto tensor = Tensor::Allocate(spec.name, spec.dtype, shape, static_cast<size_t>(options.max_input_bytes));
    if (!tensor.ok()) return tensor.status();
    std::span<std::byte> out = tensor->mutable_bytes();
    int64_t lo = 0, hi = options.int_range;
    if (auto it = options.int_ranges.find(spec.name); it != options.int_ranges.end()) {
      lo = it->second.first;
      hi = it->second.second;
    }
    switch (spec.dtype) {
      case DataType::kFp32:
        Fill<float>(out, &rng, lo, hi, true);
        break;
      case DataType::kFp64:
        Fill<double>(out, &rng, lo, hi, true);
        break;
      case DataType::kInt64:
        Fill<int64_t>(out, &rng, lo, hi, false);
        break;
      case DataType::kInt32:
        Fill<int32_t>(out, &rng, lo, hi, false);
        break;
      case DataType::kInt8:
        Fill<int8_t>(out, &rng, lo, hi, false);
        break;
      case DataType::kUint8:
        Fill<uint8_t>(out, &rng, lo, hi, false);
        break;
      case DataType::kBool:
        Fill<uint8_t>(out, &rng, 0, 2, false);
        break;
      default:
        return FailedPrecondition("input " + spec.name + " has type " + std::string(KServeName(spec.dtype)) +
                                  ", which serval-bench does not generate");
    }
    inputs.push_back(std::move(tensor).value());
  }
  return inputs;
}

StatusOr<std::map<std::string, std::pair<int64_t, int64_t>>> ParseIntRanges(const std::string& text) {
  std::map<std::string, std::pair<int64_t, int64_t>> ranges;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('='), colon = item.find(':', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || colon == std::string::npos || eq == 0) {
      return InvalidArgument("bad input range '" + item + "' (want name=lo:hi)");
    }
    char* tail = nullptr;
    const int64_t lo = std::strtoll(item.c_str() + eq + 1, &tail, 10);
    if (tail != item.c_str() + colon) return InvalidArgument("bad input range '" + item + "'");
    const int64_t hi = std::strtoll(item.c_str() + colon + 1, &tail, 10);
    if (*tail != '\0' || lo >= hi) return InvalidArgument("bad input range '" + item + "' (want lo < hi)");
    ranges[item.substr(0, eq)] = {lo, hi};
  }
  return ranges;
}

StatusOr<std::vector<double>> ToDoubles(DataType type, std::span<const std::byte> bytes) {
  const size_t size = ElementSize(type);
  if (size == 0 || bytes.size() % size != 0) {
    return InvalidArgument("tensor of " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                           std::string(KServeName(type)) + " elements");
  }
  switch (type) {
    case DataType::kBool:
    case DataType::kUint8:
      return Convert<uint8_t>(bytes);
    case DataType::kInt8:
      return Convert<int8_t>(bytes);
    case DataType::kUint16:
      return Convert<uint16_t>(bytes);
    case DataType::kInt16:
      return Convert<int16_t>(bytes);
    case DataType::kUint32:
      return Convert<uint32_t>(bytes);
    case DataType::kInt32:
      return Convert<int32_t>(bytes);
    case DataType::kUint64:
      return Convert<uint64_t>(bytes);
    case DataType::kInt64:
      return Convert<int64_t>(bytes);
    case DataType::kFp32:
      return Convert<float>(bytes);
    case DataType::kFp64:
      return Convert<double>(bytes);
    default:
      return FailedPrecondition("serval-bench cannot check " + std::string(KServeName(type)) + " outputs");
  }
}

Status CheckValues(const ExpectedOutput& expected, std::span<const double> got) {
  if (got.size() != expected.values.size()) {
    return Internal("wrong answer: output " + expected.name + " has " + std::to_string(got.size()) +
                    " values, expected " + std::to_string(expected.values.size()));
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double want = expected.values[i];
    const bool same = got[i] == want || std::fabs(got[i] - want) <= 1e-4 + 1e-3 * std::fabs(want);
    if (!same) {
      return Internal("wrong answer: output " + expected.name + "[" + std::to_string(i) +
                      "] = " + std::to_string(got[i]) + ", expected " + std::to_string(want));
    }
  }
  return Status::Ok();
}

}  // namespace serval::bench

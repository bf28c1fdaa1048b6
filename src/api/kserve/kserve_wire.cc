#include "api/kserve/kserve_wire.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/memory_budget.h"

namespace serval {
namespace {

static_assert(std::endian::native == std::endian::little, "binary tensor data is little-endian, as is the host");

uint32_t LoadLittleEndian32(const char* bytes) {
  uint32_t value = 0;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

}  // namespace

std::string_view KServePlatformName(std::string_view engine_platform) {
  return engine_platform == "tensorflow" ? kKServeTensorFlowPlatform : kKServeOnnxPlatform;
}

bool KServeHasBatchDimension(const ModelSignature& signature) {
  auto batched = [](const TensorSpec& spec) { return !spec.shape.empty() && spec.shape[0] == -1; };
  return !signature.inputs.empty() && std::all_of(signature.inputs.begin(), signature.inputs.end(), batched) &&
         std::all_of(signature.outputs.begin(), signature.outputs.end(), batched);
}

StatusOr<std::vector<std::string>> DecodeKServeBytesElements(std::string_view bytes, int64_t count,
                                                             const std::string& label, const CodecLimits& limits) {
  // At most count elements of kStringElementOverhead each plus the data's bytes: charged before decoding.
  StatusOr<size_t> cost =
      DecodedBytes(static_cast<uint64_t>(std::max<int64_t>(count, 0)), 0, kStringElementOverhead, bytes.size());
  if (!cost.ok()) return cost.status();
  SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(*cost, label));
  std::vector<std::string> values;
  values.reserve(static_cast<size_t>(std::min<int64_t>(count, static_cast<int64_t>(bytes.size() / 4))));
  size_t pos = 0;
  size_t total = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (bytes.size() - pos < 4) {
      return InvalidArgument(label + ": the BYTES binary data ends after " + std::to_string(i) + " of " +
                             std::to_string(count) + " elements");
    }
    uint32_t length = LoadLittleEndian32(bytes.data() + pos);
    pos += 4;
    if (bytes.size() - pos < length) {
      return InvalidArgument(label + ": BYTES element " + std::to_string(i) + " claims " + std::to_string(length) +
                             " bytes but only " + std::to_string(bytes.size() - pos) + " are left");
    }
    total += length + sizeof(std::string);
    if (total > limits.max_tensor_bytes) {
      return ResourceExhausted(label + ": the data exceeds the limit of " + std::to_string(limits.max_tensor_bytes) +
                               " bytes per tensor");
    }
    values.emplace_back(bytes.data() + pos, length);
    pos += length;
  }
  if (pos != bytes.size()) {
    return InvalidArgument(label + ": " + std::to_string(bytes.size() - pos) +
                           " bytes are left over after the BYTES elements of its shape");
  }
  return values;
}

Status AppendKServeBytesElements(const std::vector<std::string>& values, const std::string& label, std::string* out) {
  size_t total = 0;
  for (const std::string& value : values) {
    if (value.size() > std::numeric_limits<uint32_t>::max()) {
      return InvalidArgument(label + " has a BYTES element over 4 GiB");
    }
    total += 4 + value.size();
  }
  out->reserve(out->size() + total);
  for (const std::string& value : values) {
    const uint32_t length = static_cast<uint32_t>(value.size());
    char prefix[4];
    std::memcpy(prefix, &length, sizeof prefix);
    out->append(prefix, sizeof prefix);
    out->append(value);
  }
  return Status::Ok();
}

}  // namespace serval

#include "api/kserve/kserve_wire.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string_view>

#include "core/memory_budget.h"

namespace serval {
namespace {

static_assert(std::endian::native == std::endian::little, "binary tensor data is little-endian, as is the host");

uint32_t LoadLittleEndian32(const char* bytes) {
  uint32_t value = 0;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

// Triton's DimsListToString: "[d0,d1,...]".
std::string TritonDims(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// "['a','b']" of names, Triton's spelling.
std::string TritonNameList(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "'" : ",'") + names[i] + "'";
  return out + "]";
}

// The parts one after another (one allocation, no temporaries).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out += part;
  return out;
}

}  // namespace

std::vector<std::string> KServeServerExtensions(bool model_repository) {
  std::vector<std::string> extensions = {"classification", "model_configuration", "binary_tensor_data", "statistics"};
  if (model_repository) extensions.emplace_back("model_repository");
  return extensions;
}

Status ValidateKServeRequest(const ModelSignature& signature, const InferenceRequest& request,
                             std::string_view model_name) {
  const std::string prefix = request.id.empty() ? "" : "[request id: " + request.id + "] ";
  const std::string model = std::string(model_name);
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (request.inputs[j].name() == request.inputs[i].name()) {
        return InvalidArgument(prefix + "input '" + request.inputs[i].name() + "' already exists in request");
      }
    }
  }
  for (size_t i = 0; i < request.outputs.size(); ++i) {
    if (std::find(request.outputs.begin(), request.outputs.begin() + static_cast<std::ptrdiff_t>(i),
                  request.outputs[i]) != request.outputs.begin() + static_cast<std::ptrdiff_t>(i)) {
      return InvalidArgument(prefix + "output '" + request.outputs[i] + "' already exists in request");
    }
  }
  // Every input of the model is required (Serval's signatures have no optional inputs).
  std::vector<std::string> given;
  std::vector<std::string> missing;
  for (const Tensor& input : request.inputs) given.push_back(input.name());
  for (const TensorSpec& spec : signature.inputs) {
    if (std::find(given.begin(), given.end(), spec.name) == given.end()) missing.push_back(spec.name);
  }
  if (request.inputs.size() > signature.inputs.size() || !missing.empty()) {
    return InvalidArgument(prefix + "expected " + std::to_string(signature.inputs.size()) + " inputs but got " +
                           std::to_string(request.inputs.size()) + " inputs for model '" + model + "'. Got input(s) " +
                           TritonNameList(given) + ", but missing required input(s) " + TritonNameList(missing) +
                           ". Please provide all required input(s).");
  }
  for (const Tensor& input : request.inputs) {
    if (signature.FindInput(input.name()) == nullptr) {
      return InvalidArgument(Cat({prefix, "unexpected inference input '", input.name(), "' for model '", model, "'"}));
    }
  }
  for (const std::string& output : request.outputs) {
    if (signature.FindOutput(output) == nullptr) {
      return InvalidArgument(Cat({prefix, "unexpected inference output '", output, "' for model '", model, "'"}));
    }
  }
  const bool batching = KServeHasBatchDimension(signature);
  for (const Tensor& input : request.inputs) {
    const TensorSpec& spec = *signature.FindInput(input.name());
    if (input.dtype() != spec.dtype) {
      return InvalidArgument(
          Cat({prefix, "inference input '", input.name(), "' data-type is '", KServeName(input.dtype()),
               "', but model '", model, "' expects '", KServeName(spec.dtype), "'"}));
    }
    if (signature.check_shapes && !spec.unknown_rank && !ShapeMatches(spec.shape, input.shape())) {
      return InvalidArgument(
          Cat({prefix, "unexpected shape for input '", input.name(), "' for model '", model, "'. Expected ",
               TritonDims(spec.shape), ", got ", TritonDims(input.shape()), ". ",
               batching ? "NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to "
                          "be prepended to each input shape. If you want to specify the full shape including the "
                          "batch dim in your input dims config, try setting max_batch_size to zero. See the model "
                          "configuration docs for more info on max_batch_size."
                        : ""}));
    }
  }
  // What is left (payload sizes) is Serval's common check.
  return ValidateRequest(signature, request);
}

Status KServeByteSizeMismatch(std::string_view request_id, std::string_view input, std::string_view model_name,
                              size_t expected, size_t got) {
  return InvalidArgument((request_id.empty() ? "" : "[request id: " + std::string(request_id) + "] ") +
                         "input byte size mismatch for input '" + std::string(input) + "' for model '" +
                         std::string(model_name) + "'. Expected " + std::to_string(expected) + ", got " +
                         std::to_string(got));
}

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

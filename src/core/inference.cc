#include "core/inference.h"

#include <algorithm>

namespace serval {
namespace {

const TensorSpec* FindByName(const std::vector<TensorSpec>& specs, std::string_view name) {
  auto it = std::find_if(specs.begin(), specs.end(), [&](const TensorSpec& spec) { return spec.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

Status CheckPayload(const Tensor& tensor) {
  StatusOr<int64_t> count = ElementCount(tensor.shape(), tensor.name());
  if (!count.ok()) return count.status();
  if (tensor.dtype() == DataType::kString) {
    if (static_cast<int64_t>(tensor.strings().size()) != *count) {
      return InvalidArgument("input '" + tensor.name() + "' has " + std::to_string(tensor.strings().size()) +
                             " elements but shape " + ShapeToString(tensor.shape()) + " needs " +
                             std::to_string(*count));
    }
    return Status::Ok();
  }
  StatusOr<size_t> size = ByteSize(*count, tensor.dtype(), tensor.name());
  if (!size.ok()) return size.status();
  if (tensor.bytes().size() != *size) {
    return InvalidArgument("input '" + tensor.name() + "' has " + std::to_string(tensor.bytes().size()) +
                           " bytes but shape " + ShapeToString(tensor.shape()) + " of " +
                           std::string(KServeName(tensor.dtype())) + " needs " + std::to_string(*size));
  }
  return Status::Ok();
}

}  // namespace

const TensorSpec* ModelSignature::FindInput(std::string_view name) const { return FindByName(inputs, name); }
const TensorSpec* ModelSignature::FindOutput(std::string_view name) const { return FindByName(outputs, name); }

Status ValidateRequest(const ModelSignature& signature, const InferenceRequest& request) {
  // One bit per signature input, on the heap only past 64 inputs: a request's check allocates nothing.
  const size_t count = signature.inputs.size();
  uint64_t seen_mask = 0;
  std::vector<bool> seen_many(count > 64 ? count : 0, false);
  auto seen = [&](size_t i) { return count > 64 ? static_cast<bool>(seen_many[i]) : ((seen_mask >> i) & 1) != 0; };
  for (const Tensor& input : request.inputs) {
    const TensorSpec* spec = signature.FindInput(input.name());
    if (spec == nullptr) return InvalidArgument("unknown input '" + input.name() + "'");
    size_t index = static_cast<size_t>(spec - signature.inputs.data());
    if (seen(index)) return InvalidArgument("input '" + input.name() + "' is given more than once");
    if (count > 64) {
      seen_many[index] = true;
    } else {
      seen_mask |= uint64_t{1} << index;
    }
    if (input.dtype() != spec->dtype) {
      return InvalidArgument("input '" + input.name() + "' has type " + std::string(KServeName(input.dtype())) +
                             " but the model expects " + std::string(KServeName(spec->dtype)));
    }
    if (signature.check_shapes && !spec->unknown_rank && !ShapeMatches(spec->shape, input.shape())) {
      return InvalidArgument("input '" + input.name() + "' has shape " + ShapeToString(input.shape()) +
                             " but the model expects " + ShapeToString(spec->shape));
    }
    SERVAL_RETURN_IF_ERROR(CheckPayload(input));
  }
  for (size_t i = 0; i < count; ++i) {
    if (!seen(i)) return InvalidArgument("missing input '" + signature.inputs[i].name + "'");
  }
  for (size_t i = 0; i < request.outputs.size(); ++i) {
    const std::string& name = request.outputs[i];
    if (signature.FindOutput(name) == nullptr) return InvalidArgument("unknown output '" + name + "'");
    if (std::find(request.outputs.begin(), request.outputs.begin() + static_cast<std::ptrdiff_t>(i), name) !=
        request.outputs.begin() + static_cast<std::ptrdiff_t>(i)) {
      return InvalidArgument("output '" + name + "' is requested more than once");
    }
  }
  return Status::Ok();
}

}  // namespace serval

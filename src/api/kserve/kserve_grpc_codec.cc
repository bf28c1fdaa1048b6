#include "api/kserve/kserve_grpc_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "api/kserve/kserve_wire.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

static_assert(std::endian::native == std::endian::little, "raw tensor contents are little-endian, as is the host");

using inference::InferTensorContents;
using inference::ModelInferRequest;
using inference::ModelInferResponse;

// What one protobuf message can carry (its length is an int32 on the wire).
constexpr size_t kMaxMessageBytes = static_cast<size_t>(std::numeric_limits<int32_t>::max());

std::string InputLabel(const ModelInferRequest::InferInputTensor& input, int index) {
  return input.name().empty() ? "inputs[" + std::to_string(index) + "]" : "input '" + input.name() + "'";
}

// The names of the typed fields that hold values, for messages.
std::vector<std::string_view> SetContentFields(const InferTensorContents& c) {
  std::vector<std::string_view> fields;
  if (c.bool_contents_size() > 0) fields.push_back("bool_contents");
  if (c.int_contents_size() > 0) fields.push_back("int_contents");
  if (c.int64_contents_size() > 0) fields.push_back("int64_contents");
  if (c.uint_contents_size() > 0) fields.push_back("uint_contents");
  if (c.uint64_contents_size() > 0) fields.push_back("uint64_contents");
  if (c.fp32_contents_size() > 0) fields.push_back("fp32_contents");
  if (c.fp64_contents_size() > 0) fields.push_back("fp64_contents");
  if (c.bytes_contents_size() > 0) fields.push_back("bytes_contents");
  return fields;
}

// The typed field that carries `type`; empty for FP16/BF16 (raw only).
std::string_view ContentFieldFor(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "bool_contents";
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return "int_contents";
    case DataType::kInt64:
      return "int64_contents";
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return "uint_contents";
    case DataType::kUint64:
      return "uint64_contents";
    case DataType::kFp32:
      return "fp32_contents";
    case DataType::kFp64:
      return "fp64_contents";
    case DataType::kString:
      return "bytes_contents";
    default:
      return {};
  }
}

// Copies `values` (the wire type) into a new tensor of element type `Elem`, range-checking narrowing
// conversions. The value count was checked against the shape by the caller.
template <typename Elem, typename Values>
StatusOr<Tensor> CopyTyped(const Values& values, const std::string& name, DataType type, const Shape& shape,
                           const std::string& label, const CodecLimits& limits) {
  SERVAL_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(name, type, shape, limits.max_tensor_bytes));
  std::byte* out = tensor.mutable_bytes().data();
  int index = 0;
  for (const auto value : values) {
    Elem element;
    if constexpr (!std::is_same_v<Elem, bool> && !std::is_same_v<Elem, std::remove_cv_t<decltype(value)>>) {
      if (!std::in_range<Elem>(value)) {
        return InvalidArgument(label + ": value " + std::to_string(value) + " at index " + std::to_string(index) +
                               " is out of range for " + std::string(KServeName(type)));
      }
      element = static_cast<Elem>(value);
    } else {
      element = value;
    }
    std::memcpy(out + static_cast<size_t>(index) * sizeof(Elem), &element, sizeof(Elem));
    ++index;
  }
  return tensor;
}

StatusOr<Tensor> ContentsInput(const ModelInferRequest::InferInputTensor& input, DataType type, const Shape& shape,
                               int64_t count, const std::string& label, const CodecLimits& limits) {
  const InferTensorContents& c = input.contents();
  const std::string_view field = ContentFieldFor(type);
  std::vector<std::string_view> set = SetContentFields(c);
  if (field.empty()) {
    if (!set.empty() || count != 0) {
      return InvalidArgument(label + ": " + std::string(KServeName(type)) +
                             " data must be sent in raw_input_contents (it has no typed contents field)");
    }
    return Tensor::Allocate(input.name(), type, shape, limits.max_tensor_bytes);
  }
  for (std::string_view other : set) {
    if (other != field) {
      return InvalidArgument(label + " has datatype " + std::string(KServeName(type)) + ", which travels in contents." +
                             std::string(field) + ", but contents." + std::string(other) + " is set");
    }
  }
  int size = 0;
  switch (type) {
    case DataType::kBool:
      size = c.bool_contents_size();
      break;
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      size = c.int_contents_size();
      break;
    case DataType::kInt64:
      size = c.int64_contents_size();
      break;
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      size = c.uint_contents_size();
      break;
    case DataType::kUint64:
      size = c.uint64_contents_size();
      break;
    case DataType::kFp32:
      size = c.fp32_contents_size();
      break;
    case DataType::kFp64:
      size = c.fp64_contents_size();
      break;
    case DataType::kString:
      size = c.bytes_contents_size();
      break;
    default:
      break;
  }
  if (size != count) {
    if (size == 0 && !input.has_contents()) {
      return InvalidArgument(label + " has no data: set contents." + std::string(field) + " or raw_input_contents");
    }
    return InvalidArgument(label + " has " + std::to_string(size) + " values in contents." + std::string(field) +
                           " but shape " + ShapeToString(shape) + " needs " + std::to_string(count));
  }
  const std::string& name = input.name();
  switch (type) {
    case DataType::kBool:
      return CopyTyped<bool>(c.bool_contents(), name, type, shape, label, limits);
    case DataType::kInt8:
      return CopyTyped<int8_t>(c.int_contents(), name, type, shape, label, limits);
    case DataType::kInt16:
      return CopyTyped<int16_t>(c.int_contents(), name, type, shape, label, limits);
    case DataType::kInt32:
      return CopyTyped<int32_t>(c.int_contents(), name, type, shape, label, limits);
    case DataType::kInt64:
      return CopyTyped<int64_t>(c.int64_contents(), name, type, shape, label, limits);
    case DataType::kUint8:
      return CopyTyped<uint8_t>(c.uint_contents(), name, type, shape, label, limits);
    case DataType::kUint16:
      return CopyTyped<uint16_t>(c.uint_contents(), name, type, shape, label, limits);
    case DataType::kUint32:
      return CopyTyped<uint32_t>(c.uint_contents(), name, type, shape, label, limits);
    case DataType::kUint64:
      return CopyTyped<uint64_t>(c.uint64_contents(), name, type, shape, label, limits);
    case DataType::kFp32:
      return CopyTyped<float>(c.fp32_contents(), name, type, shape, label, limits);
    case DataType::kFp64:
      return CopyTyped<double>(c.fp64_contents(), name, type, shape, label, limits);
    case DataType::kString: {
      size_t total = 0;
      for (const std::string& value : c.bytes_contents()) {
        total += value.size() + sizeof(std::string);
        if (total > limits.max_tensor_bytes) {
          return ResourceExhausted(label + ": the data exceeds the limit of " +
                                   std::to_string(limits.max_tensor_bytes) + " bytes per tensor");
        }
      }
      SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(total + c.bytes_contents().size() * kMallocOverhead, label));
      return Tensor::FromStrings(name, shape, {c.bytes_contents().begin(), c.bytes_contents().end()});
    }
    default:
      return Internal(label + ": unhandled datatype");
  }
}

StatusOr<Tensor> RawInput(const std::string& bytes, const ModelInferRequest::InferInputTensor& input, DataType type,
                          const Shape& shape, int64_t count, const std::string& label,
                          const std::shared_ptr<const ModelInferRequest>& owner, const CodecLimits& limits,
                          std::string_view model_name) {
  if (type == DataType::kString) {
    SERVAL_ASSIGN_OR_RETURN(std::vector<std::string> values, DecodeKServeBytesElements(bytes, count, label, limits));
    return Tensor::FromStrings(input.name(), shape, std::move(values));
  }
  SERVAL_ASSIGN_OR_RETURN(size_t needed, ByteSize(count, type, input.name()));
  if (needed != bytes.size()) {
    return KServeByteSizeMismatch(owner->id(), input.name(), model_name, needed, bytes.size());
  }
  if (needed > limits.max_tensor_bytes) {
    return ResourceExhausted(label + ": the data exceeds the limit of " + std::to_string(limits.max_tensor_bytes) +
                             " bytes per tensor");
  }
  return Tensor::Borrow(input.name(), type, shape, {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()},
                        owner);
}

// Parameters that ask for something Serval does not do.
template <typename Map>
Status CheckParameters(const Map& parameters, const std::string& label, bool output) {
  for (const auto& [key, value] : parameters) {
    if (key.starts_with("shared_memory_")) {
      return Unimplemented(label + ": shared-memory " + (output ? "outputs" : "inputs") + " are not supported");
    }
    if (output && key == "classification") {
      // Triton's checks and texts (grpc_utils.cc).
      if (value.parameter_choice_case() != inference::InferParameter::kInt64Param) {
        return InvalidArgument("invalid value type for 'classification' parameter, expected int64_param");
      }
      if (value.int64_param() <= 0) {
        return InvalidArgument("invalid value for 'classification' parameter, expected >= 0");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<InferenceRequest> DecodeModelInferRequest(const std::shared_ptr<const ModelInferRequest>& request,
                                                   const ModelSignature& signature, const CodecLimits& limits,
                                                   std::string_view model_name) {
  const ModelInferRequest& message = *request;
  if (static_cast<size_t>(message.inputs_size()) > limits.max_inputs) {
    return InvalidArgument("the request has more than " + std::to_string(limits.max_inputs) + " inputs");
  }
  if (static_cast<size_t>(message.outputs_size()) > limits.max_outputs) {
    return InvalidArgument("the request asks for more than " + std::to_string(limits.max_outputs) + " outputs");
  }
  if (message.id().size() > limits.max_name_bytes) {
    return InvalidArgument("'id' is longer than " + std::to_string(limits.max_name_bytes) + " bytes");
  }
  const bool raw = message.raw_input_contents_size() > 0;
  if (raw && message.raw_input_contents_size() != message.inputs_size()) {
    return InvalidArgument("raw_input_contents has " + std::to_string(message.raw_input_contents_size()) +
                           " entries but the request has " + std::to_string(message.inputs_size()) +
                           " inputs: it needs one entry per input, in input order");
  }

  InferenceRequest result;
  result.id = message.id();
  result.inputs.reserve(static_cast<size_t>(message.inputs_size()));
  for (int i = 0; i < message.inputs_size(); ++i) {
    const ModelInferRequest::InferInputTensor& input = message.inputs(i);
    const std::string label = InputLabel(input, i);
    if (input.name().empty()) return InvalidArgument(label + " has no name");
    if (input.name().size() > limits.max_name_bytes) {
      return InvalidArgument(label + ": the name is longer than " + std::to_string(limits.max_name_bytes) + " bytes");
    }
    SERVAL_RETURN_IF_ERROR(CheckParameters(input.parameters(), label, /*output=*/false));
    const DataType type = DataTypeFromKServeName(input.datatype());
    if (type == DataType::kInvalid) {
      return InvalidArgument(label + " has unknown datatype '" + input.datatype().substr(0, 40) +
                             "' (expected BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64 or BYTES)");
    }
    if (static_cast<size_t>(input.shape_size()) > limits.max_rank) {
      return InvalidArgument(label + ": 'shape' has more than " + std::to_string(limits.max_rank) + " dimensions");
    }
    const Shape shape(input.shape().begin(), input.shape().end());
    SERVAL_ASSIGN_OR_RETURN(int64_t count, ElementCount(shape, input.name()));
    if (raw && input.has_contents()) {
      return InvalidArgument(label + " sets 'contents' but the request uses raw_input_contents: use one or the other");
    }
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, raw ? RawInput(message.raw_input_contents(i), input, type, shape, count,
                                                          label, request, limits, model_name)
                                               : ContentsInput(input, type, shape, count, label, limits));
    result.inputs.push_back(std::move(tensor));
  }
  result.outputs.reserve(static_cast<size_t>(message.outputs_size()));
  for (int i = 0; i < message.outputs_size(); ++i) {
    const ModelInferRequest::InferRequestedOutputTensor& output = message.outputs(i);
    const std::string label =
        output.name().empty() ? "outputs[" + std::to_string(i) + "]" : "output '" + output.name() + "'";
    if (output.name().empty()) return InvalidArgument(label + " has no name");
    if (output.name().size() > limits.max_name_bytes) {
      return InvalidArgument(label + ": the name is longer than " + std::to_string(limits.max_name_bytes) + " bytes");
    }
    SERVAL_RETURN_IF_ERROR(CheckParameters(output.parameters(), label, /*output=*/true));
    result.outputs.push_back(output.name());
  }
  SERVAL_RETURN_IF_ERROR(ValidateKServeRequest(signature, result, model_name));
  return result;
}

std::vector<KServeClassification> ClassificationRequests(const ModelInferRequest& request) {
  std::vector<KServeClassification> out;
  for (const ModelInferRequest::InferRequestedOutputTensor& output : request.outputs()) {
    auto it = output.parameters().find("classification");
    if (it == output.parameters().end() ||
        it->second.parameter_choice_case() != inference::InferParameter::kInt64Param || it->second.int64_param() <= 0) {
      continue;
    }
    out.push_back({output.name(), std::min<int64_t>(it->second.int64_param(), std::numeric_limits<int32_t>::max())});
  }
  return out;
}

Status EncodeModelInferResponse(const InferenceResponse& response, ModelInferResponse* out) {
  out->Clear();
  SERVAL_RETURN_IF_ERROR(ChargeResponse(response.outputs, ResponseEncoding::kProtobuf));
  out->set_model_name(response.model_name);
  out->set_model_version(std::to_string(response.model_version));
  out->set_id(response.id);
  size_t total = 0;
  for (const Tensor& tensor : response.outputs) {
    ModelInferResponse::InferOutputTensor* meta = out->add_outputs();
    meta->set_name(tensor.name());
    meta->set_datatype(std::string(KServeName(tensor.dtype())));
    meta->mutable_shape()->Add(tensor.shape().begin(), tensor.shape().end());
    std::string* raw = out->add_raw_output_contents();
    if (tensor.dtype() == DataType::kString) {
      SERVAL_RETURN_IF_ERROR(AppendKServeBytesElements(tensor.strings(), "output '" + tensor.name() + "'", raw));
    } else {
      raw->assign(reinterpret_cast<const char*>(tensor.bytes().data()), tensor.bytes().size());
    }
    total += raw->size();
    if (total > kMaxMessageBytes) {
      return ResourceExhausted("the outputs exceed the 2 GiB that one gRPC response message can carry");
    }
  }
  return Status::Ok();
}

void FillTensorMetadata(const std::vector<TensorSpec>& specs,
                        google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out) {
  for (const TensorSpec& spec : specs) {
    inference::ModelMetadataResponse::TensorMetadata* meta = out->Add();
    meta->set_name(spec.name);
    meta->set_datatype(std::string(KServeName(spec.dtype)));
    meta->mutable_shape()->Add(spec.shape.begin(), spec.shape.end());
  }
}

inference::DataType ModelConfigDataType(DataType type) {
  switch (type) {
    case DataType::kBool:
      return inference::TYPE_BOOL;
    case DataType::kUint8:
      return inference::TYPE_UINT8;
    case DataType::kUint16:
      return inference::TYPE_UINT16;
    case DataType::kUint32:
      return inference::TYPE_UINT32;
    case DataType::kUint64:
      return inference::TYPE_UINT64;
    case DataType::kInt8:
      return inference::TYPE_INT8;
    case DataType::kInt16:
      return inference::TYPE_INT16;
    case DataType::kInt32:
      return inference::TYPE_INT32;
    case DataType::kInt64:
      return inference::TYPE_INT64;
    case DataType::kFp16:
      return inference::TYPE_FP16;
    case DataType::kBf16:
      return inference::TYPE_BF16;
    case DataType::kFp32:
      return inference::TYPE_FP32;
    case DataType::kFp64:
      return inference::TYPE_FP64;
    case DataType::kString:
      return inference::TYPE_STRING;
    case DataType::kInvalid:
      break;
  }
  return inference::TYPE_INVALID;
}

inference::ModelConfig ModelConfigFor(const std::string& model_name, const ModelSignature& signature,
                                      std::string_view platform) {
  const bool batching = KServeHasBatchDimension(signature);
  const size_t skip = batching ? 1 : 0;

  inference::ModelConfig config;
  config.set_name(model_name);
  config.set_platform(std::string(platform));
  config.set_backend(platform == kKServeTensorFlowPlatform ? "tensorflow" : "onnxruntime");
  config.set_max_batch_size(batching ? kKServeMaxBatchSize : 0);
  for (const TensorSpec& spec : signature.inputs) {
    inference::ModelInput* input = config.add_input();
    input->set_name(spec.name);
    input->set_data_type(ModelConfigDataType(spec.dtype));
    input->mutable_dims()->Add(spec.shape.begin() + static_cast<std::ptrdiff_t>(skip), spec.shape.end());
  }
  for (const TensorSpec& spec : signature.outputs) {
    inference::ModelOutput* output = config.add_output();
    output->set_name(spec.name);
    output->set_data_type(ModelConfigDataType(spec.dtype));
    output->mutable_dims()->Add(spec.shape.begin() + static_cast<std::ptrdiff_t>(skip), spec.shape.end());
  }
  return config;
}

}  // namespace serval

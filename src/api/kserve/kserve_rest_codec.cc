#include "api/kserve/kserve_rest_codec.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

#include "api/json/json_number.h"
#include "api/json/json_tensor_builder.h"
#include "api/json/json_writer.h"
#include "core/client_message.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

static_assert(std::endian::native == std::endian::little, "binary tensor data is little-endian, as is the host");

// Where the decoder is in the request document (outside values routed to a builder or skipped).
enum class Where {
  kTop,
  kRoot,
  kRequestParams,
  kInputs,
  kInput,
  kShape,
  kInputParams,
  kOutputs,
  kOutput,
  kOutputParams,
  kDone,
};

// What the next value is.
enum class Field {
  kNone,
  kId,
  kRequestParams,
  kInputs,
  kOutputs,
  kBinaryDataOutput,
  kInputName,
  kInputDatatype,
  kInputShape,
  kInputParams,
  kBinaryDataSize,
  kOutputName,
  kOutputParams,
  kOutputBinaryData,
  kOutputClassification,
};

struct InputRecord {
  std::string name;
  bool has_name = false;
  std::string datatype_name;
  DataType dtype = DataType::kInvalid;
  bool has_datatype = false;
  Shape shape;
  bool has_shape = false;
  bool has_parameters = false;
  std::optional<uint64_t> binary_data_size;
  std::optional<JsonTensorBuilder> data;
};

struct OutputRecord {
  std::string name;
  bool has_name = false;
  bool has_parameters = false;
  std::optional<bool> binary_data;
  std::optional<uint64_t> classification;  // Triton's classification extension: the class count (0 = none)
};

uint32_t LoadLittleEndian32(const char* p) {
  uint32_t value = 0;
  std::memcpy(&value, p, sizeof value);
  return value;
}

class KServeInferHandler final : public JsonValueRouter {
 public:
  explicit KServeInferHandler(const CodecLimits& limits) : limits_(limits) {}

  std::string id;
  bool binary_data_output = false;
  std::vector<InputRecord> inputs;
  std::vector<OutputRecord> outputs;

 private:
  bool OnNull() override { return WrongType("null"); }
  bool OnBool(bool value) override;
  bool OnNumber(std::string_view text) override;
  bool OnString(std::string_view value) override;
  bool OnStartObject() override;
  bool OnKey(std::string_view key) override;
  bool OnEndObject() override;
  bool OnStartArray(JsonArrayBody& body) override;
  bool OnEndArray() override;
  bool OnRoutedValueEnd() override { return true; }

  bool Invalid(std::string message) { return Fail(InvalidArgument(std::move(message))); }
  bool WrongType(const char* what);
  bool Expect(Field field) {
    field_ = field;
    return true;
  }
  bool Skip() {
    RouteNextValue(nullptr);
    return true;
  }
  bool Duplicate(std::string_view key) { return Invalid(Label() + " gives '" + std::string(key) + "' more than once"); }
  bool CheckName(std::string_view value, const std::string& what) {
    if (value.size() > limits_.max_name_bytes)
      return Invalid(what + " is longer than " + std::to_string(limits_.max_name_bytes) + " bytes");
    return true;
  }
  // The input or output being decoded, for messages.
  std::string Label() const;
  bool RootKey(std::string_view key);
  bool InputKey(std::string_view key);
  bool OutputKey(std::string_view key);

  const CodecLimits& limits_;
  Where where_ = Where::kTop;
  Field field_ = Field::kNone;
  bool has_id_ = false;
  bool has_request_parameters_ = false;
  bool has_inputs_ = false;
  bool has_outputs_ = false;
  bool has_binary_data_output_ = false;
};

std::string KServeInferHandler::Label() const {
  switch (where_) {
    case Where::kInput:
    case Where::kShape:
    case Where::kInputParams: {
      const InputRecord& input = inputs.back();
      return input.has_name ? "input '" + input.name + "'" : "inputs[" + std::to_string(inputs.size() - 1) + "]";
    }
    case Where::kOutput:
    case Where::kOutputParams: {
      const OutputRecord& output = outputs.back();
      return output.has_name ? "output '" + output.name + "'" : "outputs[" + std::to_string(outputs.size() - 1) + "]";
    }
    default:
      return "the request";
  }
}

bool KServeInferHandler::WrongType(const char* what) {
  const std::string label = Label();
  switch (field_) {
    case Field::kId:
      return Invalid(std::string("'id' must be a string, not ") + what);
    case Field::kRequestParams:
    case Field::kInputParams:
    case Field::kOutputParams:
      return Invalid(label + ": 'parameters' must be an object, not " + what);
    case Field::kInputs:
      return Invalid(std::string("'inputs' must be a list, not ") + what);
    case Field::kOutputs:
      return Invalid(std::string("'outputs' must be a list, not ") + what);
    case Field::kBinaryDataOutput:
      return Invalid(std::string("'binary_data_output' must be a boolean, not ") + what);
    case Field::kOutputBinaryData:
      return Invalid(label + ": 'binary_data' must be a boolean, not " + what);
    case Field::kOutputClassification:
      return Invalid(label + ": 'classification' must be a non-negative integer, not " + what);
    case Field::kInputName:
    case Field::kOutputName:
      return Invalid(label + ": 'name' must be a string, not " + what);
    case Field::kInputDatatype:
      return Invalid(label + ": 'datatype' must be a string, not " + what);
    case Field::kInputShape:
      return Invalid(label + ": 'shape' must be a list of integers, not " + what);
    case Field::kBinaryDataSize:
      return Invalid(label + ": 'binary_data_size' must be an integer, not " + what);
    case Field::kNone:
      break;
  }
  switch (where_) {
    case Where::kTop:
      return Invalid("the request body must be a JSON object");
    case Where::kInputs:
      return Invalid("'inputs' must be a list of objects");
    case Where::kOutputs:
      return Invalid("'outputs' must be a list of objects");
    case Where::kShape:
      return Invalid(label + ": 'shape' must be a list of integers, not one holding " + what);
    default:
      return Invalid(std::string("unexpected ") + what + " in the request");
  }
}

bool KServeInferHandler::OnBool(bool value) {
  Field field = std::exchange(field_, Field::kNone);
  if (field == Field::kBinaryDataOutput) {
    binary_data_output = value;
    return true;
  }
  if (field == Field::kOutputBinaryData) {
    outputs.back().binary_data = value;
    return true;
  }
  field_ = field;
  return WrongType("a boolean");
}

bool KServeInferHandler::OnNumber(std::string_view text) {
  if (field_ == Field::kNone && where_ == Where::kShape) {
    InputRecord& input = inputs.back();
    if (input.shape.size() >= limits_.max_rank) {
      return Invalid(Label() + ": 'shape' has more than " + std::to_string(limits_.max_rank) + " dimensions");
    }
    JsonNumber number;
    int64_t dim = 0;
    if (!LexJsonNumberText(text, &number) ||
        StoreJsonNumber<DataType::kInt64>(number, reinterpret_cast<std::byte*>(&dim)) != NumberError::kOk) {
      return Invalid(Label() + ": 'shape' holds " + std::string(text.substr(0, 40)) + ", which is not an int64");
    }
    if (input.shape.empty()) input.shape.reserve(8);  // one allocation for the usual shape
    input.shape.push_back(dim);
    return true;
  }
  if (field_ == Field::kBinaryDataSize) {
    field_ = Field::kNone;
    JsonNumber number;
    uint64_t size = 0;
    if (!LexJsonNumberText(text, &number) ||
        StoreJsonNumber<DataType::kUint64>(number, reinterpret_cast<std::byte*>(&size)) != NumberError::kOk ||
        size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Invalid(Label() + ": 'binary_data_size' must be a non-negative int64, not " +
                     std::string(text.substr(0, 40)));
    }
    inputs.back().binary_data_size = size;
    return true;
  }
  if (field_ == Field::kOutputClassification) {
    JsonNumber number;
    uint64_t count = 0;
    if (!LexJsonNumberText(text, &number) ||
        StoreJsonNumber<DataType::kUint64>(number, reinterpret_cast<std::byte*>(&count)) != NumberError::kOk) {
      return Invalid(Label() + ": 'classification' must be a non-negative integer, not " +
                     std::string(text.substr(0, 40)));
    }
    field_ = Field::kNone;
    outputs.back().classification = count;
    return true;
  }
  return WrongType("a number");
}

bool KServeInferHandler::OnString(std::string_view value) {
  Field field = std::exchange(field_, Field::kNone);
  switch (field) {
    case Field::kId:
      if (!CheckName(value, "'id'")) return false;
      id = std::string(value);
      return true;
    case Field::kInputName: {
      if (!CheckName(value, Label() + ": 'name'")) return false;
      InputRecord& input = inputs.back();
      input.name = std::string(value);
      input.has_name = true;
      return true;
    }
    case Field::kInputDatatype: {
      InputRecord& input = inputs.back();
      input.dtype = DataTypeFromKServeName(value);
      if (input.dtype == DataType::kInvalid) {
        return Invalid(Label() + " has unknown datatype '" + std::string(value.substr(0, 40)) +
                       "' (expected BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64 or BYTES)");
      }
      input.has_datatype = true;
      return true;
    }
    case Field::kOutputName: {
      if (!CheckName(value, Label() + ": 'name'")) return false;
      OutputRecord& output = outputs.back();
      output.name = std::string(value);
      output.has_name = true;
      return true;
    }
    default:
      field_ = field;
      return WrongType("a string");
  }
}

bool KServeInferHandler::OnStartObject() {
  Field field = std::exchange(field_, Field::kNone);
  switch (field) {
    case Field::kRequestParams:
      where_ = Where::kRequestParams;
      return true;
    case Field::kInputParams:
      where_ = Where::kInputParams;
      return true;
    case Field::kOutputParams:
      where_ = Where::kOutputParams;
      return true;
    case Field::kNone:
      break;
    default:
      field_ = field;
      return WrongType("an object");
  }
  switch (where_) {
    case Where::kTop:
      where_ = Where::kRoot;
      return true;
    case Where::kInputs:
      if (inputs.size() >= limits_.max_inputs) {
        return Invalid("the request has more than " + std::to_string(limits_.max_inputs) + " inputs");
      }
      inputs.emplace_back();
      where_ = Where::kInput;
      return true;
    case Where::kOutputs:
      if (outputs.size() >= limits_.max_outputs) {
        return Invalid("the request asks for more than " + std::to_string(limits_.max_outputs) + " outputs");
      }
      outputs.emplace_back();
      where_ = Where::kOutput;
      return true;
    default:
      return WrongType("an object");
  }
}

bool KServeInferHandler::OnKey(std::string_view key) {
  switch (where_) {
    case Where::kRoot:
      return RootKey(key);
    case Where::kRequestParams:
      if (key == "binary_data_output") {
        if (std::exchange(has_binary_data_output_, true)) return Duplicate(key);
        return Expect(Field::kBinaryDataOutput);
      }
      return Skip();
    case Where::kInput:
      return InputKey(key);
    case Where::kInputParams:
      if (key == "binary_data_size") {
        if (inputs.back().binary_data_size) return Duplicate(key);
        return Expect(Field::kBinaryDataSize);
      }
      if (key.starts_with("shared_memory_")) {
        return Fail(Unimplemented(Label() + ": shared-memory inputs are not supported"));
      }
      return Skip();
    case Where::kOutput:
      return OutputKey(key);
    case Where::kOutputParams:
      if (key == "binary_data") {
        if (outputs.back().binary_data) return Duplicate(key);
        return Expect(Field::kOutputBinaryData);
      }
      if (key == "classification") {
        if (outputs.back().classification) return Duplicate(key);
        return Expect(Field::kOutputClassification);
      }
      if (key.starts_with("shared_memory_")) {
        return Fail(Unimplemented(Label() + ": shared-memory outputs are not supported"));
      }
      return Skip();
    default:
      return Invalid("unexpected key in the request");
  }
}

bool KServeInferHandler::RootKey(std::string_view key) {
  if (key == "id") {
    if (std::exchange(has_id_, true)) return Duplicate(key);
    return Expect(Field::kId);
  }
  if (key == "parameters") {
    if (std::exchange(has_request_parameters_, true)) return Duplicate(key);
    return Expect(Field::kRequestParams);
  }
  if (key == "inputs") {
    if (std::exchange(has_inputs_, true)) return Duplicate(key);
    return Expect(Field::kInputs);
  }
  if (key == "outputs") {
    if (std::exchange(has_outputs_, true)) return Duplicate(key);
    return Expect(Field::kOutputs);
  }
  return Skip();  // model_name, model_version and anything else
}

bool KServeInferHandler::InputKey(std::string_view key) {
  InputRecord& input = inputs.back();
  if (key == "name") return input.has_name ? Duplicate(key) : Expect(Field::kInputName);
  if (key == "datatype") return input.has_datatype ? Duplicate(key) : Expect(Field::kInputDatatype);
  if (key == "shape") return input.has_shape ? Duplicate(key) : Expect(Field::kInputShape);
  if (key == "parameters") {
    if (std::exchange(input.has_parameters, true)) return Duplicate(key);
    return Expect(Field::kInputParams);
  }
  if (key == "data") {
    if (input.data) return Duplicate(key);
    // The type is known when "datatype" came first (the usual order); otherwise the builder keeps text.
    input.data.emplace(Label(), input.dtype,
                       JsonTensorBuilder::Options{JsonTensorBuilder::Shaping::kCount, false, false}, limits_);
    if (input.has_shape && input.has_datatype && input.dtype != DataType::kString) input.data->ExpectShape(input.shape);
    RouteNextValue(&*input.data);
    return true;
  }
  return Skip();
}

bool KServeInferHandler::OutputKey(std::string_view key) {
  OutputRecord& output = outputs.back();
  if (key == "name") return output.has_name ? Duplicate(key) : Expect(Field::kOutputName);
  if (key == "parameters") {
    if (std::exchange(output.has_parameters, true)) return Duplicate(key);
    return Expect(Field::kOutputParams);
  }
  return Skip();
}

bool KServeInferHandler::OnEndObject() {
  switch (where_) {
    case Where::kRoot:
      where_ = Where::kDone;
      return true;
    case Where::kRequestParams:
      where_ = Where::kRoot;
      return true;
    case Where::kInput:
      where_ = Where::kInputs;
      return true;
    case Where::kInputParams:
      where_ = Where::kInput;
      return true;
    case Where::kOutput:
      if (!outputs.back().has_name) return Invalid(Label() + " has no 'name'");
      where_ = Where::kOutputs;
      return true;
    case Where::kOutputParams:
      where_ = Where::kOutput;
      return true;
    default:
      return Invalid("unexpected end of object in the request");
  }
}

bool KServeInferHandler::OnStartArray(JsonArrayBody&) {
  Field field = std::exchange(field_, Field::kNone);
  switch (field) {
    case Field::kInputs:
      where_ = Where::kInputs;
      return true;
    case Field::kOutputs:
      where_ = Where::kOutputs;
      return true;
    case Field::kInputShape:
      inputs.back().has_shape = true;
      where_ = Where::kShape;
      return true;
    case Field::kNone:
      break;
    default:
      field_ = field;
      return WrongType("a list");
  }
  return WrongType("a list");
}

bool KServeInferHandler::OnEndArray() {
  switch (where_) {
    case Where::kInputs:
    case Where::kOutputs:
      where_ = Where::kRoot;
      return true;
    case Where::kShape:
      where_ = Where::kInput;
      return true;
    default:
      return Invalid("unexpected end of list in the request");
  }
}

std::string InputLabel(const InputRecord& input, size_t index) {
  return input.has_name ? "input '" + input.name + "'" : "inputs[" + std::to_string(index) + "]";
}

StatusOr<Tensor> BinaryInput(const InputRecord& input, const std::string& label, std::string_view bytes,
                             const std::shared_ptr<const std::string>& body, const CodecLimits& limits,
                             std::string_view model_name, std::string_view request_id) {
  SERVAL_ASSIGN_OR_RETURN(int64_t count, ElementCount(input.shape, input.name));
  if (input.dtype == DataType::kString) {
    SERVAL_ASSIGN_OR_RETURN(std::vector<std::string> values, DecodeKServeBytesElements(bytes, count, label, limits));
    return Tensor::FromStrings(input.name, input.shape, std::move(values));
  }
  SERVAL_ASSIGN_OR_RETURN(size_t needed, ByteSize(count, input.dtype, input.name));
  if (needed != bytes.size()) return KServeByteSizeMismatch(request_id, input.name, model_name, needed, bytes.size());
  if (needed > limits.max_tensor_bytes) {
    return ResourceExhausted(label + ": the data exceeds the limit of " + std::to_string(limits.max_tensor_bytes) +
                             " bytes per tensor");
  }
  return Tensor::Borrow(input.name, input.dtype, input.shape,
                        {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, body);
}

StatusOr<KServeInferRequest> DecodeRawBinary(const std::shared_ptr<const std::string>& body,
                                             std::string_view model_name, const ModelSignature& signature,
                                             const CodecLimits& limits) {
  if (signature.inputs.size() != 1) {
    return InvalidArgument(
        "a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one "
        "input, but this model has " +
        std::to_string(signature.inputs.size()));
  }
  const TensorSpec& spec = signature.inputs[0];
  const std::string label = "input '" + spec.name + "'";
  KServeInferRequest result;
  result.output_options.binary_data_output = true;
  Shape shape = spec.shape;
  if (spec.dtype == DataType::kString) {
    for (int64_t& dim : shape) {
      if (dim == -1) dim = 1;
    }
    SERVAL_ASSIGN_OR_RETURN(int64_t count, ElementCount(shape, spec.name));
    if (count != 1) {
      return InvalidArgument("a raw binary request needs a BYTES input of shape [1], but " + label + " has shape " +
                             ShapeToString(spec.shape));
    }
    std::string_view bytes(*body);
    if (bytes.size() > limits.max_tensor_bytes) {
      return ResourceExhausted(label + ": the data exceeds the limit of " + std::to_string(limits.max_tensor_bytes) +
                               " bytes per tensor");
    }
    // Exactly one length-prefixed element (Triton's serialized form) is unwrapped; otherwise the body is
    // the element.
    if (bytes.size() >= 4 && LoadLittleEndian32(bytes.data()) == bytes.size() - 4) bytes.remove_prefix(4);
    result.request.inputs.push_back(Tensor::FromStrings(spec.name, shape, {std::string(bytes)}));
  } else {
    auto variable = [&shape] { return std::count(shape.begin(), shape.end(), int64_t{-1}); };
    if (variable() > 1 && !shape.empty() && shape[0] == -1) shape[0] = 1;  // batch 1
    if (variable() > 1) {
      return InvalidArgument("a raw binary request cannot infer the shape of " + label + " " +
                             ShapeToString(spec.shape) + ": it has more than one variable dimension besides the batch");
    }
    if (variable() == 1) {
      Shape fixed = shape;
      std::replace(fixed.begin(), fixed.end(), int64_t{-1}, int64_t{1});
      SERVAL_ASSIGN_OR_RETURN(int64_t fixed_count, ElementCount(fixed, spec.name));
      StatusOr<size_t> unit = ByteSize(fixed_count, spec.dtype, spec.name);
      if (!unit.ok()) return unit.status();
      if (*unit == 0 || body->size() % *unit != 0) {
        return InvalidArgument("a raw binary request of " + std::to_string(body->size()) + " bytes does not fit " +
                               label + " of shape " + ShapeToString(spec.shape) + " and type " +
                               std::string(KServeName(spec.dtype)));
      }
      std::replace(shape.begin(), shape.end(), int64_t{-1}, static_cast<int64_t>(body->size() / *unit));
    }
    InputRecord record;
    record.name = spec.name;
    record.dtype = spec.dtype;
    record.shape = shape;
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, BinaryInput(record, label, *body, body, limits, model_name, {}));
    result.request.inputs.push_back(std::move(tensor));
  }
  SERVAL_RETURN_IF_ERROR(ValidateKServeRequest(signature, result.request, model_name));
  return result;
}

void WriteShape(JsonOut& out, const Shape& shape) {
  out.Append('[');
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out.Append(',');
    WriteJsonInt(out, shape[i]);
  }
  out.Append(']');
}

void WriteTensorMetadata(JsonOut& out, const std::vector<TensorSpec>& specs) {
  out.Append('[');
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i != 0) out.Append(',');
    out.Append("{\"name\":");
    WriteJsonString(out, specs[i].name);
    out.Append(",\"datatype\":\"");
    out.Append(KServeName(specs[i].dtype));
    out.Append("\",\"shape\":");
    WriteShape(out, specs[i].shape);
    out.Append('}');
  }
  out.Append(']');
}

// Triton model-configuration tensors: {"name","data_type":"TYPE_FP32","dims":[...]}, without the batch
// dimension when `batch`.
void WriteConfigTensors(JsonOut& out, const std::vector<TensorSpec>& specs, bool batch) {
  out.Append('[');
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i != 0) out.Append(',');
    out.Append("{\"name\":");
    WriteJsonString(out, specs[i].name);
    out.Append(",\"data_type\":\"TYPE_");
    out.Append(specs[i].dtype == DataType::kString ? std::string_view("STRING") : KServeName(specs[i].dtype));
    out.Append("\",\"dims\":");
    WriteShape(out, batch ? Shape(specs[i].shape.begin() + 1, specs[i].shape.end()) : specs[i].shape);
    out.Append('}');
  }
  out.Append(']');
}

void WriteStringList(JsonOut& out, const std::vector<std::string>& values) {
  out.Append('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out.Append(',');
    WriteJsonString(out, values[i]);
  }
  out.Append(']');
}

// A JSON syntax error in Triton's words: ParseJson's "malformed JSON at offset N: <RapidJSON's text>" becomes
// "failed to parse the request JSON buffer: <RapidJSON's text> at N" (Triton parses with RapidJSON too, so the
// texts are the same). Any other status is returned as it is.
Status TritonJsonSyntaxError(Status status) {
  static constexpr std::string_view kMalformed = "malformed JSON at offset ";
  const std::string_view message = status.message();
  if (status.ok() || !message.starts_with(kMalformed)) return status;
  const std::string_view rest = message.substr(kMalformed.size());
  const size_t colon = rest.find(": ");
  if (colon == std::string_view::npos) return status;
  return InvalidArgument("failed to parse the request JSON buffer: " + std::string(rest.substr(colon + 2)) + " at " +
                         std::string(rest.substr(0, colon)));
}

}  // namespace

StatusOr<size_t> ParseInferenceHeaderContentLength(std::string_view value) {
  size_t length = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (value.empty() || value[0] == '-' || value[0] == '+' || error != std::errc() ||
      end != value.data() + value.size()) {
    return InvalidArgument("Inference-Header-Content-Length must be a non-negative integer, not '" +
                           std::string(value.substr(0, 40)) + "'");
  }
  return length;
}

StatusOr<KServeInferRequest> DecodeKServeInferRequest(const std::shared_ptr<const std::string>& body,
                                                      std::optional<size_t> json_header_length,
                                                      const ModelSignature& signature, const CodecLimits& limits,
                                                      std::string_view model_name) {
  if (body == nullptr) return InvalidArgument("the request has no body");
  if (json_header_length && *json_header_length > body->size()) {
    return InvalidArgument("Inference-Header-Content-Length is " + std::to_string(*json_header_length) +
                           " but the body has only " + std::to_string(body->size()) + " bytes");
  }
  if (json_header_length && *json_header_length == 0) return DecodeRawBinary(body, model_name, signature, limits);

  const std::string_view whole(*body);
  const std::string_view json = json_header_length ? whole.substr(0, *json_header_length) : whole;
  const std::string_view binary = json_header_length ? whole.substr(*json_header_length) : std::string_view();

  std::optional<KServeInferHandler> handler;
  SERVAL_RETURN_IF_ERROR(TritonJsonSyntaxError(ParseJsonFast(
      json, [&]() -> JsonHandler& { return handler.emplace(limits); }, body->capacity())));

  KServeInferRequest result;
  InferenceRequest& request = result.request;
  request.id = std::move(handler->id);
  size_t offset = 0;
  for (size_t i = 0; i < handler->inputs.size(); ++i) {
    InputRecord& input = handler->inputs[i];
    const std::string label = InputLabel(input, i);
    if (!input.has_name) return InvalidArgument(label + " has no 'name'");
    if (!input.has_datatype) return InvalidArgument(label + " has no 'datatype'");
    if (!input.has_shape) return InvalidArgument(label + " has no 'shape'");
    if (input.binary_data_size && input.data) {
      return InvalidArgument(label + " has both 'data' and parameters.binary_data_size");
    }
    if (input.binary_data_size) {
      if (!json_header_length) {
        return InvalidArgument(label +
                               " has parameters.binary_data_size but the request has no "
                               "Inference-Header-Content-Length header");
      }
      const uint64_t size = *input.binary_data_size;
      if (size > binary.size() - offset) {
        return InvalidArgument(label + ": binary_data_size " + std::to_string(size) + " exceeds the " +
                               std::to_string(binary.size() - offset) + " bytes left after the JSON header");
      }
      SERVAL_ASSIGN_OR_RETURN(
          Tensor tensor, BinaryInput(input, label, binary.substr(offset, size), body, limits, model_name, request.id));
      offset += size;
      request.inputs.push_back(std::move(tensor));
    } else if (input.data) {
      SERVAL_ASSIGN_OR_RETURN(Tensor tensor, input.data->Finish(input.name, input.dtype, &input.shape));
      request.inputs.push_back(std::move(tensor));
    } else {
      return InvalidArgument(label + " has neither 'data' nor parameters.binary_data_size");
    }
  }
  if (offset != binary.size()) {
    return InvalidArgument("the inputs' binary_data_size values add up to " + std::to_string(offset) + " bytes but " +
                           std::to_string(binary.size()) + " bytes follow the JSON header");
  }
  result.output_options.binary_data_output = handler->binary_data_output;
  for (OutputRecord& output : handler->outputs) {
    // As Triton: an output the request lists is JSON unless it sets binary_data itself; binary_data_output
    // decides only for the outputs it does not list.
    result.output_options.binary_data.emplace_back(output.name, output.binary_data.value_or(false));
    if (output.classification.value_or(0) > 0) {
      result.classification.push_back({output.name, static_cast<int64_t>(std::min<uint64_t>(
                                                        *output.classification, std::numeric_limits<int32_t>::max()))});
    }
    request.outputs.push_back(std::move(output.name));
  }
  SERVAL_RETURN_IF_ERROR(ValidateKServeRequest(signature, request, model_name));
  return result;
}

Status EncodeKServeInferResponse(const InferenceResponse& response, const KServeOutputOptions& options,
                                 std::string* out, size_t* json_header_length) {
  SERVAL_RETURN_IF_ERROR(ChargeResponse(response.outputs, ResponseEncoding::kJson));
  const size_t start = out->size();
  std::vector<bool> binary(response.outputs.size());
  std::vector<size_t> binary_size(response.outputs.size(), 0);
  bool any_binary = false;
  size_t estimate = 128;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const Tensor& tensor = response.outputs[i];
    binary[i] = options.Binary(tensor.name());
    estimate += tensor.name().size() + 64;
    if (!binary[i]) {
      // JSON text cannot carry arbitrary bytes; rather than alter them, ask for the binary extension.
      if (tensor.dtype() == DataType::kString) {
        for (const std::string& value : tensor.strings()) {
          if (!IsValidUtf8(value)) {
            return InvalidArgument("output '" + tensor.name() +
                                   "' holds BYTES that are not valid UTF-8 and cannot be sent as JSON; request it "
                                   "with \"parameters\":{\"binary_data\":true}");
          }
        }
      }
      estimate += static_cast<size_t>(tensor.element_count()) * (tensor.dtype() == DataType::kFp64 ? 20 : 12);
      continue;
    }
    any_binary = true;
    if (tensor.dtype() == DataType::kString) {
      for (const std::string& value : tensor.strings()) {
        if (value.size() > std::numeric_limits<uint32_t>::max()) {
          return InvalidArgument("output '" + tensor.name() + "' has a BYTES element over 4 GiB");
        }
        binary_size[i] += 4 + value.size();
      }
    } else {
      binary_size[i] = tensor.bytes().size();
    }
    estimate += binary_size[i];
  }
  out->reserve(start + estimate);

  {
    JsonOut json(out);
    json.Append("{\"model_name\":");
    WriteJsonString(json, response.model_name);
    json.Append(",\"model_version\":\"");
    WriteJsonInt(json, response.model_version);
    json.Append('"');
    if (!response.id.empty()) {
      json.Append(",\"id\":");
      WriteJsonString(json, response.id);
    }
    json.Append(",\"outputs\":[");
    for (size_t i = 0; i < response.outputs.size(); ++i) {
      const Tensor& tensor = response.outputs[i];
      if (i != 0) json.Append(',');
      json.Append("{\"name\":");
      WriteJsonString(json, tensor.name());
      json.Append(",\"datatype\":\"");
      json.Append(KServeName(tensor.dtype()));
      json.Append("\",\"shape\":");
      WriteShape(json, tensor.shape());
      if (binary[i]) {
        json.Append(",\"parameters\":{\"binary_data_size\":");
        WriteJsonUint(json, binary_size[i]);
        json.Append("}}");
      } else {
        json.Append(",\"data\":");
        const int64_t count = tensor.element_count();
        WriteTensorJson(json, tensor, std::span<const int64_t>(&count, 1), 0, JsonStringStyle::kString);
        json.Append('}');
      }
    }
    json.Append("]}");
  }
  *json_header_length = any_binary ? out->size() - start : 0;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    if (!binary[i]) continue;
    const Tensor& tensor = response.outputs[i];
    if (tensor.dtype() == DataType::kString) {
      SERVAL_RETURN_IF_ERROR(AppendKServeBytesElements(tensor.strings(), "output '" + tensor.name() + "'", out));
    } else {
      out->append(reinterpret_cast<const char*>(tensor.bytes().data()), tensor.bytes().size());
    }
  }
  return Status::Ok();
}

std::string EncodeKServeError(const Status& status) {
  std::string out = "{\"error\":";
  AppendJsonString(&out, ClientMessage(status.message()));
  out += '}';
  return out;
}

std::string EncodeKServeModelMetadata(std::string_view name, const std::vector<std::string>& versions,
                                      std::string_view platform, const ModelSignature& signature) {
  std::string out;
  JsonOut json(&out);
  json.Append("{\"name\":");
  WriteJsonString(json, name);
  if (!versions.empty()) {
    json.Append(",\"versions\":");
    WriteStringList(json, versions);
  }
  json.Append(",\"platform\":");
  WriteJsonString(json, platform);
  json.Append(",\"inputs\":");
  WriteTensorMetadata(json, signature.inputs);
  json.Append(",\"outputs\":");
  WriteTensorMetadata(json, signature.outputs);
  json.Append('}');
  json.Flush();
  return out;
}

std::string EncodeKServeModelConfig(std::string_view name, std::string_view platform, const ModelSignature& signature) {
  std::string out;
  JsonOut json(&out);
  json.Append("{\"name\":");
  WriteJsonString(json, name);
  json.Append(",\"platform\":");
  WriteJsonString(json, platform);
  const bool batch = KServeHasBatchDimension(signature);
  json.Append(",\"backend\":\"onnxruntime\",\"max_batch_size\":");
  WriteJsonInt(json, batch ? kKServeMaxBatchSize : 0);
  json.Append(",\"input\":");
  WriteConfigTensors(json, signature.inputs, batch);
  json.Append(",\"output\":");
  WriteConfigTensors(json, signature.outputs, batch);
  json.Append('}');
  json.Flush();
  return out;
}

std::string EncodeKServeServerMetadata(std::string_view name, std::string_view version,
                                       const std::vector<std::string>& extensions) {
  std::string out;
  JsonOut json(&out);
  json.Append("{\"name\":");
  WriteJsonString(json, name);
  json.Append(",\"version\":");
  WriteJsonString(json, version);
  json.Append(",\"extensions\":");
  WriteStringList(json, extensions);
  json.Append('}');
  json.Flush();
  return out;
}

}  // namespace serval

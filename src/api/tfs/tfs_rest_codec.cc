#include "api/tfs/tfs_rest_codec.h"

#include <optional>
#include <utility>

#include "api/json/json_tensor_builder.h"
#include "api/json/json_writer.h"
#include "api/tfs/tf_dtype.h"
#include "core/client_message.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

// Where the decoder is in the request document (outside values routed to a tensor builder).
enum class Where {
  kTop,                   // before the root object
  kRoot,                  // in the root object, between members
  kInstancesPending,      // just inside "instances": the first element decides the layout
  kInstancesFirstObject,  // the first instance is an object whose first key is not read yet
  kRows,                  // named row format: between instance objects
  kRow,                   // named row format: inside an instance object
  kInputsPendingObject,   // "inputs" is an object whose first key is not read yet
  kInputsNamed,           // columnar: inside the object of named inputs
  kDone,                  // after the root object
};

// What the next value at the root is.
enum class Expect { kNone, kSignatureName, kInstances, kInputs };

class TfsPredictHandler final : public JsonValueRouter {
 public:
  // `forced_signature_name`: decode against this signature whatever the body names (null: the body's).
  TfsPredictHandler(const TfsSignatureLookup& lookup, const std::string* forced_signature_name,
                    const CodecLimits& limits, size_t body_size)
      : lookup_(lookup), limits_(limits), body_size_(body_size) {
    if (forced_signature_name != nullptr) forced_signature_name_ = *forced_signature_name;
  }

  // After a successful parse: whether the data was decoded against the signature the body names.
  bool NeedsSecondPass() const {
    if (forced_signature_name_) return false;
    if (data_skipped_) return signature_name_seen_;
    return signature_ != nullptr && signature_name_seen_ && resolved_for_ != signature_name_;
  }
  const Status& lookup_error() const { return lookup_error_; }
  bool data_skipped() const { return data_skipped_; }
  const std::string& signature_name() const { return signature_name_; }

  StatusOr<TfsPredictRequest> Finish();

 private:
  enum class Resolve { kReady, kSkip, kFailed };

  bool OnNull() override {
    return OnScalarValue("null", [this] { return JsonValueRouter::Null(); });
  }
  bool OnBool(bool value) override {
    return OnScalarValue("a boolean", [this, value] { return JsonValueRouter::Bool(value); });
  }
  bool OnNumber(std::string_view text) override {
    return OnScalarValue("a number", [this, text] { return JsonValueRouter::Number(text); });
  }
  bool OnString(std::string_view value) override;
  bool OnStartObject() override;
  bool OnKey(std::string_view key) override;
  bool OnEndObject() override;
  bool OnStartArray(JsonArrayBody& body) override;
  bool OnEndArray() override;
  bool OnRoutedValueEnd() override { return true; }

  bool OnScalar(const char* what);
  // A scalar that starts the only input's value ("inputs": 3, or the first of "instances": [3, ...]) is
  // handed to its builder; any other is an error.
  template <typename Redispatch>
  bool OnScalarValue(const char* what, Redispatch redispatch) {
    if (expect_ == Expect::kInputs) {
      expect_ = Expect::kNone;
      JsonTensorBuilder* builder = UnnamedBuilder("'inputs'");
      if (builder == nullptr) return false;
      where_ = Where::kRoot;
      RouteNextValue(builder);
      return redispatch();
    }
    if (expect_ == Expect::kNone && where_ == Where::kInstancesPending) {
      JsonTensorBuilder* builder = UnnamedBuilder("'instances'");
      if (builder == nullptr) return false;
      if (!builder->StartArray()) return FailFrom(*builder);
      where_ = Where::kRoot;
      RouteOpenValue(builder, 1);
      return redispatch();
    }
    return OnScalar(what);
  }
  Resolve EnsureSignature();
  bool RootKey(std::string_view key);
  bool RowKey(std::string_view key);
  bool ColumnKey(std::string_view key);
  // The builder for the model's only input (the unnamed layouts).
  JsonTensorBuilder* UnnamedBuilder(const char* layout);
  JsonTensorBuilder* NamedBuilder(size_t index, bool rows);
  bool Invalid(std::string message) { return Fail(InvalidArgument(std::move(message))); }

  const TfsSignatureLookup& lookup_;
  std::optional<std::string> forced_signature_name_;
  // Presizes a builder for one row of `spec` (fixed dims; -1 counts as 1), when the body can hold it.
  void ReserveOneRow(JsonTensorBuilder& builder, const TensorSpec& spec) const;

  const CodecLimits& limits_;
  size_t body_size_;

  std::string signature_name_ = std::string(kTfsDefaultSignatureName);
  bool signature_name_seen_ = false;
  const ModelSignature* signature_ = nullptr;
  std::string resolved_for_;
  bool data_skipped_ = false;
  Status lookup_error_;

  Where where_ = Where::kTop;
  Expect expect_ = Expect::kNone;
  bool have_instances_ = false;
  bool have_inputs_ = false;

  std::optional<JsonTensorBuilder> unnamed_;
  std::vector<std::optional<JsonTensorBuilder>> named_;  // by signature input index
  int64_t rows_ = 0;
  std::vector<bool> row_seen_;
  std::vector<bool> first_row_inputs_;
};

TfsPredictHandler::Resolve TfsPredictHandler::EnsureSignature() {
  if (signature_ != nullptr) return Resolve::kReady;
  std::string name = forced_signature_name_ ? *forced_signature_name_ : signature_name_;
  StatusOr<const ModelSignature*> found = lookup_(name);
  if (found.ok() && *found != nullptr) {
    signature_ = *found;
    resolved_for_ = std::move(name);
    return Resolve::kReady;
  }
  Status error = found.ok() ? NotFound("no signature '" + name + "'") : found.status();
  if (!forced_signature_name_ && !signature_name_seen_) {
    // The body may still name another signature after its data: skip the data, decide at the end.
    data_skipped_ = true;
    lookup_error_ = std::move(error);
    return Resolve::kSkip;
  }
  Fail(std::move(error));
  return Resolve::kFailed;
}

JsonTensorBuilder* TfsPredictHandler::UnnamedBuilder(const char* layout) {
  if (signature_->inputs.size() != 1) {
    Invalid(std::string("the model's signature has ") + std::to_string(signature_->inputs.size()) + " inputs, so " +
            layout + " must name them: use objects of input name to value");
    return nullptr;
  }
  const TensorSpec& spec = signature_->inputs[0];
  unnamed_.emplace("input '" + spec.name + "'", spec.dtype,
                   JsonTensorBuilder::Options{JsonTensorBuilder::Shaping::kInfer, false, true}, limits_);
  ReserveOneRow(*unnamed_, spec);
  return &*unnamed_;
}

void TfsPredictHandler::ReserveOneRow(JsonTensorBuilder& builder, const TensorSpec& spec) const {
  uint64_t elements = 1;
  for (int64_t dim : spec.shape) {
    if (dim > 0 && __builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) return;
  }
  // Every element takes at least two characters of the body.
  if (elements <= body_size_ / 2) builder.ReserveElements(static_cast<size_t>(elements));
}

JsonTensorBuilder* TfsPredictHandler::NamedBuilder(size_t index, bool rows) {
  if (named_.empty()) named_.resize(signature_->inputs.size());
  std::optional<JsonTensorBuilder>& slot = named_[index];
  if (!slot) {
    const TensorSpec& spec = signature_->inputs[index];
    slot.emplace("input '" + spec.name + "'", spec.dtype,
                 JsonTensorBuilder::Options{JsonTensorBuilder::Shaping::kInfer, rows, true}, limits_);
    ReserveOneRow(*slot, spec);
  }
  return &*slot;
}

bool TfsPredictHandler::OnScalar(const char* what) {
  switch (expect_) {
    case Expect::kSignatureName:
      return Invalid(std::string("'signature_name' must be a string, not ") + what);
    case Expect::kInstances:
      return Invalid(std::string("'instances' must be a list, not ") + what);
    case Expect::kInputs:
    case Expect::kNone:
      break;
  }
  if (where_ == Where::kRows) return Invalid("every instance must be an object when the first one is");
  if (where_ == Where::kTop) return Invalid("the request body must be a JSON object");
  return Invalid(std::string("unexpected ") + what + " in the request");
}

bool TfsPredictHandler::OnString(std::string_view value) {
  if (expect_ == Expect::kSignatureName) {
    expect_ = Expect::kNone;
    if (value.size() > limits_.max_name_bytes) return Invalid("'signature_name' is too long");
    signature_name_ = std::string(value);
    signature_name_seen_ = true;
    return true;
  }
  return OnScalarValue("a string", [this, value] { return JsonValueRouter::String(value); });
}

bool TfsPredictHandler::OnStartObject() {
  if (expect_ == Expect::kInputs) {
    expect_ = Expect::kNone;
    where_ = Where::kInputsPendingObject;
    return true;
  }
  if (expect_ != Expect::kNone) return OnScalar("an object");
  switch (where_) {
    case Where::kTop:
      where_ = Where::kRoot;
      return true;
    case Where::kInstancesPending:
      where_ = Where::kInstancesFirstObject;
      return true;
    case Where::kRows:
      ++rows_;
      row_seen_.assign(signature_->inputs.size(), false);
      where_ = Where::kRow;
      return true;
    default:
      return Invalid("unexpected object in the request");
  }
}

bool TfsPredictHandler::OnKey(std::string_view key) {
  switch (where_) {
    case Where::kRoot:
      return RootKey(key);
    case Where::kInstancesFirstObject:
      if (key == "b64") {
        // The instances are {"b64": ...} values of the only input.
        JsonTensorBuilder* builder = UnnamedBuilder("'instances'");
        if (builder == nullptr) return false;
        if (!builder->StartArray() || !builder->StartObject() || !builder->Key(key)) return FailFrom(*builder);
        where_ = Where::kRoot;
        RouteOpenValue(builder, 2);
        return true;
      }
      rows_ = 1;
      row_seen_.assign(signature_->inputs.size(), false);
      where_ = Where::kRow;
      return RowKey(key);
    case Where::kRow:
      return RowKey(key);
    case Where::kInputsPendingObject:
      if (key == "b64") {
        JsonTensorBuilder* builder = UnnamedBuilder("'inputs'");
        if (builder == nullptr) return false;
        if (!builder->StartObject() || !builder->Key(key)) return FailFrom(*builder);
        where_ = Where::kRoot;
        RouteOpenValue(builder, 1);
        return true;
      }
      where_ = Where::kInputsNamed;
      return ColumnKey(key);
    case Where::kInputsNamed:
      return ColumnKey(key);
    default:
      return Invalid("unexpected key in the request");
  }
}

bool TfsPredictHandler::RootKey(std::string_view key) {
  if (key == "signature_name") {
    expect_ = Expect::kSignatureName;
    return true;
  }
  const bool instances = key == "instances";
  if (!instances && key != "inputs") {
    RouteNextValue(nullptr);  // other members are ignored
    return true;
  }
  if (have_instances_ || have_inputs_) {
    return Invalid(have_instances_ == instances
                       ? "'" + std::string(key) + "' is given more than once"
                       : std::string("a request has either 'instances' or 'inputs', not both"));
  }
  (instances ? have_instances_ : have_inputs_) = true;
  switch (EnsureSignature()) {
    case Resolve::kFailed:
      return false;
    case Resolve::kSkip:
      RouteNextValue(nullptr);
      return true;
    case Resolve::kReady:
      break;
  }
  expect_ = instances ? Expect::kInstances : Expect::kInputs;
  return true;
}

bool TfsPredictHandler::RowKey(std::string_view key) {
  const TensorSpec* spec = signature_->FindInput(key);
  const std::string row = "instance " + std::to_string(rows_ - 1);
  if (spec == nullptr) {
    return Invalid(row + " names input '" + std::string(key.substr(0, limits_.max_name_bytes)) +
                   "', which the signature does not have");
  }
  size_t index = static_cast<size_t>(spec - signature_->inputs.data());
  if (row_seen_[index]) return Invalid(row + " gives input '" + spec->name + "' more than once");
  row_seen_[index] = true;
  RouteNextValue(NamedBuilder(index, /*rows=*/true));
  return true;
}

bool TfsPredictHandler::ColumnKey(std::string_view key) {
  const TensorSpec* spec = signature_->FindInput(key);
  if (spec == nullptr) {
    return Invalid("'inputs' names input '" + std::string(key.substr(0, limits_.max_name_bytes)) +
                   "', which the signature does not have");
  }
  size_t index = static_cast<size_t>(spec - signature_->inputs.data());
  if (!named_.empty() && named_[index]) return Invalid("'inputs' gives input '" + spec->name + "' more than once");
  RouteNextValue(NamedBuilder(index, /*rows=*/false));
  return true;
}

bool TfsPredictHandler::OnEndObject() {
  switch (where_) {
    case Where::kRow: {
      if (rows_ == 1) {
        first_row_inputs_ = row_seen_;
      } else if (row_seen_ != first_row_inputs_) {
        return Invalid("instance " + std::to_string(rows_ - 1) +
                       " names different inputs than instance 0; every instance must give the same inputs");
      }
      where_ = Where::kRows;
      return true;
    }
    case Where::kInstancesFirstObject:
      return Invalid("instance 0 is an empty object");
    case Where::kInputsPendingObject:
    case Where::kInputsNamed:
      where_ = Where::kRoot;
      return true;
    case Where::kRoot:
      where_ = Where::kDone;
      return true;
    default:
      return Invalid("unexpected end of object in the request");
  }
}

bool TfsPredictHandler::OnStartArray(JsonArrayBody& body) {
  if (expect_ == Expect::kInstances) {
    expect_ = Expect::kNone;
    // Peek at the first element: objects mean named rows (or b64 values), anything else is the only
    // input's list of rows, read in one go by the fast path.
    std::string_view text = body.text();
    size_t first = text.find_first_not_of(" \t\r\n");
    if (!body.available() || first == std::string_view::npos || text[first] == '{' || text[first] == ']') {
      where_ = Where::kInstancesPending;
      return true;
    }
    JsonTensorBuilder* builder = UnnamedBuilder("'instances'");
    if (builder == nullptr) return false;
    where_ = Where::kRoot;
    return RouteThisArray(builder, body);
  }
  if (expect_ == Expect::kInputs) {
    expect_ = Expect::kNone;
    JsonTensorBuilder* builder = UnnamedBuilder("'inputs'");
    if (builder == nullptr) return false;
    where_ = Where::kRoot;
    return RouteThisArray(builder, body);
  }
  if (expect_ != Expect::kNone) return OnScalar("a list");
  if (where_ == Where::kInstancesPending) {
    // First instance is a list (reached only when the body could not be peeked at).
    JsonTensorBuilder* builder = UnnamedBuilder("'instances'");
    if (builder == nullptr) return false;
    if (!builder->StartArray()) return FailFrom(*builder);
    where_ = Where::kRoot;
    RouteOpenValue(builder, 1);
    return JsonValueRouter::StartArray(body);
  }
  if (where_ == Where::kRows) return Invalid("every instance must be an object when the first one is");
  if (where_ == Where::kTop) return Invalid("the request body must be a JSON object");
  return Invalid("unexpected list in the request");
}

bool TfsPredictHandler::OnEndArray() {
  if (where_ == Where::kRows) {
    where_ = Where::kRoot;
    return true;
  }
  if (where_ == Where::kInstancesPending) return Invalid("'instances' is empty");
  return Invalid("unexpected end of list in the request");
}

StatusOr<TfsPredictRequest> TfsPredictHandler::Finish() {
  if (!have_instances_ && !have_inputs_) {
    return InvalidArgument("the request needs 'instances' (row format) or 'inputs' (columnar format)");
  }
  TfsPredictRequest result;
  result.signature_name = signature_name_;
  result.format = have_instances_ ? TfsFormat::kRow : TfsFormat::kColumnar;
  InferenceRequest& request = result.request;
  if (unnamed_) {
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, unnamed_->Finish(signature_->inputs[0].name));
    request.inputs.push_back(std::move(tensor));
  }
  for (size_t i = 0; i < named_.size(); ++i) {
    if (!named_[i]) continue;
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, named_[i]->Finish(signature_->inputs[i].name));
    request.inputs.push_back(std::move(tensor));
  }
  SERVAL_RETURN_IF_ERROR(ValidateRequest(*signature_, request));
  return result;
}

// --- Encoding --------------------------------------------------------------------------------------------

JsonStringStyle StringStyleFor(const Tensor& tensor) {
  const std::string& name = tensor.name();
  constexpr std::string_view kSuffix = "_bytes";
  bool bytes =
      name.size() >= kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
  return bytes ? JsonStringStyle::kB64Object : JsonStringStyle::kStringOrB64;
}

size_t EstimateJsonBytes(const InferenceResponse& response) {
  size_t bytes = 64;
  for (const Tensor& tensor : response.outputs) {
    size_t per_element = tensor.dtype() == DataType::kFp64 ? 20 : 12;
    bytes += tensor.name().size() + 8 + static_cast<size_t>(tensor.element_count()) * per_element;
  }
  return bytes;
}

void WriteTensorInfo(JsonOut& out, const TensorSpec& spec) {
  WriteJsonString(out, spec.name);
  out.Append(":{\"dtype\":\"");
  out.Append(TfDataTypeName(spec.dtype));
  out.Append("\",\"tensor_shape\":{\"dim\":[");
  for (size_t i = 0; !spec.unknown_rank && i < spec.shape.size(); ++i) {
    if (i != 0) out.Append(',');
    out.Append("{\"size\":\"");
    WriteJsonInt(out, spec.shape[i]);
    out.Append("\",\"name\":\"\"}");
  }
  out.Append(spec.unknown_rank ? "],\"unknown_rank\":true},\"name\":" : "],\"unknown_rank\":false},\"name\":");
  WriteJsonString(out, spec.tensor_name.empty() ? spec.name : spec.tensor_name);
  out.Append('}');
}

// `readable`: bytes readable at body.data() (ParseJsonFast).
StatusOr<TfsPredictRequest> DecodePredict(std::string_view body, size_t readable, const TfsSignatureLookup& lookup,
                                          const CodecLimits& limits) {
  std::string second_pass_name;
  {
    std::optional<TfsPredictHandler> handler;
    SERVAL_RETURN_IF_ERROR(ParseJsonFast(
        body, [&]() -> JsonHandler& { return handler.emplace(lookup, nullptr, limits, body.size()); }, readable));
    if (!handler->NeedsSecondPass()) {
      if (handler->data_skipped()) return handler->lookup_error();
      return handler->Finish();
    }
    second_pass_name = handler->signature_name();
  }
  std::optional<TfsPredictHandler> handler;
  SERVAL_RETURN_IF_ERROR(ParseJsonFast(
      body, [&]() -> JsonHandler& { return handler.emplace(lookup, &second_pass_name, limits, body.size()); },
      readable));
  return handler->Finish();
}

}  // namespace

StatusOr<TfsPredictRequest> DecodeTfsPredictRequest(std::string_view body, const TfsSignatureLookup& lookup,
                                                    const CodecLimits& limits) {
  return DecodePredict(body, body.size(), lookup, limits);
}

StatusOr<TfsPredictRequest> DecodeTfsPredictRequestIn(std::string_view body, size_t readable,
                                                      const TfsSignatureLookup& lookup, const CodecLimits& limits) {
  return DecodePredict(body, readable, lookup, limits);
}

StatusOr<TfsPredictRequest> DecodeTfsPredictRequest(std::string_view body, const ModelSignature& signature,
                                                    const CodecLimits& limits) {
  TfsSignatureLookup lookup = [&signature](std::string_view) -> StatusOr<const ModelSignature*> { return &signature; };
  return DecodeTfsPredictRequest(body, lookup, limits);
}

Status EncodeTfsPredictResponse(const InferenceResponse& response, TfsFormat format, std::string* out) {
  const std::vector<Tensor>& outputs = response.outputs;
  SERVAL_RETURN_IF_ERROR(ChargeResponse(outputs, ResponseEncoding::kJson));
  if (format == TfsFormat::kRow) {
    // Every output must be at least a list and share dimension 0 (TF Serving's rule for "predictions").
    for (const Tensor& tensor : outputs) {
      if (tensor.shape().empty()) {
        return InvalidArgument("output '" + tensor.name() +
                               "' is a scalar, which the row format cannot return; use the columnar 'inputs' format");
      }
      if (tensor.shape()[0] != outputs[0].shape()[0]) {
        return InvalidArgument("output '" + tensor.name() + "' has " + std::to_string(tensor.shape()[0]) +
                               " rows but output '" + outputs[0].name() + "' has " +
                               std::to_string(outputs[0].shape()[0]) +
                               "; the row format needs all outputs to share dimension 0 (use the columnar "
                               "'inputs' format)");
      }
    }
  }
  out->reserve(out->size() + EstimateJsonBytes(response));
  JsonOut json(out);
  if (format == TfsFormat::kColumnar) {
    json.Append("{\"outputs\":");
    if (outputs.size() == 1) {
      WriteTensorJson(json, outputs[0], outputs[0].shape(), 0, StringStyleFor(outputs[0]));
    } else {
      json.Append('{');
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (i != 0) json.Append(',');
        WriteJsonString(json, outputs[i].name());
        json.Append(':');
        WriteTensorJson(json, outputs[i], outputs[i].shape(), 0, StringStyleFor(outputs[i]));
      }
      json.Append('}');
    }
    json.Append('}');
    return Status::Ok();
  }
  json.Append("{\"predictions\":");
  if (outputs.size() == 1) {
    WriteTensorJson(json, outputs[0], outputs[0].shape(), 0, StringStyleFor(outputs[0]));
  } else if (outputs.empty()) {
    json.Append("[]");
  } else {
    const int64_t rows = outputs[0].shape()[0];
    std::vector<int64_t> row_elements(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      row_elements[i] = rows == 0 ? 0 : outputs[i].element_count() / rows;
    }
    json.Append('[');
    for (int64_t row = 0; row < rows; ++row) {
      json.Append(row == 0 ? "{" : ",{");
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (i != 0) json.Append(',');
        WriteJsonString(json, outputs[i].name());
        json.Append(':');
        const Shape& shape = outputs[i].shape();
        WriteTensorJson(json, outputs[i], std::span<const int64_t>(shape).subspan(1), row * row_elements[i],
                        StringStyleFor(outputs[i]));
      }
      json.Append('}');
    }
    json.Append(']');
  }
  json.Append('}');
  return Status::Ok();
}

std::string EncodeTfsError(const Status& status) {
  constexpr size_t kMaxMessageBytes = 256;
  const std::string client_message = ClientMessage(status.message());
  std::string_view message = client_message;
  if (message.size() > kMaxMessageBytes) {
    size_t cut = kMaxMessageBytes;
    // Never split a UTF-8 sequence: back up over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xc0) == 0x80) --cut;
    message = message.substr(0, cut);
  }
  std::string out = "{\"error\":";
  AppendJsonString(&out, message);
  out += '}';
  return out;
}

std::string EncodeTfsModelStatus(const std::vector<VersionStatus>& versions) {
  std::string out;
  JsonOut json(&out);
  json.Append("{\"model_version_status\":[");
  for (size_t i = 0; i < versions.size(); ++i) {
    const VersionStatus& version = versions[i];
    if (i != 0) json.Append(',');
    json.Append("{\"version\":\"");
    WriteJsonInt(json, version.version);
    json.Append("\",\"state\":\"");
    json.Append(VersionStateName(version.state));
    json.Append("\",\"status\":{\"error_code\":\"");
    json.Append(StatusCodeName(version.status.code()));
    json.Append("\",\"error_message\":");
    WriteJsonString(json, ClientMessage(version.status.message()));
    json.Append("}}");
  }
  json.Append("]}");
  json.Flush();
  return out;
}

std::string EncodeTfsModelMetadata(std::string_view model_name, int64_t version, const ModelSignature& signature) {
  return EncodeTfsModelMetadata(model_name, version,
                                std::vector<TfsSignatureDef>{{std::string(kTfsDefaultSignatureName), &signature}});
}

std::string EncodeTfsModelMetadata(std::string_view model_name, int64_t version,
                                   const std::vector<TfsSignatureDef>& signatures) {
  std::string out;
  JsonOut json(&out);
  json.Append("{\"model_spec\":{\"name\":");
  WriteJsonString(json, model_name);
  json.Append(",\"signature_name\":\"\",\"version\":\"");
  WriteJsonInt(json, version);
  json.Append("\"},\"metadata\":{\"signature_def\":{\"signature_def\":{");
  for (size_t s = 0; s < signatures.size(); ++s) {
    const TfsSignatureDef& def = signatures[s];
    if (s != 0) json.Append(',');
    WriteJsonString(json, def.name);
    json.Append(":{\"inputs\":{");
    for (size_t i = 0; def.signature != nullptr && i < def.signature->inputs.size(); ++i) {
      if (i != 0) json.Append(',');
      WriteTensorInfo(json, def.signature->inputs[i]);
    }
    json.Append("},\"outputs\":{");
    for (size_t i = 0; def.signature != nullptr && i < def.signature->outputs.size(); ++i) {
      if (i != 0) json.Append(',');
      WriteTensorInfo(json, def.signature->outputs[i]);
    }
    json.Append("},\"method_name\":");
    WriteJsonString(json, def.method_name);
    json.Append('}');
  }
  json.Append("}}}}");
  json.Flush();
  return out;
}

}  // namespace serval

#include "api/tfs/tfs_grpc_codec.h"

#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "api/tfs/tf_dtype.h"
#include "core/client_message.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

namespace tf = ::tensorflow;
namespace tfs = ::tensorflow::serving;

constexpr size_t kMaxNameInError = 256;
constexpr size_t kMaxProtoBytes = static_cast<size_t>(std::numeric_limits<int32_t>::max());

std::string NameSet(const std::vector<TensorSpec>& specs) {
  std::string text = "{";
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i > 0) text += ",";
    text += specs[i].name;
  }
  return text + "}";
}

FeatureMap ViewFeatures(const tf::Example& example) {
  FeatureMap features;
  for (const auto& [name, feature] : example.features().feature()) features.emplace(name, ViewFeature(feature));
  return features;
}

void SetFeature(const FeatureValues& values, tf::Feature* feature) {
  switch (values.kind) {
    case FeatureKind::kFloat:
      feature->mutable_float_list()->mutable_value()->Assign(values.floats.begin(), values.floats.end());
      break;
    case FeatureKind::kInt64:
      feature->mutable_int64_list()->mutable_value()->Assign(values.int64s.begin(), values.int64s.end());
      break;
    case FeatureKind::kBytes: {
      auto* list = feature->mutable_bytes_list()->mutable_value();
      for (std::string_view value : values.bytes) list->Add(std::string(value));
      break;
    }
  }
}

}  // namespace

FeatureValues ViewFeature(const tf::Feature& feature) {
  FeatureValues values;
  switch (feature.kind_case()) {
    case tf::Feature::kFloatList:
      values.kind = FeatureKind::kFloat;
      values.floats = {feature.float_list().value().data(), static_cast<size_t>(feature.float_list().value_size())};
      break;
    case tf::Feature::kInt64List:
      values.kind = FeatureKind::kInt64;
      values.int64s = {reinterpret_cast<const int64_t*>(feature.int64_list().value().data()),
                       static_cast<size_t>(feature.int64_list().value_size())};
      break;
    case tf::Feature::kBytesList:
      values.kind = FeatureKind::kBytes;
      values.bytes.reserve(static_cast<size_t>(feature.bytes_list().value_size()));
      for (const std::string& value : feature.bytes_list().value()) values.bytes.emplace_back(value);
      break;
    case tf::Feature::KIND_NOT_SET:
      break;  // no values
  }
  return values;
}

StatusOr<Tensor> SerializeExamples(const ExampleBatch& batch, std::string name, size_t max_bytes) {
  if (batch.examples.empty()) return InvalidArgument("Input is empty");
  std::vector<std::string> serialized;
  serialized.reserve(batch.examples.size());
  size_t total = 0;
  // Each row is the context's features merged with the example's: the context is counted per row, so the
  // size is checked before each row is built.
  size_t context_bytes = 0;
  for (const auto& [feature, values] : batch.context) {
    context_bytes += feature.size() + values.floats.size_bytes() + values.int64s.size() * 10;
    for (std::string_view value : values.bytes) context_bytes += value.size() + 2;
  }
  for (const FeatureMap& features : batch.examples) {
    if (total + context_bytes > max_bytes) {
      return ResourceExhausted("the serialized tf.Examples would exceed " + std::to_string(max_bytes) + " bytes");
    }
    tf::Example example;
    auto* map = example.mutable_features()->mutable_feature();
    for (const auto& [feature, values] : batch.context) SetFeature(values, &(*map)[std::string(feature)]);
    for (const auto& [feature, values] : features) {
      tf::Feature& slot = (*map)[std::string(feature)];
      slot.Clear();
      SetFeature(values, &slot);
    }
    serialized.push_back(example.SerializeAsString());
    total += serialized.back().size();
    // Each row (the context included again) is charged as it is made: a context broadcast to many rows
    // stops at the request's memory budget, one row past it at most.
    SERVAL_RETURN_IF_ERROR(
        ChargeRequestMemory(serialized.back().size() + kStringElementOverhead, "the serialized tf.Examples"));
    if (total > max_bytes) {
      return ResourceExhausted("the serialized tf.Examples would exceed " + std::to_string(max_bytes) + " bytes");
    }
  }
  const auto rows = static_cast<int64_t>(serialized.size());
  return Tensor::FromStrings(std::move(name), Shape{rows}, std::move(serialized));
}

StatusOr<TfsModelSpec> DecodeModelSpec(const tfs::ModelSpec& spec) {
  if (spec.name().empty()) return InvalidArgument("ModelSpec.name must be specified");
  TfsModelSpec out;
  out.name = spec.name();
  switch (spec.version_choice_case()) {
    case tfs::ModelSpec::kVersion:
      out.version.number = spec.version().value();
      break;
    case tfs::ModelSpec::kVersionLabel:
      if (spec.version_label().empty()) return InvalidArgument("ModelSpec.version_label is empty");
      out.version.label = spec.version_label();
      break;
    case tfs::ModelSpec::VERSION_CHOICE_NOT_SET:
      break;
  }
  out.signature_name = spec.signature_name();
  return out;
}

void EncodeModelSpec(std::string_view name, int64_t version, std::string_view signature_name, tfs::ModelSpec* out,
                     bool keep_empty_signature) {
  out->Clear();
  out->set_name(std::string(name));
  out->mutable_version()->set_value(version);
  if (signature_name.empty() && !keep_empty_signature) signature_name = kDefaultSignatureName;
  out->set_signature_name(std::string(signature_name));
}

StatusOr<InferenceRequest> DecodePredictRequest(const tfs::PredictRequest& request, const ModelSignature& signature,
                                                const std::shared_ptr<const void>& owner, const CodecLimits& limits) {
  if (static_cast<size_t>(request.inputs_size()) > limits.max_inputs) {
    return InvalidArgument("the request has " + std::to_string(request.inputs_size()) + " inputs, over the limit of " +
                           std::to_string(limits.max_inputs));
  }
  if (static_cast<size_t>(request.output_filter_size()) > limits.max_outputs) {
    return InvalidArgument("output_filter names " + std::to_string(request.output_filter_size()) +
                           " outputs, over the limit of " + std::to_string(limits.max_outputs));
  }
  InferenceRequest out;
  out.inputs.reserve(static_cast<size_t>(request.inputs_size()));
  for (const auto& [name, proto] : request.inputs()) {
    const TensorSpec* spec = signature.FindInput(name);
    if (spec == nullptr) {
      return InvalidArgument("input tensor alias not found in signature: " + name.substr(0, kMaxNameInError) +
                             ". Inputs expected to be in the set " + NameSet(signature.inputs) + ".");
    }
    SERVAL_ASSIGN_OR_RETURN(Tensor tensor, DecodeTensorProto(proto, name, spec->dtype, owner, limits));
    out.inputs.push_back(std::move(tensor));
  }
  out.outputs.reserve(static_cast<size_t>(request.output_filter_size()));
  for (const std::string& name : request.output_filter()) {
    if (signature.FindOutput(name) == nullptr) {
      return InvalidArgument("output tensor alias not found in signature: " + name.substr(0, kMaxNameInError) +
                             ". Outputs expected to be in the set " + NameSet(signature.outputs) + ".");
    }
    for (const std::string& earlier : out.outputs) {
      if (earlier == name) return InvalidArgument("duplicate output tensor alias: " + name);
    }
    out.outputs.push_back(name);
  }
  SERVAL_RETURN_IF_ERROR(ValidateRequest(signature, out));
  return out;
}

Status EncodePredictResponse(const InferenceResponse& response, const tfs::ModelSpec& request_spec,
                             TensorEncoding encoding, tfs::PredictResponse* out) {
  out->Clear();
  SERVAL_RETURN_IF_ERROR(ChargeResponse(response.outputs, ResponseEncoding::kProtobuf));
  // A cheap bound first: the raw payload alone may already be more than one message can carry.
  size_t payload = 0;
  for (const Tensor& tensor : response.outputs) {
    if (tensor.dtype() == DataType::kString) {
      for (const std::string& value : tensor.strings()) payload += value.size();
    } else {
      payload += tensor.bytes().size();
    }
  }
  const auto too_large = [](size_t bytes) {
    return ResourceExhausted("the response would be " + std::to_string(bytes) +
                             " bytes, more than one protobuf message can carry (2 GiB); ask for fewer outputs "
                             "(output_filter) or a smaller batch");
  };
  if (payload > kMaxProtoBytes) return too_large(payload);
  auto* outputs = out->mutable_outputs();
  for (const Tensor& tensor : response.outputs) EncodeTensorProto(tensor, encoding, &(*outputs)[tensor.name()]);
  EncodeModelSpec(request_spec.name(), response.model_version, request_spec.signature_name(),
                  out->mutable_model_spec());
  const size_t encoded = out->ByteSizeLong();
  if (encoded > kMaxProtoBytes) {
    out->Clear();
    return too_large(encoded);
  }
  return Status::Ok();
}

void EncodeSignatureDefMap(const std::vector<SignatureDef>& signatures, tfs::SignatureDefMap* out) {
  out->Clear();
  auto fill = [](const std::vector<TensorSpec>& specs, google::protobuf::Map<std::string, tf::TensorInfo>* infos) {
    for (const TensorSpec& spec : specs) {
      tf::TensorInfo& info = (*infos)[spec.name];
      info.set_name(spec.tensor_name.empty() ? spec.name : spec.tensor_name);
      info.set_dtype(static_cast<tf::DataType>(static_cast<int>(ToTfDataType(spec.dtype))));
      tf::TensorShapeProto* shape = info.mutable_tensor_shape();
      if (spec.unknown_rank) {
        shape->set_unknown_rank(true);
        continue;
      }
      for (int64_t dim : spec.shape) shape->add_dim()->set_size(dim < 0 ? -1 : dim);
    }
  };
  for (const SignatureDef& signature : signatures) {
    tf::SignatureDef& def = (*out->mutable_signature_def())[signature.name];
    fill(signature.io.inputs, def.mutable_inputs());
    fill(signature.io.outputs, def.mutable_outputs());
    def.set_method_name(signature.method_name);
  }
}

void EncodeSignatureDefMap(const ModelSignature& signature, tfs::SignatureDefMap* out) {
  EncodeSignatureDefMap({SignatureDef{std::string(kDefaultSignatureName), std::string(kPredictMethodName), signature}},
                        out);
}

Status CheckMetadataFields(const google::protobuf::RepeatedPtrField<std::string>& fields) {
  if (fields.empty()) return InvalidArgument("GetModelMetadataRequest must specify at least one metadata_field");
  for (const std::string& field : fields) {
    if (field != "signature_def") {
      return InvalidArgument("Metadata field " + field.substr(0, kMaxNameInError) + " is not supported");
    }
  }
  return Status::Ok();
}

void EncodeModelMetadata(std::string_view model_name, int64_t version, const std::vector<SignatureDef>& signatures,
                         tfs::GetModelMetadataResponse* out) {
  out->Clear();
  EncodeModelSpec(model_name, version, "", out->mutable_model_spec(), /*keep_empty_signature=*/true);
  tfs::SignatureDefMap map;
  EncodeSignatureDefMap(signatures, &map);
  (*out->mutable_metadata())["signature_def"].PackFrom(map);
}

void EncodeModelMetadata(std::string_view model_name, int64_t version, const ModelSignature& signature,
                         tfs::GetModelMetadataResponse* out) {
  EncodeModelMetadata(model_name, version,
                      {SignatureDef{std::string(kDefaultSignatureName), std::string(kPredictMethodName), signature}},
                      out);
}

void EncodeModelStatus(const std::vector<VersionStatus>& versions, tfs::GetModelStatusResponse* out) {
  out->Clear();
  for (const VersionStatus& version : versions) {
    tfs::ModelVersionStatus* status = out->add_model_version_status();
    status->set_version(version.version);
    status->set_state(static_cast<tfs::ModelVersionStatus::State>(static_cast<int>(version.state)));
    status->mutable_status()->set_error_code(static_cast<tf::error::Code>(static_cast<int>(version.status.code())));
    status->mutable_status()->set_error_message(ClientMessage(version.status.message()));
  }
}

StatusOr<ExampleBatch> DecodeExampleInput(const tfs::Input& input) {
  const google::protobuf::RepeatedPtrField<tf::Example>* examples = nullptr;
  ExampleBatch batch;
  switch (input.kind_case()) {
    case tfs::Input::kExampleList:
      examples = &input.example_list().examples();
      break;
    case tfs::Input::kExampleListWithContext:
      examples = &input.example_list_with_context().examples();
      batch.context = ViewFeatures(input.example_list_with_context().context());
      break;
    case tfs::Input::KIND_NOT_SET:
      return InvalidArgument("Input is empty: set example_list or example_list_with_context");
  }
  batch.examples.reserve(static_cast<size_t>(examples->size()));
  for (const tf::Example& example : *examples) batch.examples.push_back(ViewFeatures(example));
  return batch;
}

void EncodeClassificationResult(const ClassificationRows& rows, tfs::ClassificationResult* out) {
  out->Clear();
  out->mutable_classifications()->Reserve(static_cast<int>(rows.size()));
  for (const std::vector<ClassScore>& row : rows) {
    tfs::Classifications* classifications = out->add_classifications();
    classifications->mutable_classes()->Reserve(static_cast<int>(row.size()));
    for (const ClassScore& entry : row) {
      tfs::Class* cls = classifications->add_classes();
      cls->set_label(entry.label);
      cls->set_score(entry.score);
    }
  }
}

void EncodeRegressionResult(std::span<const float> values, tfs::RegressionResult* out) {
  out->Clear();
  out->mutable_regressions()->Reserve(static_cast<int>(values.size()));
  for (float value : values) out->add_regressions()->set_value(value);
}

}  // namespace serval

// TfsGrpcCodec: TF Serving's gRPC messages (proto/tensorflow_serving/apis/*.proto, docs/protocols.md §2.2) to and
// from Serval's vocabulary. Pure functions: no I/O, no global state; safe from any thread.
//
// TensorProto → Tensor (DecodeTensorProto):
//   * dtype: tensorflow.DataType numbers as tf_dtype.h maps them; anything else (0, complex, quantized,
//     resource, variant, *_REF, unknown numbers) is INVALID_ARGUMENT. When the signature fixes the type,
//     a different dtype is INVALID_ARGUMENT (TF Serving rejects it too).
//   * tensor_shape: unknown_rank and negative dims are INVALID_ARGUMENT; the element count and byte size
//     are computed with checked arithmetic (core/shape.h) before anything is allocated.
//   * Values come from EXACTLY ONE of:
//       - tensor_content: little-endian bytes whose length must equal elements × element size. The tensor
//         BORROWS them (zero copy) and holds `owner`; DT_STRING cannot use it;
//       - the typed field of the dtype: float_val (FLOAT), double_val (DOUBLE), int_val (INT32, INT16,
//         INT8, UINT16, UINT8; range-checked for the narrow types), int64_val (INT64), bool_val (BOOL),
//         uint32_val (UINT32), uint64_val (UINT64), string_val (STRING), half_val (HALF and BFLOAT16: the
//         16-bit pattern in the low bits of each int32). Exactly one value per element, or ONE value that
//         fills every element (TF's broadcast rule); the broadcast result must fit max_tensor_bytes.
//     Typed values together with tensor_content, values in the wrong typed field only, a value count
//     that is neither 1 nor the element count, and a non-empty shape with no values at all (a declared
//     2 GiB tensor without its bytes) are INVALID_ARGUMENT. Zero elements with no values is fine.
//   * Tensors over CodecLimits::max_tensor_bytes are RESOURCE_EXHAUSTED.
//
// Tensor → TensorProto (EncodeTensorProto): dtype and tensor_shape, then by default the typed field above
// (FP16/BF16 in half_val); with `tensor_content` (--enable_serialization_as_tensor_content) every numeric
// type goes in tensor_content instead. STRING always uses string_val.
//
// ModelSpec: `version` (Int64Value) or `version_label` select the version (ModelManager resolves labels);
// signature_name names one of the version's signatures ("" = serving_default). Responses echo the
// spec as TF Serving does: the request's name, the served version, signature_name "serving_default" when
// the request left it empty.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/json/codec_limits.h"
#include "api/tfs/tfs_examples.h"
#include "core/inference.h"
#include "core/model_status.h"
#include "core/status.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
#include "tensorflow_serving/apis/get_model_status.pb.h"
#include "tensorflow_serving/apis/input.pb.h"
#include "tensorflow_serving/apis/model.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"

namespace serval {

// --- ModelSpec ------------------------------------------------------------------------------------------

struct TfsModelSpec {
  std::string name;
  VersionSelector version;
  std::string signature_name;  // as sent ("" = default)
};

// INVALID_ARGUMENT without a model name. The signature name is resolved by the serving frontend, after the
// model was found (so that a missing model is NOT_FOUND whatever the signature).
// A tensorflow.Feature's values as a view into the message (a feature with no kind set: no values).
FeatureValues ViewFeature(const tensorflow::Feature& feature);

StatusOr<TfsModelSpec> DecodeModelSpec(const tensorflow::serving::ModelSpec& spec);
// name, version (Int64Value), signature_name ("" becomes "serving_default" unless keep_empty_signature).
void EncodeModelSpec(std::string_view name, int64_t version, std::string_view signature_name,
                     tensorflow::serving::ModelSpec* out, bool keep_empty_signature = false);

// --- tensors --------------------------------------------------------------------------------------------

// `name` names the tensor (and the input in errors). `expected` is the signature's dtype (kInvalid: any
// supported dtype). Borrowed tensor_content keeps `owner` alive; pass an empty owner when the message
// outlives every use of the tensor (a gRPC call's request outlives the Run call: it is freed after Finish).
StatusOr<Tensor> DecodeTensorProto(const tensorflow::TensorProto& proto, std::string name, DataType expected,
                                   std::shared_ptr<const void> owner, const CodecLimits& limits = {});

enum class TensorEncoding { kTypedValues, kTensorContent };
// Fills *out (cleared first). REQUIRES: the tensor is not kInvalid.
void EncodeTensorProto(const Tensor& tensor, TensorEncoding encoding, tensorflow::TensorProto* out);

// --- Predict --------------------------------------------------------------------------------------------

// Inputs (decoded against the signature, in any order) and output_filter (unknown or repeated names are
// INVALID_ARGUMENT, listing the signature's outputs). Model name, version and deadline are the caller's.
// The result has passed ValidateRequest. Borrowed inputs keep `owner` alive (see DecodeTensorProto).
StatusOr<InferenceRequest> DecodePredictRequest(const tensorflow::serving::PredictRequest& request,
                                                const ModelSignature& signature,
                                                const std::shared_ptr<const void>& owner,
                                                const CodecLimits& limits = {});
// Outputs by name, and model_spec (EncodeModelSpec with the request's name and signature_name and the
// served version). RESOURCE_EXHAUSTED when the response could not be one protobuf message (over 2 GiB).
Status EncodePredictResponse(const InferenceResponse& response, const tensorflow::serving::ModelSpec& request_spec,
                             TensorEncoding encoding, tensorflow::serving::PredictResponse* out);

// --- metadata and status ----------------------------------------------------------------------------------

// One SignatureDef (inputs/outputs TensorInfo with name, dtype, tensor_shape with -1 for variable dims;
// method_name "tensorflow/serving/predict") under "serving_default" — the content of the REST metadata.
void EncodeSignatureDefMap(const ModelSignature& signature, tensorflow::serving::SignatureDefMap* out);
// Every signature, with its method name; TensorInfo.name is the graph tensor ("x:0") where one is known.
void EncodeSignatureDefMap(const std::vector<SignatureDef>& signatures, tensorflow::serving::SignatureDefMap* out);
// metadata_field must name "signature_def" (only); otherwise INVALID_ARGUMENT.
Status CheckMetadataFields(const google::protobuf::RepeatedPtrField<std::string>& fields);
// model_spec (name, served version, signature_name "") and metadata["signature_def"] = Any(SignatureDefMap).
void EncodeModelMetadata(std::string_view model_name, int64_t version, const ModelSignature& signature,
                         tensorflow::serving::GetModelMetadataResponse* out);
void EncodeModelMetadata(std::string_view model_name, int64_t version, const std::vector<SignatureDef>& signatures,
                         tensorflow::serving::GetModelMetadataResponse* out);

// TF Serving's Classify / Regress on a SavedModel signature: one serialized tf.Example per example (the
// context's features first, the example's own winning, as TF Serving concatenates context and example),
// as a STRING tensor [batch] named `name`. RESOURCE_EXHAUSTED beyond `max_bytes` in total.
StatusOr<Tensor> SerializeExamples(const ExampleBatch& batch, std::string name, size_t max_bytes);
void EncodeModelStatus(const std::vector<VersionStatus>& versions, tensorflow::serving::GetModelStatusResponse* out);

// --- tf.Example (Classify / Regress / MultiInference) -------------------------------------------------------

// Views the examples (and context) of `input` without copying; `input` must outlive the batch.
// INVALID_ARGUMENT when neither example_list nor example_list_with_context is set.
StatusOr<ExampleBatch> DecodeExampleInput(const tensorflow::serving::Input& input);
void EncodeClassificationResult(const ClassificationRows& rows, tensorflow::serving::ClassificationResult* out);
void EncodeRegressionResult(std::span<const float> values, tensorflow::serving::RegressionResult* out);

}  // namespace serval

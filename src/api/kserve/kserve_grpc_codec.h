// KServeGrpcCodec: the KServe v2 / Open Inference Protocol gRPC messages (proto/inference/grpc_service.proto,
// docs/protocols.md §2.7) to and from Serval's vocabulary. Pure functions: no I/O, no global state; safe from
// any thread.
//
// Requests (ModelInferRequest → InferenceRequest):
//   * Each input's data is either typed `contents` (the field its datatype names: bool_contents;
//     int_contents for INT8/16/32, range-checked; int64_contents; uint_contents for UINT8/16/32,
//     range-checked; uint64_contents; fp32_contents; fp64_contents; bytes_contents for BYTES), with exactly
//     as many values as the shape has elements, or its entry of `raw_input_contents`.
//   * raw_input_contents, when present, must have exactly one entry per input, and then no input may set
//     `contents`. A numeric entry's size must equal shape × element size, computed with checked
//     arithmetic before anything is allocated; the tensor BORROWS the entry's bytes (no copy) and keeps the
//     request message alive. A BYTES entry is a sequence of (4-byte little-endian length, bytes) that must
//     hold exactly the shape's element count. FP16 and BF16 have no typed field: raw only.
//   * Unknown datatypes, negative dims, overflowing shapes, sizes or counts that disagree, and requests
//     over the CodecLimits are INVALID_ARGUMENT (RESOURCE_EXHAUSTED for a tensor over the byte cap), and
//     the message names the input.
//   * Requested outputs become InferenceRequest.outputs (empty: all). Parameters are ignored (binary_data
//     means nothing on gRPC), except: shared-memory inputs or outputs are UNIMPLEMENTED; "classification"
//     must be an int64_param > 0 (Triton's texts otherwise), read by ClassificationRequests.
//   * `id` is carried; model name, version and deadline are the caller's. The decoded request has passed
//     ValidateKServeRequest (Triton's texts, naming `model_name`) against the signature.
// Responses (InferenceResponse → ModelInferResponse): as Triton, every output's data goes in
// `raw_output_contents` (one entry per output, in output order; BYTES framed as above) and `outputs` carry
// name, datatype and shape only. model_version is the decimal version; id is echoed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/json/codec_limits.h"
#include "api/kserve/kserve_wire.h"
#include "core/inference.h"
#include "core/status.h"
#include "inference/grpc_service.pb.h"

namespace serval {

// REQUIRES: `request` is not null. Numeric raw inputs borrow from *request and hold `request` (the shared
// owner) for as long as the tensors live.
StatusOr<InferenceRequest> DecodeModelInferRequest(const std::shared_ptr<const inference::ModelInferRequest>& request,
                                                   const ModelSignature& signature, const CodecLimits& limits = {},
                                                   std::string_view model_name = {});

// The outputs a decoded request asks for as Triton's classification extension (kserve_classification.h).
std::vector<KServeClassification> ClassificationRequests(const inference::ModelInferRequest& request);

// Fills *out (cleared first). Fails with INVALID_ARGUMENT for a BYTES element over 4 GiB, RESOURCE_EXHAUSTED
// when the outputs exceed what one protobuf message can carry (2 GiB).
Status EncodeModelInferResponse(const InferenceResponse& response, inference::ModelInferResponse* out);

// ModelMetadataResponse.TensorMetadata / ModelConfig input or output dims for a signature. Shapes keep -1
// for variable dimensions.
void FillTensorMetadata(const std::vector<TensorSpec>& specs,
                        google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out);

// The model configuration Serval reports for a signature (ModelConfig RPC): name, platform
// "onnxruntime_onnx", backend "onnxruntime", inputs and outputs; max_batch_size and dims follow the batch
// rule that the REST /config route follows too (KServeHasBatchDimension in kserve_rest_codec.h).
// `platform`: Triton's name for the engine ("onnxruntime_onnx", "tensorflow_savedmodel").
inference::ModelConfig ModelConfigFor(const std::string& model_name, const ModelSignature& signature,
                                      std::string_view platform = kKServeOnnxPlatform);

// model_config.proto's DataType for a Serval type (TYPE_STRING for BYTES).
inference::DataType ModelConfigDataType(DataType type);

}  // namespace serval

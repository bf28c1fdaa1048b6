// tensorflow.TensorProto as TF Serving gRPC Predict carries it (typed *_val fields, tensor_content, shapes),
// decoded with and without an expected type; and whole PredictRequests.
#include <cstddef>
#include <cstdint>

#include "api/tfs/tfs_grpc_codec.h"
#include "fuzz_signatures.h"
#include "tensorflow/core/framework/tensor.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const serval::ModelSignature kMixed = serval::fuzz::MixedSignature();
  serval::CodecLimits limits;
  limits.max_tensor_bytes = 1 << 20;
  tensorflow::TensorProto proto;
  if (proto.ParseFromArray(data, static_cast<int>(size))) {
    (void)serval::DecodeTensorProto(proto, "x", serval::DataType::kInvalid, {}, limits);
    (void)serval::DecodeTensorProto(proto, "x", serval::DataType::kFp32, {}, limits);
    (void)serval::DecodeTensorProto(proto, "x", serval::DataType::kString, {}, limits);
  }
  tensorflow::serving::PredictRequest request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    (void)serval::DecodePredictRequest(request, kMixed, nullptr, limits);
  }
  return 0;
}

// tensorflow.serving.Input (tf.Example lists, with or without context) as Classify / Regress carry it,
// then the mapping of the examples onto a signature's inputs.
#include <cstddef>
#include <cstdint>

#include "api/tfs/tfs_examples.h"
#include "api/tfs/tfs_grpc_codec.h"
#include "fuzz_signatures.h"
#include "tensorflow_serving/apis/input.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const serval::ModelSignature kMixed = serval::fuzz::MixedSignature();
  static const serval::ModelSignature kOne = serval::fuzz::OneInputSignature();
  tensorflow::serving::Input input;
  if (!input.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto batch = serval::DecodeExampleInput(input);
  if (batch.ok()) {
    serval::CodecLimits limits;
    limits.max_tensor_bytes = 1 << 20;
    (void)serval::ExamplesToInputs(kMixed, *batch, limits);
    (void)serval::ExamplesToInputs(kOne, *batch, limits);
  }
  return 0;
}

// TF Serving REST :classify / :regress bodies ({"examples": [...], "context": {...}}), then the mapping of
// the decoded tf.Examples onto a signature's inputs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/tfs/tfs_examples.h"
#include "fuzz_signatures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const serval::ModelSignature kMixed = serval::fuzz::MixedSignature();
  static const serval::ModelSignature kOne = serval::fuzz::OneInputSignature();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = serval::DecodeTfsExamplesJson(body);
  if (request.ok()) {
    serval::CodecLimits limits;
    limits.max_tensor_bytes = 1 << 20;
    (void)serval::ExamplesToInputs(kMixed, request->batch, limits);
    (void)serval::ExamplesToInputs(kOne, request->batch, limits);
  }
  return 0;
}

// TF Serving REST predict bodies (row "instances" and columnar "inputs" formats, b64 strings, every type).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/tfs/tfs_rest_codec.h"
#include "fuzz_signatures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const serval::ModelSignature kMixed = serval::fuzz::MixedSignature();
  static const serval::ModelSignature kOne = serval::fuzz::OneInputSignature();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  serval::CodecLimits limits;
  limits.max_tensor_bytes = 1 << 20;
  (void)serval::DecodeTfsPredictRequest(body, kMixed, limits);
  (void)serval::DecodeTfsPredictRequest(body, kOne, limits);
  return 0;
}

// KServe v2 REST infer bodies: JSON, and Triton's binary extension (a JSON header of
// Inference-Header-Content-Length bytes followed by raw tensors). The first input byte picks the header
// length mode: no header (all JSON), 0 (raw binary request), or a length taken from the next two bytes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "api/kserve/kserve_rest_codec.h"
#include "fuzz_signatures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const serval::ModelSignature kMixed = serval::fuzz::MixedSignature();
  static const serval::ModelSignature kOne = serval::fuzz::OneInputSignature();
  if (size < 1) return 0;
  std::optional<size_t> header;
  size_t skip = 1;
  if (data[0] >= 0x80 && size >= 3) {
    header = (size_t{data[1]} << 8) | data[2];
    skip = 3;
  } else if (data[0] >= 0x70) {
    header = 0;
  }
  auto body = std::make_shared<const std::string>(reinterpret_cast<const char*>(data) + skip, size - skip);
  serval::CodecLimits limits;
  limits.max_tensor_bytes = 1 << 20;
  (void)serval::DecodeKServeInferRequest(body, header, kMixed, limits);
  (void)serval::DecodeKServeInferRequest(body, header, kOne, limits);
  return 0;
}

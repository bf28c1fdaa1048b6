// KServeRestCodec: the KServe v2 / Open Inference Protocol REST JSON (docs/protocols.md §2.6) with Triton's
// binary tensor data extension, to and from Serval's vocabulary. Pure functions: no I/O, no global state;
// safe from any thread.
//
// Infer requests: {"id"?, "parameters"?, "inputs":[{"name","shape","datatype","parameters"?,"data"?}],
// "outputs"?:[{"name","parameters"?}]}.
//   * JSON data: flat or nested (nesting is not checked, only the count), its element count must equal the
//     shape's. `datatype` is a KServe name; numbers are range-checked for it (json_number.h); BYTES data
//     are JSON strings; BOOL is true/false. FP16/BF16 are accepted as JSON numbers (a Serval extension;
//     the spec wants them binary), rounded to nearest even.
//   * Binary data: an input with "parameters":{"binary_data_size":N} takes the next N bytes after the JSON
//     header (inputs in order). Numeric inputs BORROW those bytes from the body (no copy: the tensor keeps
//     `body` alive); N must equal shape × element size. BYTES: each element is a 4-byte little-endian
//     length and its bytes. The sizes must add up to exactly the bytes after the header.
//   * Raw binary request (Inference-Header-Content-Length: 0): the whole body is the model's only input.
//     Its shape is the signature's with variable dims resolved: with several, a leading -1 (the batch) is
//     1; one remaining -1 is inferred from the body size. A BYTES input must have one element: the body is
//     that element (or, when it is exactly one 4-byte-length-prefixed element, that element's bytes). All
//     outputs then come back binary.
//   * outputs[].parameters.classification: N > 0 asks for Triton's classification extension on that output
//     (KServeInferRequest::classification; the caller applies it, kserve_classification.h); 0 = none.
//   * Not supported, so rejected with UNIMPLEMENTED: shared-memory parameters. Other parameters are ignored.
// The decoded request has passed ValidateKServeRequest (Triton's texts) against the signature.
//
// Infer responses: {"model_name","model_version","id"?,"outputs":[{"name","datatype","shape","data"}]}, data
// flat. An output the request lists is binary when it sets "binary_data": true; one it does not list
// follows "binary_data_output" (Triton's rule). Outputs asked for as binary get "parameters":{"binary_data_size":N}
// instead of "data", their bytes appended after the JSON in output order. JSON spelling: BOOL true/false; BYTES as JSON
// strings (an output holding bytes that are not valid UTF-8 fails with INVALID_ARGUMENT asking for binary_data: never
// altered); FP16/BF16 as float numbers; non-finite floats as the bare tokens NaN / Infinity / -Infinity (as TF Serving;
// strict JSON has none).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/json/codec_limits.h"
#include "api/kserve/kserve_wire.h"
#include "core/inference.h"
#include "core/status.h"

namespace serval {

// Which outputs a response carries as binary data (Triton's binary tensor data extension).
struct KServeOutputOptions {
  bool binary_data_output = false;                        // request-wide default; true for a raw binary request
  std::vector<std::pair<std::string, bool>> binary_data;  // the outputs the request lists

  bool Binary(std::string_view output_name) const {
    for (const auto& [name, binary] : binary_data) {
      if (name == output_name) return binary;
    }
    return binary_data_output;
  }
};

struct KServeInferRequest {
  // id, inputs (in request order) and the requested output names (empty: all). model_name, version and
  // deadline are the caller's.
  InferenceRequest request;
  KServeOutputOptions output_options;
  std::vector<KServeClassification> classification;  // outputs asked for as top-N classes
};

// Parses an Inference-Header-Content-Length value: decimal digits only (no sign, no spaces) that fit
// size_t, else INVALID_ARGUMENT.
StatusOr<size_t> ParseInferenceHeaderContentLength(std::string_view value);

// `body` is the whole HTTP body; numeric binary inputs borrow from it. `json_header_length` is the
// Inference-Header-Content-Length value (nullopt without the header: the body is all JSON; 0: raw binary
// request). A header length beyond the body is INVALID_ARGUMENT. `model_name` is for Triton's error texts.
StatusOr<KServeInferRequest> DecodeKServeInferRequest(const std::shared_ptr<const std::string>& body,
                                                      std::optional<size_t> json_header_length,
                                                      const ModelSignature& signature, const CodecLimits& limits = {},
                                                      std::string_view model_name = {});

// Appends the response body (JSON, then any binary output data) to *out. *json_header_length is the JSON's
// size when some output is binary (send it as Inference-Header-Content-Length), else 0 (omit the header).
// Fails (INVALID_ARGUMENT) only for a binary BYTES element over 4 GiB.
Status EncodeKServeInferResponse(const InferenceResponse& response, const KServeOutputOptions& options,
                                 std::string* out, size_t* json_header_length);

// {"error":"<message>"}
std::string EncodeKServeError(const Status& status);

// {"name","versions":[…],"platform","inputs":[{"name","datatype","shape"}],"outputs":[…]}; -1 marks a
// variable dimension. `versions` is omitted when empty.
std::string EncodeKServeModelMetadata(std::string_view name, const std::vector<std::string>& versions,
                                      std::string_view platform, const ModelSignature& signature);

// Triton's model configuration (GET /v2/models/{m}/config), as clients such as perf_analyzer read it:
// {"name","platform","backend","max_batch_size":N,"input":[{"name","data_type":"TYPE_FP32","dims":[…]}],
// "output":[…]}, batch rule above; -1 marks a variable dimension.
std::string EncodeKServeModelConfig(std::string_view name, std::string_view platform, const ModelSignature& signature);

// {"name","version","extensions":[…]}
std::string EncodeKServeServerMetadata(std::string_view name, std::string_view version,
                                       const std::vector<std::string>& extensions);

}  // namespace serval

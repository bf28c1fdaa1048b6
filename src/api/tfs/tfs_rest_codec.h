// TfsRestCodec: TensorFlow Serving's REST JSON (docs/protocols.md §2.1, §2.9, §2.10) to and from Serval's
// vocabulary. Pure functions: no I/O, no global state; safe from any thread.
//
// Predict requests. `{"signature_name"?, "instances": …}` (row format) or `{"signature_name"?, "inputs": …}`
// (columnar); both or neither is INVALID_ARGUMENT.
//   * Row: with one input, `instances` lists that input's rows (each row a value or nested list); else
//     it lists objects {input: row value}, every object naming the same inputs. Shape = [rows] + row shape.
//   * Columnar: one input's value (scalar or nested list), or an object of input name → value.
// TF Serving JSON carries no types: each input takes its type from the signature. Numbers are range-checked
// for it (json_number.h); STRING inputs take JSON strings or {"b64": "<base64>"}; BOOL takes true/false;
// NaN / Infinity / -Infinity tokens are accepted. FP16/BF16 inputs are read from JSON numbers, rounded to
// nearest even (a Serval extension: TF Serving rejects them over REST). Nested lists must be rectangular.
// The decoded request has passed ValidateRequest against the signature.
//
// Predict responses: row → {"predictions": …} (a bare per-row list for one output; a list of objects
// {output: row} for several, which must then share dimension 0, else INVALID_ARGUMENT as in TF Serving);
// columnar → {"outputs": …} (a bare value for one output; an object for several). STRING outputs whose
// name ends in "_bytes" are {"b64": …}; other STRING elements are JSON strings when they are valid UTF-8
// and {"b64": …} otherwise (lossless: JSON strings cannot carry raw bytes). BOOL is true/false; FP16/BF16
// are written as float numbers; non-finite floats as NaN / Infinity / -Infinity.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json/codec_limits.h"
#include "core/inference.h"
#include "core/model_status.h"
#include "core/status.h"

namespace serval {

// TF Serving's names for core/inference.h's default signature and predict method (one definition each).
inline constexpr std::string_view kTfsDefaultSignatureName = kDefaultSignatureName;
inline constexpr std::string_view kTfsPredictMethodName = kPredictMethodName;

enum class TfsFormat { kRow, kColumnar };

struct TfsPredictRequest {
  std::string signature_name = std::string(kTfsDefaultSignatureName);  // as sent, else the default
  TfsFormat format = TfsFormat::kRow;
  // Inputs in signature order, typed by the signature. model_name, version and deadline are the caller's.
  InferenceRequest request;
};

// Resolves a request's signature_name (the default when the body names none) to the signature to decode
// against: NOT_FOUND / FAILED_PRECONDITION when the model has no such signature. The pointer must stay
// valid for the decode call.
using TfsSignatureLookup = std::function<StatusOr<const ModelSignature*>(std::string_view signature_name)>;

// Decodes with the signature that `lookup` returns for the body's signature_name. When the body names the
// signature after its data, the body is parsed twice.
StatusOr<TfsPredictRequest> DecodeTfsPredictRequest(std::string_view body, const TfsSignatureLookup& lookup,
                                                    const CodecLimits& limits = {});
// Decodes against one signature, whatever signature_name says (the caller checks the returned name).
StatusOr<TfsPredictRequest> DecodeTfsPredictRequest(std::string_view body, const ModelSignature& signature,
                                                    const CodecLimits& limits = {});
// The same, for a body in a std::string (a template, so that other arguments keep the overloads above):
// when its capacity leaves 64 spare bytes after the text (the HTTP server reserves them), the JSON parser
// reads it in place instead of copying it (ParseJsonFast).
StatusOr<TfsPredictRequest> DecodeTfsPredictRequestIn(std::string_view body, size_t readable,
                                                      const TfsSignatureLookup& lookup, const CodecLimits& limits);
template <std::same_as<std::string> Body>
StatusOr<TfsPredictRequest> DecodeTfsPredictRequest(const Body& body, const TfsSignatureLookup& lookup,
                                                    const CodecLimits& limits = {}) {
  return DecodeTfsPredictRequestIn(body, body.capacity(), lookup, limits);
}
template <std::same_as<std::string> Body>
StatusOr<TfsPredictRequest> DecodeTfsPredictRequest(const Body& body, const ModelSignature& signature,
                                                    const CodecLimits& limits = {}) {
  TfsSignatureLookup lookup = [&signature](std::string_view) -> StatusOr<const ModelSignature*> { return &signature; };
  return DecodeTfsPredictRequestIn(body, body.capacity(), lookup, limits);
}

// Appends the predict response body to *out. Fails (INVALID_ARGUMENT) only for the row format when the
// outputs do not share dimension 0 or one is a scalar.
Status EncodeTfsPredictResponse(const InferenceResponse& response, TfsFormat format, std::string* out);

// {"error":"<message>"}: the message truncated to 256 bytes (on a UTF-8 boundary) and JSON-escaped.
std::string EncodeTfsError(const Status& status);

// {"model_version_status":[{"version":"1","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}
std::string EncodeTfsModelStatus(const std::vector<VersionStatus>& versions);

// One entry of a SignatureDefMap.
struct TfsSignatureDef {
  std::string name;  // e.g. "serving_default"
  const ModelSignature* signature = nullptr;
  std::string method_name = std::string(kTfsPredictMethodName);
};

// GetModelMetadataResponse JSON with the signature_def metadata field:
// {"model_spec":{"name":"m","signature_name":"","version":"1"},"metadata":{"signature_def":{"signature_def":
//  {"serving_default":{"inputs":{"a":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""}],
//  "unknown_rank":false},"name":"a"}},"outputs":{…},"method_name":"tensorflow/serving/predict"}}}}}
std::string EncodeTfsModelMetadata(std::string_view model_name, int64_t version, const ModelSignature& signature);
std::string EncodeTfsModelMetadata(std::string_view model_name, int64_t version,
                                   const std::vector<TfsSignatureDef>& signatures);

}  // namespace serval

// TfsExamples: TF Serving's Classify / Regress on tf.Example input, mapped onto an ONNX model's plain
// tensor signature. Protocol-neutral: the gRPC codec (tensorflow.serving.Input protos) and the REST
// codec (`{"examples": [...], "context": {...}}` JSON, decoded here too) both convert their input into an
// ExampleBatch, and both encode the ClassificationRows / regression values this file reads out of the
// model's outputs. Pure functions; safe from any thread. The rules are documented for users in
// src/api/tfs/TFS_EXAMPLES.md; in short:
//
// Inputs (ExamplesToInputs):
//   * Every model input is filled from the feature of the SAME NAME. Each example's features are looked up
//     first; a feature the example lacks is taken from the context (ExampleListWithContext / REST
//     "context"), so the example's own value wins. A model input with no feature anywhere is
//     INVALID_ARGUMENT; features that name no model input are ignored (as tf.parse_example ignores them).
//   * batch = number of examples (zero examples: INVALID_ARGUMENT). The input tensor has shape
//     [batch] + the input's non-batch dims. Each example must give exactly product(non-batch dims) values
//     for the feature (a rank-1 input [-1] takes one value per example). One variable non-batch dim is
//     inferred from the value count, which must then be the same in every example; two or more variable
//     non-batch dims, a scalar input, or a fixed batch dim that differs from the example count cannot be
//     filled (FAILED_PRECONDITION / INVALID_ARGUMENT).
//   * Value kinds: float_list feeds FP32, FP64, FP16, BF16 (FP16/BF16 rounded to nearest even; a finite
//     value that overflows is INVALID_ARGUMENT). int64_list feeds INT8..INT64 and UINT8..UINT64
//     (range-checked), BOOL (0 or 1 only), and the float types too (converted, rounded to nearest).
//     bytes_list feeds STRING only. Any other pairing is INVALID_ARGUMENT naming the feature and type.
//   * The decoded tensors may not exceed CodecLimits::max_tensor_bytes each (RESOURCE_EXHAUSTED), checked
//     before allocating: a context feature is copied into every example, so a small request could
//     otherwise ask for a huge tensor.
//
// Outputs:
//   * Classify (PlanClassify / ReadClassifications): class scores from a FP32 output named "scores" (else
//     one named "probabilities"), shape [batch, K]; class labels from a STRING output named "classes",
//     shape [batch, K], when the model has one. No labels output: every label is "" (TF Serving's rule).
//     No scores output: every score is 0. Neither: FAILED_PRECONDITION. A "scores"/"classes" output of
//     another type or rank: FAILED_PRECONDITION. The result's shapes are checked too (INVALID_ARGUMENT).
//   * Regress (PlanRegress / ReadRegressions): a FP32 output named "outputs", else the model's only FP32
//     output, declared [batch] or [batch, 1] (else FAILED_PRECONDITION); the result must have that shape
//     (INVALID_ARGUMENT).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/json/codec_limits.h"
#include "core/inference.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

inline constexpr std::string_view kTfsClassifyMethodName = "tensorflow/serving/classify";
inline constexpr std::string_view kTfsRegressMethodName = "tensorflow/serving/regress";

// tensorflow.Feature's kinds.
enum class FeatureKind : uint8_t { kFloat, kInt64, kBytes };

// The values of one feature, viewed (not owned): the storage is the request message or the
// ExampleBatch's `storage`.
struct FeatureValues {
  FeatureKind kind = FeatureKind::kFloat;
  std::span<const float> floats;        // kFloat
  std::span<const int64_t> int64s;      // kInt64
  std::vector<std::string_view> bytes;  // kBytes

  size_t size() const {
    return kind == FeatureKind::kFloat ? floats.size() : kind == FeatureKind::kInt64 ? int64s.size() : bytes.size();
  }
};

// One example's features, by name.
using FeatureMap = std::map<std::string_view, FeatureValues, std::less<>>;

struct ExampleBatch {
  std::vector<FeatureMap> examples;
  FeatureMap context;  // empty without a context
  // Keeps the viewed names and values alive when the batch owns them (decoded JSON); null when they
  // live in a message that outlives the batch.
  std::shared_ptr<const void> storage;
};

// The outputs a Classify reads. At least one name is set.
struct ClassifyPlan {
  std::string scores;   // FP32 [batch, K], or empty
  std::string classes;  // STRING [batch, K], or empty
  // The outputs to request from the model (the non-empty names above).
  std::vector<std::string> Outputs() const;
};

// FAILED_PRECONDITION, saying what is missing, when the model has no usable output.
StatusOr<ClassifyPlan> PlanClassify(const ModelSignature& signature);
// The name of the output a Regress reads. FAILED_PRECONDITION when the model has none.
StatusOr<std::string> PlanRegress(const ModelSignature& signature);

// One input tensor per signature input (in signature order), filled from the examples as above.
StatusOr<std::vector<Tensor>> ExamplesToInputs(const ModelSignature& signature, const ExampleBatch& batch,
                                               const CodecLimits& limits = {});

struct ClassScore {
  std::string label;
  float score = 0;
};
// One row per example, K classes each, in output order.
using ClassificationRows = std::vector<std::vector<ClassScore>>;

// Reads the plan's outputs from `response` (found by name). INVALID_ARGUMENT when a shape is not
// [batch, K] (or scores and classes disagree on K).
StatusOr<ClassificationRows> ReadClassifications(const InferenceResponse& response, const ClassifyPlan& plan,
                                                 int64_t batch);
// One value per example. INVALID_ARGUMENT when the output is not [batch] or [batch, 1].
StatusOr<std::vector<float>> ReadRegressions(const InferenceResponse& response, std::string_view output, int64_t batch);

// --- REST JSON (TF Serving's :classify / :regress bodies, docs/protocols.md §2.1) ---------------------------

struct TfsExamplesJsonRequest {
  std::string signature_name = std::string(kDefaultSignatureName);  // as sent, else the default
  ExampleBatch batch;
};

// `{"signature_name"?: str, "context"?: {feature: value|[value...]}, "examples": [{feature: ...}, ...]}`.
// Values: a JSON string or {"b64": "<base64>"} is bytes; numbers written without fraction or exponent
// are int64 (a feature whose list holds any other number is a float list); a bare value is a list of
// one. Other members are ignored. INVALID_ARGUMENT for anything else (nested lists, null, booleans,
// mixed strings and numbers, a feature given twice, a missing "examples").
StatusOr<TfsExamplesJsonRequest> DecodeTfsExamplesJson(std::string_view body);

// {"results":[[["label",score],...],...]}
std::string EncodeTfsClassifyJson(const ClassificationRows& rows);
// {"results":[v,...]}
std::string EncodeTfsRegressJson(std::span<const float> values);

}  // namespace serval

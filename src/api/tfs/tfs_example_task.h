// TfsExampleTask: one Classify / Regress (or one task of a MultiInference) on tf.Example input, planned
// against a served version — the single place where TF Serving's example APIs meet the model. The serving
// frontend (api/serving/serving_frontend.h) runs the planned request, for the REST routes and the gRPC
// services alike.
//
// Two ways a version serves examples:
//   * A SavedModel signature (the version has signature_defs()): TF Serving's own rules. The signature's
//     method_name must be tensorflow/serving/classify (or .../regress); its one DT_STRING input (alias
//     "inputs") is fed the serialized tf.Examples (SerializeExamples); Classify reads "classes" (DT_STRING)
//     and/or "scores" (DT_FLOAT), Regress reads "outputs" (DT_FLOAT). Errors are INVALID_ARGUMENT with TF
//     Serving's texts.
//   * An ONNX graph (no signature_defs(), default signature only): features fill the inputs of the same
//     name and outputs are read by name, as api/tfs/tfs_examples.h documents.
#pragma once

#include <string>
#include <string_view>

#include "api/json/codec_limits.h"
#include "api/tfs/tfs_examples.h"
#include "core/inference.h"
#include "core/status.h"
#include "repository/model_manager.h"

namespace serval {

struct ExampleTask {
  bool classify = false;
  std::string signature_name;  // as resolved ("" → "serving_default")
  bool serialized = false;     // a SavedModel signature fed serialized examples
  std::string input;           // that signature's string input alias
  ClassifyPlan classify_plan;  // classify: the outputs read
  std::string regress_output;  // regress: the output read
  std::vector<std::string> Outputs() const;
};

// FAILED_PRECONDITION for a signature the version lacks; INVALID_ARGUMENT / FAILED_PRECONDITION for one that
// cannot serve the method.
StatusOr<ExampleTask> PlanExampleTask(const ModelSession& session, std::string_view signature_name, bool classify);
inline StatusOr<ExampleTask> PlanExampleTask(const ServableHandle& handle, std::string_view signature_name,
                                             bool classify) {
  return PlanExampleTask(handle.session(), signature_name, classify);
}

// The request `task` runs on `batch`: its signature, inputs and `outputs`. No deadline, no model name.
StatusOr<InferenceRequest> BuildExampleRequest(const ModelSession& session, const ExampleTask& task,
                                               const ExampleBatch& batch, std::vector<std::string> outputs,
                                               const CodecLimits& limits);

}  // namespace serval

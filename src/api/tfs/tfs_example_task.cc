#include "api/tfs/tfs_example_task.h"

#include "api/tfs/tfs_grpc_codec.h"

namespace serval {
namespace {

constexpr std::string_view kClassifyInputs = "inputs";
constexpr std::string_view kClassifyClasses = "classes";
constexpr std::string_view kClassifyScores = "scores";
constexpr std::string_view kRegressOutputs = "outputs";

std::string TfName(const TensorSpec& spec) {
  return "DT_" + std::string(spec.dtype == DataType::kFp32     ? "FLOAT"
                             : spec.dtype == DataType::kString ? "STRING"
                                                               : KServeName(spec.dtype));
}

// TF Serving's checks of a SavedModel classify / regress signature (servables/tensorflow/classifier.cc,
// regressor.cc), in its words.
StatusOr<ExampleTask> PlanSavedModelTask(const ModelSignature& io, std::string_view method, bool classify,
                                         ExampleTask task) {
  const std::string_view wanted = classify ? kTfsClassifyMethodName : kTfsRegressMethodName;
  if (method != wanted) {
    return InvalidArgument(std::string("Expected ") + (classify ? "classification" : "regression") +
                           " signature method_name to be " + std::string(wanted) + ". Was: " + std::string(method));
  }
  const TensorSpec* input = io.FindInput(kClassifyInputs);
  if (input == nullptr) {
    return InvalidArgument(std::string("No ") + (classify ? "classification" : "regression") +
                           " inputs found in SignatureDef: expected an input named 'inputs'");
  }
  if (io.inputs.size() != 1) return InvalidArgument("Expected one input Tensor.");
  if (input->dtype != DataType::kString) {
    return InvalidArgument("Expected input Tensor of DT_STRING (serialized tf.Example). Got: " + TfName(*input));
  }
  task.serialized = true;
  task.input = input->name;
  if (classify) {
    const TensorSpec* classes = io.FindOutput(kClassifyClasses);
    const TensorSpec* scores = io.FindOutput(kClassifyScores);
    if (classes == nullptr && scores == nullptr) {
      return InvalidArgument("Expected classification signature outputs to contain at least one of classes or scores.");
    }
    if (classes != nullptr && classes->dtype != DataType::kString) {
      return InvalidArgument("Expected classes Tensor of DT_STRING. Got: " + TfName(*classes));
    }
    if (scores != nullptr && scores->dtype != DataType::kFp32) {
      return InvalidArgument("Expected scores Tensor of DT_FLOAT. Got: " + TfName(*scores));
    }
    if (classes != nullptr) task.classify_plan.classes = classes->name;
    if (scores != nullptr) task.classify_plan.scores = scores->name;
  } else {
    const TensorSpec* outputs = io.FindOutput(kRegressOutputs);
    if (outputs == nullptr) return InvalidArgument("No regression outputs found in SignatureDef: expected 'outputs'");
    if (outputs->dtype != DataType::kFp32) {
      return InvalidArgument("Expected output Tensor of DT_FLOAT. Got: " + TfName(*outputs));
    }
    task.regress_output = outputs->name;
  }
  return task;
}

}  // namespace

std::vector<std::string> ExampleTask::Outputs() const {
  return classify ? classify_plan.Outputs() : std::vector<std::string>{regress_output};
}

StatusOr<ExampleTask> PlanExampleTask(const ModelSession& session, std::string_view signature_name, bool classify) {
  SERVAL_ASSIGN_OR_RETURN(SignatureRef ref, FindSignature(session, signature_name));
  ExampleTask task;
  task.classify = classify;
  task.signature_name = signature_name.empty() ? std::string(kDefaultSignatureName) : std::string(signature_name);
  if (!session.signature_defs().empty()) return PlanSavedModelTask(*ref.io, ref.method_name, classify, std::move(task));
  if (classify) {
    SERVAL_ASSIGN_OR_RETURN(ClassifyPlan plan, PlanClassify(*ref.io));
    task.classify_plan = std::move(plan);
  } else {
    SERVAL_ASSIGN_OR_RETURN(std::string output, PlanRegress(*ref.io));
    task.regress_output = std::move(output);
  }
  return task;
}

StatusOr<InferenceRequest> BuildExampleRequest(const ModelSession& session, const ExampleTask& task,
                                               const ExampleBatch& batch, std::vector<std::string> outputs,
                                               const CodecLimits& limits) {
  InferenceRequest request;
  request.signature_name = task.signature_name;
  if (task.serialized) {
    SERVAL_ASSIGN_OR_RETURN(Tensor examples, SerializeExamples(batch, task.input, limits.max_tensor_bytes));
    request.inputs.push_back(std::move(examples));
  } else {
    StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(session.signature(), batch, limits);
    if (!inputs.ok()) return inputs.status();
    request.inputs = std::move(*inputs);
  }
  request.outputs = std::move(outputs);
  return request;
}

}  // namespace serval

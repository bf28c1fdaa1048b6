#include "engine/signature_graphs.h"

#include <gtest/gtest.h>

#include "core/tensor_test_util.h"

namespace serval {
namespace {

// A graph that declares `io` and answers each requested output with a copy of its first input (renamed),
// remembering the inputs it was given.
class EchoGraph : public ModelSession {
 public:
  explicit EchoGraph(ModelSignature io) : io_(std::move(io)) {}
  const ModelSignature& signature() const override { return io_; }
  const std::string& execution_provider() const override { return provider_; }
  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& names, const RunContext&,
             std::vector<Tensor>* outputs) const override {
    seen = inputs;
    outputs->clear();
    std::vector<std::string> wanted = names;
    if (wanted.empty()) {
      for (const TensorSpec& spec : io_.outputs) wanted.push_back(spec.name);
    }
    for (const std::string& name : wanted) {
      outputs->push_back(inputs.at(0));
      outputs->back().set_name(name);
    }
    return Status::Ok();
  }
  mutable std::vector<Tensor> seen;

 private:
  ModelSignature io_;
  std::string provider_ = "cpu";
};

TensorSpec Spec(std::string name, DataType type, Shape shape) { return {std::move(name), type, std::move(shape)}; }

// serving_default: alias x -> graph input "x_graph", output alias y -> graph output "y_graph".
GraphSignatureSpec Predict(std::string graph = "model.onnx") {
  GraphSignatureSpec spec;
  spec.def.name = "serving_default";
  spec.def.method_name = "tensorflow/serving/predict";
  spec.def.io = Signature({Spec("x", DataType::kFp32, {-1, 1})}, {Spec("y", DataType::kFp32, {-1, 1})});
  spec.def.io.inputs[0].tensor_name = "serving_default_x:0";
  spec.graph = std::move(graph);
  spec.input_graph_names = {"x_graph"};
  spec.output_graph_names = {"y_graph"};
  return spec;
}

std::unique_ptr<EchoGraph> PredictGraph() {
  return std::make_unique<EchoGraph>(
      Signature({Spec("x_graph", DataType::kFp32, {-1, 1})}, {Spec("y_graph", DataType::kFp32, {-1, 1})}));
}

// classify: serialized tf.Examples under "inputs", parsed into graph input "x" (fixed_len [1] float).
GraphSignatureSpec Classify() {
  GraphSignatureSpec spec;
  spec.def.name = "classify_x_to_y";
  spec.def.method_name = "tensorflow/serving/classify";
  spec.def.io = Signature({Spec("inputs", DataType::kString, {-1})}, {Spec("scores", DataType::kFp32, {-1, 1})});
  spec.graph = "classify.onnx";
  spec.input_graph_names = {""};
  spec.output_graph_names = {"scores"};
  ExampleParseSpec parse;
  parse.input = "inputs";
  ExampleFeatureSpec x;
  x.key = "x";
  x.shape = {1};
  x.values_name = "x";
  parse.features = {x};
  spec.parse_example = parse;
  return spec;
}

std::unique_ptr<EchoGraph> ClassifyGraph() {
  return std::make_unique<EchoGraph>(
      Signature({Spec("x", DataType::kFp32, {-1, 1})}, {Spec("scores", DataType::kFp32, {-1, 1})}));
}

// A parser that yields one x per serialized example, valued by the string's length.
ExampleParser LengthParser() {
  return [](const ExampleParseSpec& spec, const Tensor& serialized) -> StatusOr<std::vector<Tensor>> {
    std::vector<float> values;
    for (const std::string& s : serialized.strings()) values.push_back(static_cast<float>(s.size()));
    return std::vector<Tensor>{
        MakeTensor(spec.features.at(0).values_name, DataType::kFp32, {static_cast<int64_t>(values.size()), 1}, values)};
  };
}

StatusOr<std::unique_ptr<ModelSession>> Make(std::vector<GraphSignatureSpec> specs,
                                             std::map<std::string, std::unique_ptr<ModelSession>> graphs,
                                             ExampleParser parser = LengthParser()) {
  return MakeSignatureGraphsSession(std::move(specs), std::move(graphs), std::move(parser));
}

std::map<std::string, std::unique_ptr<ModelSession>> Graphs(bool with_classify = true) {
  std::map<std::string, std::unique_ptr<ModelSession>> graphs;
  graphs["model.onnx"] = PredictGraph();
  if (with_classify) graphs["classify.onnx"] = ClassifyGraph();
  return graphs;
}

TEST(SignatureGraphs, ListsSignaturesByNameAndMapsAliases) {
  auto session = Make({Predict(), Classify()}, Graphs());
  ASSERT_TRUE(session.ok()) << session.status().message();
  const std::vector<SignatureDef>& defs = (*session)->signature_defs();
  ASSERT_EQ(defs.size(), 2u);
  EXPECT_EQ(defs[0].name, "classify_x_to_y");
  EXPECT_EQ(defs[0].method_name, "tensorflow/serving/classify");
  EXPECT_EQ(defs[1].name, "serving_default");
  EXPECT_EQ(defs[1].io.inputs[0].tensor_name, "serving_default_x:0");
  EXPECT_EQ((*session)->signature().inputs[0].name, "x");

  InferenceRequest request;
  request.inputs.push_back(MakeTensor<float>("x", DataType::kFp32, {2, 1}, {1.5f, 2.5f}));
  std::vector<Tensor> outputs;
  ASSERT_TRUE(RunRequest(**session, request, &outputs).ok());
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name(), "y");
  EXPECT_EQ(Values<float>(outputs[0]), (std::vector<float>{1.5f, 2.5f}));
}

TEST(SignatureGraphs, TfExampleInputIsParsedIntoTheGraphsFeatures) {
  auto graphs = Graphs();
  const auto* classify = static_cast<const EchoGraph*>(graphs["classify.onnx"].get());
  auto session = Make({Predict(), Classify()}, std::move(graphs));
  ASSERT_TRUE(session.ok()) << session.status().message();
  InferenceRequest request;
  request.signature_name = "classify_x_to_y";
  request.inputs.push_back(Tensor::FromStrings("inputs", {2}, {"abc", "abcde"}));
  request.outputs = {"scores"};
  std::vector<Tensor> outputs;
  Status status = RunRequest(**session, request, &outputs);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(classify->seen.size(), 1u);
  EXPECT_EQ(classify->seen[0].name(), "x");
  EXPECT_EQ(outputs[0].name(), "scores");
  EXPECT_EQ(Values<float>(outputs[0]), (std::vector<float>{3, 5}));
}

TEST(SignatureGraphs, ParserErrorsAndMissingParserFailTheRequest) {
  ExampleParser failing = [](const ExampleParseSpec&, const Tensor&) -> StatusOr<std::vector<Tensor>> {
    return InvalidArgument("Name: <unknown>, Feature: x (data type: float) is required but could not be found.");
  };
  auto session = Make({Classify()}, Graphs(), failing);
  ASSERT_TRUE(session.ok());
  InferenceRequest request;
  request.signature_name = "classify_x_to_y";
  request.inputs.push_back(Tensor::FromStrings("inputs", {1}, {""}));
  std::vector<Tensor> outputs;
  Status status = RunRequest(**session, request, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("is required"), std::string::npos);

  auto unparsed = Make({Classify()}, Graphs(), nullptr);
  ASSERT_TRUE(unparsed.ok());
  EXPECT_EQ(RunRequest(**unparsed, request, &outputs).code(), StatusCode::kFailedPrecondition);
  // No serving_default: the default signature is unknown.
  request.signature_name.clear();
  EXPECT_EQ(RunRequest(**unparsed, request, &outputs).code(), StatusCode::kFailedPrecondition);
}

TEST(SignatureGraphs, ParsedTensorsAreCheckedAgainstTheGraph) {
  // A parser whose tensor does not fit the graph (wrong dtype) is an error, never a run.
  ExampleParser wrong = [](const ExampleParseSpec&, const Tensor&) -> StatusOr<std::vector<Tensor>> {
    return std::vector<Tensor>{MakeTensor<int64_t>("x", DataType::kInt64, {1, 1}, {7})};
  };
  auto session = Make({Classify()}, Graphs(), wrong);
  ASSERT_TRUE(session.ok());
  InferenceRequest request;
  request.signature_name = "classify_x_to_y";
  request.inputs.push_back(Tensor::FromStrings("inputs", {1}, {""}));
  std::vector<Tensor> outputs;
  EXPECT_EQ(RunRequest(**session, request, &outputs).code(), StatusCode::kInvalidArgument);
}

TEST(SignatureGraphs, UnknownSignatureAndOutputs) {
  auto session = Make({Predict(), Classify()}, Graphs());
  ASSERT_TRUE(session.ok());
  InferenceRequest request;
  request.signature_name = "nope";
  std::vector<Tensor> outputs;
  Status status = RunRequest(**session, request, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("\"nope\" not found"), std::string::npos);
  request.signature_name.clear();
  request.inputs.push_back(MakeTensor<float>("x", DataType::kFp32, {1, 1}, {1}));
  request.outputs = {"y_graph"};  // graph names are not aliases
  EXPECT_EQ(RunRequest(**session, request, &outputs).code(), StatusCode::kInvalidArgument);
}

TEST(SignatureGraphs, SignatureThatDoesNotDescribeItsGraphFailsTheLoad) {
  auto expect_failure = [](GraphSignatureSpec spec, const std::string& text) {
    auto session = Make({std::move(spec)}, Graphs());
    ASSERT_FALSE(session.ok());
    EXPECT_EQ(session.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(session.status().message().find(text), std::string::npos) << session.status().message();
  };
  GraphSignatureSpec spec = Predict();
  spec.input_graph_names = {"nope"};
  expect_failure(spec, "names graph input 'nope'");
  spec = Predict();
  spec.def.io.inputs[0].dtype = DataType::kInt64;
  expect_failure(spec, "is INT64 but graph input 'x_graph' is FP32");
  spec = Predict();
  spec.output_graph_names = {"z"};
  expect_failure(spec, "graph output 'z'");
  spec = Predict("missing.onnx");
  expect_failure(spec, "is not loaded");
  spec = Predict();
  spec.def.io.inputs.push_back(Spec("x2", DataType::kFp32, {-1, 1}));
  spec.input_graph_names.push_back("x_graph");
  expect_failure(spec, "fed twice");
  spec = Classify();
  spec.graph = "model.onnx";  // the predict graph: its x_graph is fed by nothing
  expect_failure(spec, "input 'x' names graph input 'x', which the graph does not have");
  spec = Classify();
  spec.parse_example->input = "other";
  expect_failure(spec, "its tf.Example spec names input 'other'");
  spec = Classify();
  spec.parse_example->features.clear();
  expect_failure(spec, "graph input 'x' is fed by no input");
  spec = Classify();
  spec.parse_example->features[0].kind = ExampleFeatureSpec::Kind::kVarLen;
  spec.parse_example->features[0].indices_name = "x_indices";
  expect_failure(spec, "names graph input 'x_indices'");
  spec = Classify();
  spec.def.io.inputs[0].dtype = DataType::kFp32;
  expect_failure(spec, "must be DT_STRING");

  auto twice = Make({Predict(), Predict()}, Graphs());
  EXPECT_FALSE(twice.ok());
  EXPECT_FALSE(Make({}, Graphs()).ok());
}

}  // namespace
}  // namespace serval

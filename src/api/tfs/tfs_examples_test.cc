#include "api/tfs/tfs_examples.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "core/memory_budget.h"

namespace serval {
namespace {

// Owns the values that FeatureValues view.
class Features {
 public:
  FeatureValues Floats(std::vector<float> values) {
    floats_.push_back(std::move(values));
    FeatureValues f;
    f.kind = FeatureKind::kFloat;
    f.floats = floats_.back();
    return f;
  }
  FeatureValues Ints(std::vector<int64_t> values) {
    ints_.push_back(std::move(values));
    FeatureValues f;
    f.kind = FeatureKind::kInt64;
    f.int64s = ints_.back();
    return f;
  }
  FeatureValues Bytes(std::vector<std::string> values) {
    FeatureValues f;
    f.kind = FeatureKind::kBytes;
    for (std::string& value : values) {
      strings_.push_back(std::move(value));
      f.bytes.emplace_back(strings_.back());
    }
    return f;
  }

 private:
  std::deque<std::vector<float>> floats_;
  std::deque<std::vector<int64_t>> ints_;
  std::deque<std::string> strings_;
};

template <typename T>
std::vector<T> Values(const Tensor& tensor) {
  std::vector<T> out(tensor.bytes().size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), tensor.bytes().data(), out.size() * sizeof(T));
  return out;
}

ModelSignature MlpSignature() {
  ModelSignature s;
  s.inputs = {{"features", DataType::kFp32, {-1, 4}}};
  s.outputs = {{"scores", DataType::kFp32, {-1, 3}}, {"class_ids", DataType::kInt64, {-1}}};
  return s;
}

TEST(TfsExamplesTest, FillsFloatInputFromFeatures) {
  Features f;
  ExampleBatch batch;
  batch.examples.resize(2);
  batch.examples[0].emplace("features", f.Floats({1, 2, 3, 4}));
  batch.examples[0].emplace("ignored", f.Bytes({"x"}));
  batch.examples[1].emplace("features", f.Ints({5, 6, 7, -8}));  // int64_list feeds a float input
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(MlpSignature(), batch);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ((*inputs)[0].name(), "features");
  EXPECT_EQ((*inputs)[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<float>((*inputs)[0]), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, -8}));
}

TEST(TfsExamplesTest, ContextFillsMissingFeaturesAndExampleWins) {
  Features f;
  ModelSignature s;
  s.inputs = {{"x", DataType::kInt64, {-1}}, {"y", DataType::kFp64, {-1, 2}}};
  ExampleBatch batch;
  batch.examples.resize(3);
  batch.context.emplace("x", f.Ints({100}));
  batch.context.emplace("y", f.Floats({0.5f, 1.5f}));
  batch.examples[1].emplace("x", f.Ints({7}));
  batch.examples[2].emplace("y", f.Floats({2, 3}));
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(s, batch);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  EXPECT_EQ((*inputs)[0].shape(), (Shape{3}));
  EXPECT_EQ(Values<int64_t>((*inputs)[0]), (std::vector<int64_t>{100, 7, 100}));
  EXPECT_EQ((*inputs)[1].shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<double>((*inputs)[1]), (std::vector<double>{0.5, 1.5, 0.5, 1.5, 2, 3}));
}

TEST(TfsExamplesTest, IntegerTypesAreRangeChecked) {
  Features f;
  ModelSignature s;
  s.inputs = {{"u8", DataType::kUint8, {-1, 2}}, {"b", DataType::kBool, {-1}}};
  ExampleBatch batch;
  batch.examples.resize(1);
  batch.examples[0].emplace("u8", f.Ints({0, 255}));
  batch.examples[0].emplace("b", f.Ints({1}));
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(s, batch);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  EXPECT_EQ(Values<uint8_t>((*inputs)[0]), (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(Values<uint8_t>((*inputs)[1]), (std::vector<uint8_t>{1}));

  batch.examples[0].erase("u8");
  batch.examples[0].emplace("u8", f.Ints({0, 256}));
  StatusOr<std::vector<Tensor>> bad = ExamplesToInputs(s, batch);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("256 is out of range for UINT8"), std::string::npos) << bad.status().message();

  batch.examples[0].erase("u8");
  batch.examples[0].emplace("u8", f.Ints({0, 1}));
  batch.examples[0].erase("b");
  batch.examples[0].emplace("b", f.Ints({2}));
  EXPECT_EQ(ExamplesToInputs(s, batch).status().code(), StatusCode::kInvalidArgument);
}

TEST(TfsExamplesTest, HalfTypesRoundAndRejectOverflow) {
  Features f;
  ModelSignature s;
  s.inputs = {{"h", DataType::kFp16, {-1}}, {"b", DataType::kBf16, {-1}}};
  ExampleBatch batch;
  batch.examples.resize(1);
  batch.examples[0].emplace("h", f.Floats({1.5f}));
  batch.examples[0].emplace("b", f.Floats({-2.25f}));
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(s, batch);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  EXPECT_EQ(Values<uint16_t>((*inputs)[0]), (std::vector<uint16_t>{0x3e00}));
  EXPECT_EQ(Values<uint16_t>((*inputs)[1]), (std::vector<uint16_t>{0xc010}));
  batch.examples[0].erase("h");
  batch.examples[0].emplace("h", f.Floats({70000.0f}));
  EXPECT_EQ(ExamplesToInputs(s, batch).status().code(), StatusCode::kInvalidArgument);
}

TEST(TfsExamplesTest, StringInputFromBytes) {
  Features f;
  ModelSignature s;
  s.inputs = {{"text", DataType::kString, {-1, 2}}};
  ExampleBatch batch;
  batch.examples.resize(2);
  batch.examples[0].emplace("text", f.Bytes({"a", std::string("b\0c", 3)}));
  batch.examples[1].emplace("text", f.Bytes({"", "d"}));
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(s, batch);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  EXPECT_EQ((*inputs)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ((*inputs)[0].strings(), (std::vector<std::string>{"a", std::string("b\0c", 3), "", "d"}));
}

TEST(TfsExamplesTest, InfersOneVariableDimension) {
  Features f;
  ModelSignature s;
  s.inputs = {{"x", DataType::kFp32, {-1, -1, 2}}};
  ExampleBatch batch;
  batch.examples.resize(2);
  batch.examples[0].emplace("x", f.Floats({1, 2, 3, 4, 5, 6}));
  batch.examples[1].emplace("x", f.Floats({7, 8, 9, 10, 11, 12}));
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(s, batch);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  EXPECT_EQ((*inputs)[0].shape(), (Shape{2, 3, 2}));

  batch.examples[1].erase("x");
  batch.examples[1].emplace("x", f.Floats({7, 8}));
  StatusOr<std::vector<Tensor>> ragged = ExamplesToInputs(s, batch);
  EXPECT_EQ(ragged.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ragged.status().message().find("same number"), std::string::npos) << ragged.status().message();

  s.inputs = {{"x", DataType::kFp32, {-1, -1, -1}}};
  EXPECT_EQ(ExamplesToInputs(s, batch).status().code(), StatusCode::kFailedPrecondition);
  s.inputs = {{"x", DataType::kFp32, {}}};
  EXPECT_EQ(ExamplesToInputs(s, batch).status().code(), StatusCode::kFailedPrecondition);
}

TEST(TfsExamplesTest, RejectsWhatDoesNotFit) {
  Features f;
  ExampleBatch batch;
  EXPECT_EQ(ExamplesToInputs(MlpSignature(), batch).status().code(), StatusCode::kInvalidArgument);  // no examples

  batch.examples.resize(2);
  batch.examples[0].emplace("features", f.Floats({1, 2, 3, 4}));
  StatusOr<std::vector<Tensor>> missing = ExamplesToInputs(MlpSignature(), batch);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("example 1 has no feature 'features'"), std::string::npos)
      << missing.status().message();

  batch.examples[1].emplace("features", f.Floats({1, 2, 3}));
  EXPECT_EQ(ExamplesToInputs(MlpSignature(), batch).status().code(), StatusCode::kInvalidArgument);

  batch.examples[1].erase("features");
  batch.examples[1].emplace("features", f.Bytes({"a", "b", "c", "d"}));
  StatusOr<std::vector<Tensor>> kind = ExamplesToInputs(MlpSignature(), batch);
  EXPECT_EQ(kind.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(kind.status().message().find("bytes_list"), std::string::npos) << kind.status().message();

  batch.examples.resize(1);
  batch.examples[0].erase("features");
  batch.examples[0].emplace("features", f.Floats({1, 2, 3, 4, 5}));
  StatusOr<std::vector<Tensor>> count = ExamplesToInputs(MlpSignature(), batch);
  EXPECT_EQ(count.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(count.status().message().find("needs 4"), std::string::npos) << count.status().message();

  ModelSignature ints;
  ints.inputs = {{"n", DataType::kInt32, {-1}}};
  batch.examples[0].emplace("n", f.Floats({1.0f}));  // float_list cannot feed an integer input
  EXPECT_EQ(ExamplesToInputs(ints, batch).status().code(), StatusCode::kInvalidArgument);

  ModelSignature fixed_batch;
  fixed_batch.inputs = {{"features", DataType::kFp32, {2, 4}}};
  EXPECT_EQ(ExamplesToInputs(fixed_batch, batch).status().code(), StatusCode::kInvalidArgument);
}

TEST(TfsExamplesTest, ContextAmplificationIsCapped) {
  Features f;
  ModelSignature s;
  s.inputs = {{"x", DataType::kFp32, {-1, -1}}};
  ExampleBatch batch;
  batch.examples.resize(1000);
  batch.context.emplace("x", f.Floats(std::vector<float>(1000, 1.0f)));
  CodecLimits limits;
  limits.max_tensor_bytes = 1 << 20;  // 1000 × 1000 × 4 bytes is over it
  EXPECT_EQ(ExamplesToInputs(s, batch, limits).status().code(), StatusCode::kResourceExhausted);
  ModelSignature strings;
  strings.inputs = {{"x", DataType::kString, {-1, -1}}};
  batch.context.clear();
  batch.context.emplace("x", f.Bytes(std::vector<std::string>(100, std::string(100, 'z'))));
  EXPECT_EQ(ExamplesToInputs(strings, batch, limits).status().code(), StatusCode::kResourceExhausted);
}

TEST(TfsExamplesTest, ContextBroadcastIsChargedToTheRequestMemoryBudget) {
  Features f;
  ExampleBatch batch;
  batch.examples.resize(32768);  // empty examples: every one takes the context's 256 values
  batch.context.emplace("x", f.Floats(std::vector<float>(256, 1.0f)));
  ModelSignature s;
  s.inputs = {{"x", DataType::kFp32, {-1, -1}}};
  MemoryBudget budget(size_t{64} << 20, size_t{16} << 20);
  {
    RequestMemoryScope scope(&budget);
    // 32768 × 256 × 4 bytes = 32 MiB: over the request's 16 MiB before the tensor exists.
    StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(s, batch);
    EXPECT_EQ(inputs.status().code(), StatusCode::kResourceExhausted) << inputs.status().ToString();
    EXPECT_LE(scope.charged(), size_t{16} << 20);
  }
  ModelSignature strings;
  strings.inputs = {{"x", DataType::kString, {-1, -1}}};
  batch.context.clear();
  batch.context.emplace("x", f.Bytes(std::vector<std::string>(64, "")));  // empty strings still cost
  {
    RequestMemoryScope scope(&budget);
    EXPECT_EQ(ExamplesToInputs(strings, batch).status().code(), StatusCode::kResourceExhausted);
  }
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.refused_per_request(), 2u);
  // Within the budget the same broadcast is decoded.
  MemoryBudget roomy(size_t{1} << 30, size_t{1} << 30);
  RequestMemoryScope scope(&roomy);
  EXPECT_TRUE(ExamplesToInputs(strings, batch).ok());
}

TEST(TfsExamplesTest, PlansClassifyAndRegress) {
  StatusOr<ClassifyPlan> plan = PlanClassify(MlpSignature());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->scores, "scores");
  EXPECT_EQ(plan->classes, "");
  EXPECT_EQ(plan->Outputs(), (std::vector<std::string>{"scores"}));

  ModelSignature labelled = MlpSignature();
  labelled.outputs = {{"probabilities", DataType::kFp32, {-1, 2}}, {"classes", DataType::kString, {-1, 2}}};
  plan = PlanClassify(labelled);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->Outputs(), (std::vector<std::string>{"probabilities", "classes"}));

  ModelSignature none = MlpSignature();
  none.outputs = {{"sum", DataType::kFp32, {-1, 16}}};
  StatusOr<ClassifyPlan> bad = PlanClassify(none);
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bad.status().message().find("'sum' FP32 [-1,16]"), std::string::npos) << bad.status().message();
  ModelSignature wrong_type = MlpSignature();
  wrong_type.outputs = {{"scores", DataType::kFp64, {-1, 3}}};
  EXPECT_EQ(PlanClassify(wrong_type).status().code(), StatusCode::kFailedPrecondition);
  wrong_type.outputs = {{"scores", DataType::kFp32, {-1, 3}}, {"classes", DataType::kInt64, {-1, 3}}};
  EXPECT_EQ(PlanClassify(wrong_type).status().code(), StatusCode::kFailedPrecondition);
  wrong_type.outputs = {{"scores", DataType::kFp32, {-1}}};
  EXPECT_EQ(PlanClassify(wrong_type).status().code(), StatusCode::kFailedPrecondition);

  // Regress: "outputs", else the only FP32 output.
  ModelSignature regressor = MlpSignature();
  regressor.outputs = {{"outputs", DataType::kFp32, {-1, 1}}, {"other", DataType::kFp32, {-1}}};
  EXPECT_EQ(*PlanRegress(regressor), "outputs");
  // mlp's only FP32 output is scores [-1, 3]: not a regression output
  StatusOr<std::string> mlp = PlanRegress(MlpSignature());
  EXPECT_EQ(mlp.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(mlp.status().message().find("'scores' FP32 [-1,3]"), std::string::npos) << mlp.status().message();
  regressor.outputs = {{"y", DataType::kFp32, {-1}}, {"ids", DataType::kInt64, {-1}}};
  EXPECT_EQ(*PlanRegress(regressor), "y");
  regressor.outputs = {{"outputs", DataType::kFp32, {-1, 2}}};
  EXPECT_EQ(PlanRegress(regressor).status().code(), StatusCode::kFailedPrecondition);
  regressor.outputs = {{"a", DataType::kFp32, {-1}}, {"b", DataType::kFp32, {-1}}};
  EXPECT_EQ(PlanRegress(regressor).status().code(), StatusCode::kFailedPrecondition);
  regressor.outputs = {{"outputs", DataType::kInt64, {-1}}};
  EXPECT_EQ(PlanRegress(regressor).status().code(), StatusCode::kFailedPrecondition);
}

Tensor FloatTensor(std::string name, Shape shape, std::vector<float> values) {
  StatusOr<Tensor> t = Tensor::Allocate(std::move(name), DataType::kFp32, std::move(shape));
  std::memcpy(t->mutable_bytes().data(), values.data(), values.size() * sizeof(float));
  return *t;
}

TEST(TfsExamplesTest, ReadsClassifications) {
  InferenceResponse response;
  response.outputs.push_back(FloatTensor("scores", {2, 2}, {0.25f, 0.75f, 1, 0}));
  response.outputs.push_back(Tensor::FromStrings("classes", {2, 2}, {"cat", "dog", "x", "y"}));
  ClassifyPlan plan{"scores", "classes"};
  StatusOr<ClassificationRows> rows = ReadClassifications(response, plan, 2);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0][1].label, "dog");
  EXPECT_EQ((*rows)[0][1].score, 0.75f);
  EXPECT_EQ((*rows)[1][0].label, "x");

  ClassifyPlan scores_only{"scores", ""};
  rows = ReadClassifications(response, scores_only, 2);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[1][0].label, "");
  EXPECT_EQ((*rows)[1][0].score, 1.0f);

  EXPECT_EQ(ReadClassifications(response, plan, 3).status().code(), StatusCode::kInvalidArgument);
  response.outputs[1] = Tensor::FromStrings("classes", {2, 1}, {"a", "b"});
  EXPECT_EQ(ReadClassifications(response, plan, 2).status().code(), StatusCode::kInvalidArgument);
  response.outputs[0] = FloatTensor("scores", {4}, {1, 2, 3, 4});
  EXPECT_EQ(ReadClassifications(response, scores_only, 4).status().code(), StatusCode::kInvalidArgument);
}

TEST(TfsExamplesTest, ReadsRegressions) {
  InferenceResponse response;
  response.outputs.push_back(FloatTensor("outputs", {3, 1}, {1.5f, -2, 0}));
  StatusOr<std::vector<float>> values = ReadRegressions(response, "outputs", 3);
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  EXPECT_EQ(*values, (std::vector<float>{1.5f, -2, 0}));
  response.outputs[0] = FloatTensor("outputs", {3}, {1, 2, 3});
  EXPECT_TRUE(ReadRegressions(response, "outputs", 3).ok());
  response.outputs[0] = FloatTensor("outputs", {1, 3}, {1, 2, 3});
  StatusOr<std::vector<float>> bad = ReadRegressions(response, "outputs", 1);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("[batch_size] or [batch_size, 1]"), std::string::npos);
}

TEST(TfsExamplesJsonTest, DecodesExamplesAndContext) {
  StatusOr<TfsExamplesJsonRequest> decoded = DecodeTfsExamplesJson(R"({
    "signature_name": "serving_default",
    "ignored": {"nested": [1, {"x": null}], "more": true},
    "context": {"lang": "en", "w": [1, 2.5]},
    "examples": [
      {"features": [1, 2, 3, 4], "tag": {"b64": "AAE="}},
      {"features": [1.5, 2, 3, 4e1], "tags": ["a", {"b64": "Yg=="}], "n": -9223372036854775808}
    ]})");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->signature_name, "serving_default");
  const ExampleBatch& batch = decoded->batch;
  ASSERT_EQ(batch.examples.size(), 2u);
  const FeatureValues& lang = batch.context.at("lang");
  EXPECT_EQ(lang.kind, FeatureKind::kBytes);
  EXPECT_EQ(lang.bytes, (std::vector<std::string_view>{"en"}));
  const FeatureValues& w = batch.context.at("w");
  EXPECT_EQ(w.kind, FeatureKind::kFloat);  // one fractional number makes the list a float list
  EXPECT_EQ(std::vector<float>(w.floats.begin(), w.floats.end()), (std::vector<float>{1, 2.5f}));
  const FeatureValues& f0 = batch.examples[0].at("features");
  EXPECT_EQ(f0.kind, FeatureKind::kInt64);
  EXPECT_EQ(std::vector<int64_t>(f0.int64s.begin(), f0.int64s.end()), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(batch.examples[0].at("tag").bytes, (std::vector<std::string_view>{std::string_view("\0\1", 2)}));
  const FeatureValues& f1 = batch.examples[1].at("features");
  EXPECT_EQ(f1.kind, FeatureKind::kFloat);
  EXPECT_EQ(std::vector<float>(f1.floats.begin(), f1.floats.end()), (std::vector<float>{1.5f, 2, 3, 40}));
  EXPECT_EQ(batch.examples[1].at("tags").bytes, (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(batch.examples[1].at("n").int64s[0], INT64_MIN);

  // The batch owns its storage: it survives a move.
  ExampleBatch moved = std::move(decoded->batch);
  EXPECT_EQ(moved.examples[1].at("tags").bytes[0], "a");
  StatusOr<std::vector<Tensor>> inputs = ExamplesToInputs(MlpSignature(), moved);
  ASSERT_TRUE(inputs.ok()) << inputs.status().ToString();
  EXPECT_EQ(Values<float>((*inputs)[0]), (std::vector<float>{1, 2, 3, 4, 1.5f, 2, 3, 40}));
}

TEST(TfsExamplesJsonTest, RejectsMalformedBodies) {
  const char* bad[] = {
      R"([])",
      R"({"context": {}})",  // no examples
      R"({"examples": {}})",
      R"({"examples": [1]})",
      R"({"examples": [{"x": [[1]]}]})",  // nested list
      R"({"examples": [{"x": null}]})",
      R"({"examples": [{"x": true}]})",
      R"({"examples": [{"x": [1, "a"]}]})",  // mixed
      R"({"examples": [{"x": ["a", 1]}]})",
      R"({"examples": [{"x": 1, "x": 2}]})",  // duplicate feature
      R"({"examples": [{"x": {"b64": "!!"}}]})",
      R"({"examples": [{"x": {"c": "AA=="}}]})",
      R"({"examples": [{"x": 9223372036854775808}]})",  // int64 overflow
      R"({"examples": [{"x": 1e39}]})",                 // float overflow
      R"({"examples": [], "examples": []})",
      R"({"signature_name": 3, "examples": []})",
      R"({"context": [], "examples": []})",
      R"({"examples": [{"x": 1}])",  // truncated
  };
  for (const char* body : bad) {
    StatusOr<TfsExamplesJsonRequest> decoded = DecodeTfsExamplesJson(body);
    EXPECT_FALSE(decoded.ok()) << body;
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << body;
    }
  }
  StatusOr<TfsExamplesJsonRequest> empty = DecodeTfsExamplesJson(R"({"examples": [{"x": []}]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->batch.examples[0].at("x").size(), 0u);
}

TEST(TfsExamplesJsonTest, EncodesResults) {
  ClassificationRows rows = {{{"a", 0.5f}, {"", 1.0f}}, {}};
  EXPECT_EQ(EncodeTfsClassifyJson(rows), R"({"results":[[["a",0.5],["",1.0]],[]]})");
  std::vector<float> values = {1.5f, -2.0f};
  EXPECT_EQ(EncodeTfsRegressJson(values), R"({"results":[1.5,-2.0]})");
  EXPECT_EQ(EncodeTfsRegressJson({}), R"({"results":[]})");
}

}  // namespace
}  // namespace serval

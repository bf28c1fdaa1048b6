#include "api/tfs/tfs_feature_spec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "core/tensor_test_util.h"
#include "tensorflow/core/example/example.pb.h"

namespace serval {
namespace {

namespace tf = ::tensorflow;

ExampleFeatureSpec Fixed(const std::string& key, DataType type, std::vector<int64_t> shape) {
  ExampleFeatureSpec f;
  f.key = key;
  f.kind = ExampleFeatureSpec::Kind::kFixedLen;
  f.dtype = type;
  f.shape = std::move(shape);
  f.values_name = key + "_in";
  return f;
}

ExampleFeatureSpec VarLen(const std::string& key, DataType type) {
  ExampleFeatureSpec f;
  f.key = key;
  f.kind = ExampleFeatureSpec::Kind::kVarLen;
  f.dtype = type;
  f.values_name = key;
  f.indices_name = key + "_indices";
  f.dense_shape_name = key + "_dense_shape";
  return f;
}

ExampleParseSpec Spec(std::vector<ExampleFeatureSpec> features) {
  ExampleParseSpec spec;
  spec.input = "inputs";
  spec.features = std::move(features);
  return spec;
}

// Serialized tf.Examples built with the real protos, as a client sends them.
class Examples {
 public:
  tf::Example& Add() { return examples_.emplace_back(); }
  static void Floats(tf::Example& e, const std::string& key, const std::vector<float>& values) {
    auto* list = (*e.mutable_features()->mutable_feature())[key].mutable_float_list();
    for (float v : values) list->add_value(v);
  }
  static void Ints(tf::Example& e, const std::string& key, const std::vector<int64_t>& values) {
    auto* list = (*e.mutable_features()->mutable_feature())[key].mutable_int64_list();
    for (int64_t v : values) list->add_value(v);
  }
  static void Bytes(tf::Example& e, const std::string& key, const std::vector<std::string>& values) {
    auto* list = (*e.mutable_features()->mutable_feature())[key].mutable_bytes_list();
    for (const std::string& v : values) list->add_value(v);
  }
  Tensor Serialized() const {
    std::vector<std::string> rows;
    for (const tf::Example& e : examples_) rows.push_back(e.SerializeAsString());
    const auto n = static_cast<int64_t>(rows.size());
    return Tensor::FromStrings("inputs", {n}, std::move(rows));
  }

 private:
  std::deque<tf::Example> examples_;
};

StatusOr<std::vector<Tensor>> Parse(const ExampleParseSpec& spec, const Examples& examples, CodecLimits limits = {}) {
  return MakeExampleParser(limits)(spec, examples.Serialized());
}

void ExpectError(const StatusOr<std::vector<Tensor>>& result, StatusCode code, const std::string& text) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code);
  EXPECT_NE(result.status().message().find(text), std::string::npos) << result.status().message();
}

TEST(TfsFeatureSpec, FixedLenFloatWithDefault) {
  ExampleFeatureSpec x = Fixed("x", DataType::kFp32, {2});
  x.has_default = true;
  x.default_floats = {7, 8};
  Examples ex;
  Examples::Floats(ex.Add(), "x", {1, 2});
  ex.Add();                                  // lacks x: takes the default
  Examples::Floats(ex.Add(), "other", {9});  // lacks x too; other features are ignored
  auto out = Parse(Spec({x}), ex);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name(), "x_in");
  EXPECT_EQ((*out)[0].dtype(), DataType::kFp32);
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{1, 2, 7, 8, 7, 8}));
}

TEST(TfsFeatureSpec, FixedLenInt64AndBytesAndScalarShape) {
  ExampleFeatureSpec id = Fixed("id", DataType::kInt64, {1, 2});
  ExampleFeatureSpec word = Fixed("word", DataType::kString, {});
  word.has_default = true;
  word.default_bytes = {"none"};
  Examples ex;
  tf::Example& a = ex.Add();
  Examples::Ints(a, "id", {1, -2});
  Examples::Bytes(a, "word", {std::string("a\0b", 3)});
  Examples::Ints(ex.Add(), "id", {int64_t{1} << 40, 3});
  auto out = Parse(Spec({id, word}), ex);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(Values<int64_t>((*out)[0]), (std::vector<int64_t>{1, -2, int64_t{1} << 40, 3}));
  EXPECT_EQ((*out)[1].shape(), (Shape{2}));
  EXPECT_EQ((*out)[1].strings(), (std::vector<std::string>{std::string("a\0b", 3), "none"}));
}

TEST(TfsFeatureSpec, VarLenGivesValuesIndicesAndDenseShape) {
  Examples ex;
  Examples::Ints(ex.Add(), "ids", {5, 6, 7});
  ex.Add();  // no ids: adds nothing
  Examples::Ints(ex.Add(), "ids", {8});
  auto out = Parse(Spec({VarLen("ids", DataType::kInt64)}), ex);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0].name(), "ids");
  EXPECT_EQ((*out)[0].shape(), (Shape{4}));
  EXPECT_EQ(Values<int64_t>((*out)[0]), (std::vector<int64_t>{5, 6, 7, 8}));
  EXPECT_EQ((*out)[1].name(), "ids_indices");
  EXPECT_EQ((*out)[1].shape(), (Shape{4, 2}));
  EXPECT_EQ(Values<int64_t>((*out)[1]), (std::vector<int64_t>{0, 0, 0, 1, 0, 2, 2, 0}));
  EXPECT_EQ((*out)[2].name(), "ids_dense_shape");
  EXPECT_EQ(Values<int64_t>((*out)[2]), (std::vector<int64_t>{3, 3}));
}

TEST(TfsFeatureSpec, VarLenStringsAndFloatsAndAllMissing) {
  Examples ex;
  Examples::Bytes(ex.Add(), "w", {"a", "bc"});
  Examples::Floats(ex.Add(), "f", {0.5f});
  auto out =
      Parse(Spec({VarLen("w", DataType::kString), VarLen("f", DataType::kFp32), VarLen("z", DataType::kFp32)}), ex);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 9u);
  EXPECT_EQ((*out)[0].strings(), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(Values<int64_t>((*out)[2]), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Values<float>((*out)[3]), (std::vector<float>{0.5f}));
  EXPECT_EQ(Values<int64_t>((*out)[4]), (std::vector<int64_t>{1, 0}));
  // A feature no example has: empty values, indices [0, 2], dense_shape [batch, 0].
  EXPECT_EQ((*out)[6].shape(), (Shape{0}));
  EXPECT_EQ((*out)[7].shape(), (Shape{0, 2}));
  EXPECT_EQ(Values<int64_t>((*out)[8]), (std::vector<int64_t>{2, 0}));
}

TEST(TfsFeatureSpec, ContextFillsWhatAnExampleLacks) {
  std::vector<float> own = {1}, shared = {5}, ctx_ids = {9};
  ExampleBatch batch;
  FeatureValues mine;
  mine.floats = own;
  FeatureValues context;
  context.floats = shared;
  batch.examples.resize(2);
  batch.examples[0].emplace("x", mine);
  batch.context.emplace("x", context);
  auto out = FeaturesToTensors(Spec({Fixed("x", DataType::kFp32, {1})}), batch);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{1, 5}));
}

TEST(TfsFeatureSpec, TensorFlowErrors) {
  Examples ex;
  Examples::Floats(ex.Add(), "x", {1});
  ex.Add();
  ExpectError(Parse(Spec({Fixed("x", DataType::kFp32, {1})}), ex), StatusCode::kInvalidArgument,
              "Name: <unknown>, Feature: x (data type: float) is required but could not be found.");

  Examples two;
  Examples::Floats(two.Add(), "x", {1, 2});
  ExpectError(Parse(Spec({Fixed("x", DataType::kFp32, {1})}), two), StatusCode::kInvalidArgument,
              "Name: <unknown>, Key: x, Index: 0.  Number of float values != expected.  Values size: 2 but output "
              "shape: [1]");

  Examples ints;
  Examples::Ints(ints.Add(), "x", {1});
  ExpectError(Parse(Spec({Fixed("x", DataType::kFp32, {1})}), ints), StatusCode::kInvalidArgument,
              "Name: <unknown>, Key: x, Index: 0.  Data types don't match. Data type: int64 but expected type: float");
  ExpectError(Parse(Spec({VarLen("x", DataType::kString)}), ints), StatusCode::kInvalidArgument,
              "Data type: int64 but expected type: string");

  // A feature whose value list is not set counts as absent: the default applies.
  Examples unset;
  (*unset.Add().mutable_features()->mutable_feature())["x"];
  ExampleFeatureSpec with_default = Fixed("x", DataType::kFp32, {1});
  with_default.has_default = true;
  with_default.default_floats = {3};
  auto out = Parse(Spec({with_default}), unset);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{3}));
}

TEST(TfsFeatureSpec, MalformedInput) {
  ExampleParser parser = MakeExampleParser();
  ExampleParseSpec spec = Spec({VarLen("x", DataType::kFp32)});
  auto bad = parser(spec, Tensor::FromStrings("inputs", {2}, {"", "\xff\xff\xff"}));
  ExpectError(bad, StatusCode::kInvalidArgument, "Could not parse example input");
  ExpectError(parser(spec, Tensor::FromStrings("inputs", {}, {""})), StatusCode::kInvalidArgument,
              "Expected serialized to be a vector, got shape: []");
  ExpectError(parser(spec, Tensor::FromStrings("inputs", {1, 1}, {""})), StatusCode::kInvalidArgument,
              "Expected serialized to be a vector");
  // An empty batch parses into empty tensors.
  auto empty = parser(spec, Tensor::FromStrings("inputs", {0}, {}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Values<int64_t>((*empty)[2]), (std::vector<int64_t>{0, 0}));
}

TEST(TfsFeatureSpec, SizesAreCheckedBeforeAllocating) {
  CodecLimits small;
  small.max_tensor_bytes = 1024;
  // A default repeated per example: 100 examples x 4 floats = 1600 bytes > 1024.
  ExampleFeatureSpec x = Fixed("x", DataType::kFp32, {4});
  x.has_default = true;
  x.default_floats = {0, 0, 0, 0};
  Examples many;
  for (int i = 0; i < 100; ++i) many.Add();
  ExpectError(Parse(Spec({x}), many, small), StatusCode::kResourceExhausted, "would exceed 1024 bytes");
  // var_len: 100 values need 1600 bytes of indices.
  Examples ex;
  std::vector<int64_t> ids(100, 1);
  Examples::Ints(ex.Add(), "ids", ids);
  ExpectError(Parse(Spec({VarLen("ids", DataType::kInt64)}), ex, small), StatusCode::kResourceExhausted,
              "would exceed");
  Examples strings;
  Examples::Bytes(strings.Add(), "w", {std::string(2000, 'a')});
  ExpectError(Parse(Spec({Fixed("w", DataType::kString, {1})}), strings, small), StatusCode::kResourceExhausted,
              "would exceed");
  ExpectError(Parse(Spec({VarLen("w", DataType::kString)}), strings, small), StatusCode::kResourceExhausted,
              "would exceed");
  // A per-example shape whose product overflows is refused, not allocated.
  ExampleFeatureSpec huge = Fixed("h", DataType::kFp32, {int64_t{1} << 40, int64_t{1} << 40});
  Examples one;
  one.Add();
  EXPECT_FALSE(Parse(Spec({huge}), one).ok());
}

}  // namespace
}  // namespace serval

#include "api/json/json_tensor_builder.h"

#include <cstring>

#include <gtest/gtest.h>

#include "api/json/json_test_router.h"

namespace serval {
namespace {

using Options = JsonTensorBuilder::Options;
using Shaping = JsonTensorBuilder::Shaping;

StatusOr<Tensor> Decode(std::string_view json, DataType type, Options options = {}, const Shape* declared = nullptr,
                        DataType late_type = DataType::kInvalid, CodecLimits limits = {}) {
  JsonTensorBuilder builder("input 'x'", type, options, limits);
  if (declared != nullptr && type != DataType::kInvalid) builder.ExpectShape(*declared);
  RootRouter router(&builder);
  Status status = ParseJson(json, router);
  if (!status.ok()) return status;
  return builder.Finish("x", late_type, declared);
}

template <typename T>
std::vector<T> Values(const Tensor& tensor) {
  std::vector<T> values(tensor.bytes().size() / sizeof(T));
  std::memcpy(values.data(), tensor.bytes().data(), tensor.bytes().size());
  return values;
}

TEST(JsonTensorBuilderTest, InfersShapesFromNesting) {
  struct Case {
    const char* json;
    Shape shape;
  };
  for (const Case& c : {Case{"5", {}}, Case{"[1,2,3]", {3}}, Case{"[[1,2],[3,4],[5,6]]", {3, 2}}, Case{"[]", {0}},
                        Case{"[[],[]]", {2, 0}}, Case{"[[[]]]", {1, 1, 0}}, Case{" [ [ 1 , 2 ] ] ", {1, 2}},
                        Case{"[[[1],[2]],[[3],[4]]]", {2, 2, 1}}}) {
    StatusOr<Tensor> tensor = Decode(c.json, DataType::kFp32);
    ASSERT_TRUE(tensor.ok()) << c.json << ": " << tensor.status().ToString();
    EXPECT_EQ(tensor->shape(), c.shape) << c.json;
    EXPECT_EQ(tensor->name(), "x");
  }
  StatusOr<Tensor> tensor = Decode("[[1,2],[3,4]]", DataType::kInt32);
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(Values<int32_t>(*tensor), (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(JsonTensorBuilderTest, RejectsRaggedLists) {
  for (const char* json :
       {"[[1,2],[3]]", "[[1],2]", "[1,[2]]", "[[],[1]]", "[[[]],[1]]", "[[1],[[2]]]", "[[[1,2]],[[3]]]", "[[[]],[]]"}) {
    for (DataType type : {DataType::kFp32, DataType::kInvalid}) {
      StatusOr<Tensor> tensor = Decode(json, type, {}, nullptr, DataType::kFp32);
      ASSERT_FALSE(tensor.ok()) << json;
      EXPECT_EQ(tensor.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(tensor.status().message().find("input 'x'"), std::string::npos) << tensor.status().message();
      EXPECT_NE(tensor.status().message().find("ragged"), std::string::npos) << json;
    }
  }
}

TEST(JsonTensorBuilderTest, TypeErrorsNameTheInput) {
  struct Case {
    const char* json;
    DataType type;
    const char* needle;
  };
  for (const Case& c :
       {Case{"[300]", DataType::kUint8, "300 is out of range for UINT8"},
        Case{"[1.5]", DataType::kInt32, "1.5 is not an integer"}, Case{"[\"a\"]", DataType::kFp32, "FP32 number"},
        Case{"[1,\"a\"]", DataType::kFp32, "FP32 number"}, Case{"[9007199254740993.0]", DataType::kInt64, "2^53"},
        Case{"[null]", DataType::kFp32, "number"}, Case{"[1]", DataType::kBool, "true or false"},
        Case{"[true]", DataType::kFp32, "FP32 number"}, Case{"[1]", DataType::kString, "expected a string"},
        Case{"[1,]", DataType::kFp32, "value after ','"}, Case{"[1 2]", DataType::kFp32, "expected ',' or ']'"},
        Case{"[{}]", DataType::kFp32, "FP32 number"}, Case{"1.5", DataType::kInt8, "not an integer"},
        Case{"\"x\"", DataType::kInt8, "got a string"}}) {
    StatusOr<Tensor> tensor = Decode(c.json, c.type);
    ASSERT_FALSE(tensor.ok()) << c.json;
    EXPECT_EQ(tensor.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(tensor.status().message().find("input 'x'"), std::string::npos) << tensor.status().message();
    EXPECT_NE(tensor.status().message().find(c.needle), std::string::npos)
        << c.json << ": " << tensor.status().message();
  }
}

TEST(JsonTensorBuilderTest, EveryNumericTypeThroughFastAndDeferredPaths) {
  const char* json = "[[0,1],[2,3]]";
  for (DataType type :
       {DataType::kUint8, DataType::kUint16, DataType::kUint32, DataType::kUint64, DataType::kInt8, DataType::kInt16,
        DataType::kInt32, DataType::kInt64, DataType::kFp16, DataType::kBf16, DataType::kFp32, DataType::kFp64}) {
    StatusOr<Tensor> fast = Decode(json, type);
    StatusOr<Tensor> deferred = Decode(json, DataType::kInvalid, {}, nullptr, type);
    ASSERT_TRUE(fast.ok()) << KServeName(type) << fast.status().ToString();
    ASSERT_TRUE(deferred.ok()) << KServeName(type) << deferred.status().ToString();
    EXPECT_EQ(fast->dtype(), type);
    EXPECT_EQ(fast->shape(), (Shape{2, 2}));
    EXPECT_EQ(deferred->shape(), (Shape{2, 2}));
    ASSERT_EQ(fast->bytes().size(), 4 * ElementSize(type));
    EXPECT_EQ(std::memcmp(fast->bytes().data(), deferred->bytes().data(), fast->bytes().size()), 0);
  }
  StatusOr<Tensor> bools = Decode("[true,false,true]", DataType::kBool);
  ASSERT_TRUE(bools.ok());
  EXPECT_EQ(Values<uint8_t>(*bools), (std::vector<uint8_t>{1, 0, 1}));
  StatusOr<Tensor> late_bools = Decode("[true,false]", DataType::kInvalid, {}, nullptr, DataType::kBool);
  ASSERT_TRUE(late_bools.ok());
  EXPECT_EQ(Values<uint8_t>(*late_bools), (std::vector<uint8_t>{1, 0}));
}

TEST(JsonTensorBuilderTest, StringsAndBase64) {
  Options b64;
  b64.accept_b64 = true;
  StatusOr<Tensor> tensor = Decode(R"([{"b64":"aGk="},"plain",{"b64":""}])", DataType::kString, b64);
  ASSERT_TRUE(tensor.ok()) << tensor.status().ToString();
  EXPECT_EQ(tensor->strings(), (std::vector<std::string>{"hi", "plain", ""}));
  EXPECT_EQ(tensor->shape(), (Shape{3}));
  for (const char* bad : {R"([{"b64":"a"}])", R"([{"b64":"@@@@"}])", R"([{"b64":1}])", R"([{"x":"aGk="}])",
                          R"([{"b64":"aGk=","b64":"aGk="}])", R"([{}])", R"([{"b64":["aGk="]}])"}) {
    StatusOr<Tensor> result = Decode(bad, DataType::kString, b64);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_NE(result.status().message().find("input 'x'"), std::string::npos);
  }
  EXPECT_FALSE(Decode(R"([{"b64":"aGk="}])", DataType::kFp32, b64).ok());
  EXPECT_FALSE(Decode(R"([{"b64":"aGk="}])", DataType::kString).ok());  // b64 not accepted (KServe)
  StatusOr<Tensor> late = Decode(R"(["a","b"])", DataType::kInvalid, {}, nullptr, DataType::kString);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->strings(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(Decode(R"(["a"])", DataType::kInvalid, {}, nullptr, DataType::kFp32).ok());
}

TEST(JsonTensorBuilderTest, CountModeChecksTheDeclaredShape) {
  Options count;
  count.shaping = Shaping::kCount;
  Shape shape{2, 2};
  StatusOr<Tensor> flat = Decode("[1,2,3,4]", DataType::kFp32, count, &shape);
  ASSERT_TRUE(flat.ok()) << flat.status().ToString();
  EXPECT_EQ(flat->shape(), shape);
  EXPECT_EQ(Values<float>(*flat), (std::vector<float>{1, 2, 3, 4}));
  StatusOr<Tensor> ragged_ok = Decode("[[1,2,3],[4]]", DataType::kFp32, count, &shape);
  ASSERT_TRUE(ragged_ok.ok());
  StatusOr<Tensor> few = Decode("[1,2,3]", DataType::kFp32, count, &shape);
  ASSERT_FALSE(few.ok());
  EXPECT_NE(few.status().message().find("the data has 3 elements but shape [2,2] needs 4"), std::string::npos)
      << few.status().message();
  StatusOr<Tensor> many = Decode("[1,2,3,4,5]", DataType::kFp32, count, &shape);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("more elements than shape [2,2]"), std::string::npos)
      << many.status().message();
  // A declared shape the text cannot possibly fill is refused before allocating it.
  Shape huge{1000000000};
  StatusOr<Tensor> refused = Decode("[1,2]", DataType::kFp32, count, &huge);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("can hold at most"), std::string::npos) << refused.status().message();
  Shape overflow{4294967296, 4294967296, 2};
  StatusOr<Tensor> overflowed = Decode("[1,2]", DataType::kFp32, count, &overflow);
  ASSERT_FALSE(overflowed.ok());
  EXPECT_NE(overflowed.status().message().find("overflows"), std::string::npos);
  Shape negative{-1, 2};
  EXPECT_FALSE(Decode("[1,2]", DataType::kFp32, count, &negative).ok());
  StatusOr<Tensor> deferred = Decode("[1,2,3,4]", DataType::kInvalid, count, &shape, DataType::kInt16);
  ASSERT_TRUE(deferred.ok());
  EXPECT_EQ(Values<int16_t>(*deferred), (std::vector<int16_t>{1, 2, 3, 4}));
}

TEST(JsonTensorBuilderTest, RowsModeStacksValues) {
  Options rows;
  rows.rows = true;
  JsonTensorBuilder builder("input 'x'", DataType::kInt32, rows, {});
  for (int row = 0; row < 3; ++row) {
    ASSERT_TRUE(builder.StartArray());
    ASSERT_TRUE(builder.Number(std::to_string(row)));
    ASSERT_TRUE(builder.Number("7"));
    ASSERT_TRUE(builder.EndArray());
  }
  EXPECT_EQ(builder.rows(), 3);
  StatusOr<Tensor> tensor = builder.Finish("x");
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<int32_t>(*tensor), (std::vector<int32_t>{0, 7, 1, 7, 2, 7}));

  JsonTensorBuilder scalars("input 'y'", DataType::kFp32, rows, {});
  ASSERT_TRUE(scalars.Number("1"));
  ASSERT_TRUE(scalars.Number("2"));
  StatusOr<Tensor> column = scalars.Finish("y");
  ASSERT_TRUE(column.ok());
  EXPECT_EQ(column->shape(), (Shape{2}));

  JsonTensorBuilder ragged("input 'z'", DataType::kFp32, rows, {});
  ASSERT_TRUE(ragged.Number("1"));
  EXPECT_FALSE(ragged.StartArray());
  EXPECT_NE(ragged.error().message().find("ragged"), std::string::npos);
}

TEST(JsonTensorBuilderTest, FastPathCountsNestingAgainstTheDepthCap) {
  // Depth 100 in total is fine; 101 is not, even though the reader never sees the inner lists.
  std::string ok = std::string(100, '[') + "1" + std::string(100, ']');
  StatusOr<Tensor> tensor = Decode(ok, DataType::kFp32);
  ASSERT_TRUE(tensor.ok()) << tensor.status().ToString();
  EXPECT_EQ(tensor->shape().size(), 100u);
  std::string deep = std::string(101, '[') + "1" + std::string(101, ']');
  StatusOr<Tensor> refused = Decode(deep, DataType::kFp32);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("nested deeper than 100"), std::string::npos);
  StatusOr<Tensor> hostile = Decode(std::string(100000, '['), DataType::kFp32);
  ASSERT_FALSE(hostile.ok());
  EXPECT_EQ(hostile.status().code(), StatusCode::kInvalidArgument);
}

TEST(JsonTensorBuilderTest, ByteLimitIsEnforced) {
  CodecLimits limits;
  limits.max_tensor_bytes = 16;
  StatusOr<Tensor> tensor = Decode("[1,2,3,4,5]", DataType::kFp32, {}, nullptr, DataType::kInvalid, limits);
  ASSERT_FALSE(tensor.ok());
  EXPECT_EQ(tensor.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(Decode("[1,2,3,4]", DataType::kFp32, {}, nullptr, DataType::kInvalid, limits).ok());
  StatusOr<Tensor> strings = Decode(R"(["a","b"])", DataType::kString, {}, nullptr, DataType::kInvalid, limits);
  EXPECT_EQ(strings.status().code(), StatusCode::kResourceExhausted);
}

TEST(JsonTensorBuilderTest, LongListsTakeTheFastPath) {
  std::string json = "[";
  for (int i = 0; i < 100000; ++i) json += (i ? "," : "") + std::to_string(i % 1000) + ".25";
  json += "]";
  StatusOr<Tensor> tensor = Decode(json, DataType::kFp32);
  ASSERT_TRUE(tensor.ok());
  std::vector<float> values = Values<float>(*tensor);
  ASSERT_EQ(values.size(), 100000u);
  EXPECT_EQ(values[12345], 345.25f);
}

}  // namespace
}  // namespace serval

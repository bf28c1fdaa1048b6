#include "api/json/json_writer.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "api/json/float16.h"

namespace serval {
namespace {

template <typename T>
Tensor MakeTensor(DataType type, Shape shape, const std::vector<T>& values) {
  Tensor tensor = *Tensor::Allocate("t", type, std::move(shape));
  if (!values.empty()) std::memcpy(tensor.mutable_bytes().data(), values.data(), values.size() * sizeof(T));
  return tensor;
}

std::string Write(const Tensor& tensor, JsonStringStyle style = JsonStringStyle::kString) {
  std::string out;
  JsonOut json(&out);
  WriteTensorJson(json, tensor, tensor.shape(), 0, style);
  json.Flush();
  return out;
}

std::string Quote(std::string_view text) {
  std::string out;
  AppendJsonString(&out, text);
  return out;
}

TEST(JsonWriterTest, EscapesStrings) {
  EXPECT_EQ(Quote("plain"), "\"plain\"");
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
  EXPECT_EQ(Quote(std::string("\0\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(Quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Bytes that are not UTF-8: each becomes U+FFFD.
  EXPECT_EQ(Quote("a\xff"
                  "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(Quote("\xc3"), "\"\\ufffd\"");                        // truncated sequence
  EXPECT_EQ(Quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong
  EXPECT_EQ(Quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));
}

TEST(JsonWriterTest, NumbersAreShortestAndKeepFloatness) {
  auto floats = MakeTensor<float>(
      DataType::kFp32, {7}, {1.0f, 0.1f, -2.5f, 1e20f, std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY});
  EXPECT_EQ(Write(floats), "[1.0,0.1,-2.5,1e+20,NaN,Infinity,-Infinity]");
  auto doubles = MakeTensor<double>(DataType::kFp64, {3}, {0.1, 1e300, -0.0});
  EXPECT_EQ(Write(doubles), "[0.1,1e+300,-0.0]");
  auto ints = MakeTensor<int64_t>(DataType::kInt64, {2}, {INT64_MIN, INT64_MAX});
  EXPECT_EQ(Write(ints), "[-9223372036854775808,9223372036854775807]");
  auto u64 = MakeTensor<uint64_t>(DataType::kUint64, {1}, {UINT64_MAX});
  EXPECT_EQ(Write(u64), "[18446744073709551615]");
  auto i8 = MakeTensor<int8_t>(DataType::kInt8, {2}, {-128, 127});
  EXPECT_EQ(Write(i8), "[-128,127]");
  auto u8 = MakeTensor<uint8_t>(DataType::kUint8, {1}, {255});
  EXPECT_EQ(Write(u8), "[255]");
  auto bools = MakeTensor<uint8_t>(DataType::kBool, {2}, {1, 0});
  EXPECT_EQ(Write(bools), "[true,false]");
  auto halves = MakeTensor<uint16_t>(DataType::kFp16, {2}, {0x3c00, DoubleToHalfBits(0.1)});
  EXPECT_EQ(Write(halves), "[1.0,0.099975586]");
  auto bf16 = MakeTensor<uint16_t>(DataType::kBf16, {1}, {0xc020});
  EXPECT_EQ(Write(bf16), "[-2.5]");
}

TEST(JsonWriterTest, NestsByShape) {
  auto t = MakeTensor<int32_t>(DataType::kInt32, {2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Write(t), "[[1,2,3],[4,5,6]]");
  auto deep = MakeTensor<int32_t>(DataType::kInt32, {2, 1, 2}, {1, 2, 3, 4});
  EXPECT_EQ(Write(deep), "[[[1,2]],[[3,4]]]");
  auto scalar = MakeTensor<int32_t>(DataType::kInt32, {}, {7});
  EXPECT_EQ(Write(scalar), "7");
  auto ones = MakeTensor<int32_t>(DataType::kInt32, {1, 1, 1}, {9});
  EXPECT_EQ(Write(ones), "[[[9]]]");
  EXPECT_EQ(Write(MakeTensor<int32_t>(DataType::kInt32, {2, 0}, {})), "[[],[]]");
  EXPECT_EQ(Write(MakeTensor<int32_t>(DataType::kInt32, {0, 3}, {})), "[]");
  EXPECT_EQ(Write(MakeTensor<int32_t>(DataType::kInt32, {2, 2, 0}, {})), "[[[],[]],[[],[]]]");
  // A row of a larger tensor.
  std::string out;
  JsonOut json(&out);
  const int64_t row[] = {3};
  WriteTensorJson(json, t, row, 3, JsonStringStyle::kString);
  json.Flush();
  EXPECT_EQ(out, "[4,5,6]");
}

TEST(JsonWriterTest, StringStyles) {
  Tensor strings = Tensor::FromStrings("s", {3}, {"hi", std::string("\xff\x00", 2), ""});
  EXPECT_EQ(Write(strings, JsonStringStyle::kString), "[\"hi\",\"\\ufffd\\u0000\",\"\"]");
  EXPECT_EQ(Write(strings, JsonStringStyle::kB64Object), "[{\"b64\":\"aGk=\"},{\"b64\":\"/wA=\"},{\"b64\":\"\"}]");
  EXPECT_EQ(Write(strings, JsonStringStyle::kStringOrB64), "[\"hi\",{\"b64\":\"/wA=\"},\"\"]");
}

TEST(JsonWriterTest, FloatOutputParsesBackExactly) {
  std::mt19937 rng(11);
  std::vector<float> values(5000);
  for (float& v : values) {
    uint32_t bits = rng();
    std::memcpy(&v, &bits, 4);
    if (!std::isfinite(v)) v = 1.0f;
  }
  std::string text = Write(MakeTensor<float>(DataType::kFp32, {5000}, values));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_EQ(doc.Size(), 5000u);
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(doc[static_cast<rapidjson::SizeType>(i)].IsDouble());
    EXPECT_EQ(static_cast<float>(doc[static_cast<rapidjson::SizeType>(i)].GetDouble()), values[i]) << i;
  }
}

}  // namespace
}  // namespace serval

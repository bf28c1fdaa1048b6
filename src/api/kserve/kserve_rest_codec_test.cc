#include "api/kserve/kserve_rest_codec.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "api/json/float16.h"

#include "core/tensor_test_util.h"

namespace serval {
namespace {

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string LengthPrefixed(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) {
    uint32_t length = static_cast<uint32_t>(value.size());
    out.append(reinterpret_cast<const char*>(&length), 4);
    out += value;
  }
  return out;
}

StatusOr<KServeInferRequest> Decode(std::string body, const ModelSignature& signature,
                                    std::optional<size_t> header = std::nullopt, CodecLimits limits = {}) {
  return DecodeKServeInferRequest(std::make_shared<const std::string>(std::move(body)), header, signature, limits);
}

void ExpectError(const StatusOr<KServeInferRequest>& result, StatusCode code, std::string_view needle) {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(result.status().code(), code) << result.status().message();
  EXPECT_NE(result.status().message().find(needle), std::string::npos) << result.status().message();
}

const ModelSignature kAdd = Signature({{"a", DataType::kFp32, {-1, 2}}, {"b", DataType::kInt32, {-1, 2}}},
                                      {{"sum", DataType::kFp32, {-1, 2}}, {"flag", DataType::kBool, {-1}}});

// --- JSON requests ----------------------------------------------------------------------------------------

TEST(KServeDecodeTest, JsonInputsNestedAndFlat) {
  StatusOr<KServeInferRequest> decoded = Decode(R"({"id":"req-7","inputs":[
      {"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,2],[3.5,-4]]},
      {"name":"b","shape":[2,2],"datatype":"INT32","data":[1,2,3,4]}],
      "outputs":[{"name":"sum"}]})",
                                                kAdd);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const InferenceRequest& request = decoded->request;
  EXPECT_EQ(request.id, "req-7");
  ASSERT_EQ(request.inputs.size(), 2u);
  EXPECT_EQ(request.inputs[0].name(), "a");
  EXPECT_EQ(request.inputs[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(request.inputs[0]), (std::vector<float>{1, 2, 3.5f, -4}));
  EXPECT_EQ(Values<int32_t>(request.inputs[1]), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(request.outputs, std::vector<std::string>{"sum"});
  EXPECT_FALSE(decoded->output_options.Binary("sum"));
}

TEST(KServeDecodeTest, DataBeforeDatatypeAndShape) {
  StatusOr<KServeInferRequest> decoded = Decode(R"({"inputs":[
      {"data":[1,2,3,4],"name":"a","datatype":"FP32","shape":[2,2]},
      {"data":[[1,2],[3,4]],"shape":[2,2],"name":"b","datatype":"INT32"}]})",
                                                kAdd);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(Values<float>(decoded->request.inputs[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(Values<int32_t>(decoded->request.inputs[1]), (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(KServeDecodeTest, EveryDatatypeFromJson) {
  struct Case {
    DataType type;
    const char* data;
    std::string bytes;
  };
  const Case cases[] = {
      {DataType::kBool, "[true,false]", std::string("\x01\x00", 2)},
      {DataType::kUint8, "[0,255]", Bytes(std::vector<uint8_t>{0, 255})},
      {DataType::kUint16, "[0,65535]", Bytes(std::vector<uint16_t>{0, 65535})},
      {DataType::kUint32, "[0,4294967295]", Bytes(std::vector<uint32_t>{0, 4294967295u})},
      {DataType::kUint64, "[0,18446744073709551615]", Bytes(std::vector<uint64_t>{0, UINT64_MAX})},
      {DataType::kInt8, "[-128,127]", Bytes(std::vector<int8_t>{-128, 127})},
      {DataType::kInt16, "[-32768,32767]", Bytes(std::vector<int16_t>{-32768, 32767})},
      {DataType::kInt32, "[-2147483648,7]", Bytes(std::vector<int32_t>{INT32_MIN, 7})},
      {DataType::kInt64, "[-9223372036854775808,9223372036854775807]",
       Bytes(std::vector<int64_t>{INT64_MIN, INT64_MAX})},
      {DataType::kFp16, "[1,0.1]", Bytes(std::vector<uint16_t>{0x3c00, DoubleToHalfBits(0.1)})},
      {DataType::kBf16, "[1,-2.5]", Bytes(std::vector<uint16_t>{0x3f80, DoubleToBfloat16Bits(-2.5)})},
      {DataType::kFp32, "[0.1,NaN]", Bytes(std::vector<float>{0.1f, std::numeric_limits<float>::quiet_NaN()})},
      {DataType::kFp64, "[0.1,-Infinity]", Bytes(std::vector<double>{0.1, -std::numeric_limits<double>::infinity()})},
  };
  for (const Case& c : cases) {
    ModelSignature signature = Signature({{"v", c.type, {2}}});
    std::string body = std::string(R"({"inputs":[{"name":"v","shape":[2],"datatype":")") +
                       std::string(KServeName(c.type)) + R"(","data":)" + c.data + "}]}";
    StatusOr<KServeInferRequest> decoded = Decode(body, signature);
    ASSERT_TRUE(decoded.ok()) << KServeName(c.type) << ": " << decoded.status().ToString();
    const Tensor& tensor = decoded->request.inputs[0];
    EXPECT_EQ(tensor.dtype(), c.type);
    ASSERT_EQ(tensor.bytes().size(), c.bytes.size());
    if (c.type == DataType::kFp32) {
      EXPECT_EQ(Values<float>(tensor)[0], 0.1f);
      EXPECT_TRUE(std::isnan(Values<float>(tensor)[1]));
    } else {
      EXPECT_EQ(std::memcmp(tensor.bytes().data(), c.bytes.data(), c.bytes.size()), 0) << KServeName(c.type);
    }
  }
  ModelSignature bytes = Signature({{"text", DataType::kString, {-1}}});
  StatusOr<KServeInferRequest> decoded =
      Decode(R"({"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["hello","w\u00f6rld"]}]})", bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->request.inputs[0].strings(), (std::vector<std::string>{"hello", "w\xc3\xb6rld"}));
}

TEST(KServeDecodeTest, ShapeAndCountErrors) {
  const ModelSignature sig = Signature({{"a", DataType::kFp32, {-1}}});
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1,2]}]})", sig),
              StatusCode::kInvalidArgument, "input 'a': the data has 2 elements but shape [3] needs 3");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1,2]}]})", sig),
              StatusCode::kInvalidArgument, "input 'a'");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[-2],"datatype":"FP32","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "negative dimension");
  ExpectError(
      Decode(R"({"inputs":[{"name":"a","datatype":"FP32","shape":[4294967296,4294967296,2],"data":[1]}]})", sig),
      StatusCode::kInvalidArgument, "overflows");
  ExpectError(
      Decode(R"({"inputs":[{"name":"a","data":[1],"datatype":"FP32","shape":[4294967296,4294967296,2]}]})", sig),
      StatusCode::kInvalidArgument, "overflows");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1000000000],"datatype":"FP32","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "can hold at most");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1.5],"datatype":"FP32","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "not an int64");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":"3","datatype":"FP32","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "'shape' must be a list");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[[1]],"datatype":"FP32","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "'shape'");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FLOAT","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "unknown datatype 'FLOAT'");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"data":[1]}]})", sig), StatusCode::kInvalidArgument,
              "has no 'datatype'");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32"}]})", sig), StatusCode::kInvalidArgument,
              "neither 'data'");
  ExpectError(Decode(R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})", sig), StatusCode::kInvalidArgument,
              "inputs[0] has no 'name'");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1],"data":[2]}]})", sig),
              StatusCode::kInvalidArgument, "more than once");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1]}]})", sig),
              StatusCode::kInvalidArgument, "inference input 'a' data-type is 'FP64', but model '' expects 'FP32'");
  ExpectError(Decode(R"({"inputs":{"name":"a"}})", sig), StatusCode::kInvalidArgument, "'inputs' must be a list");
  ExpectError(Decode(R"({"inputs":[{"name":"b","shape":[1],"datatype":"FP32","data":[1]}]})", sig),
              StatusCode::kInvalidArgument,
              "expected 1 inputs but got 1 inputs for model ''. Got input(s) ['b'], but missing required input(s) "
              "['a']. Please provide all required input(s).");
  ExpectError(Decode(R"({"inputs":[]})", sig), StatusCode::kInvalidArgument, "missing required input(s) ['a']");
  ExpectError(Decode(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},)"
                     R"({"name":"a","shape":[1],"datatype":"FP32","data":[1]}]})",
                     sig),
              StatusCode::kInvalidArgument, "input 'a' already exists in request");
  ExpectError(Decode(R"({"id":"r7","inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}],)"
                     R"("outputs":[{"name":"nope"}]})",
                     sig),
              StatusCode::kInvalidArgument, "[request id: r7] unexpected inference output 'nope' for model ''");
  ExpectError(Decode(R"({"inputs":[})", sig), StatusCode::kInvalidArgument,
              "failed to parse the request JSON buffer: Invalid value. at 11");
  ExpectError(Decode("[]", sig), StatusCode::kInvalidArgument, "JSON object");
}

TEST(KServeDecodeTest, HostileValuesNameTheInput) {
  ExpectError(Decode(R"({"inputs":[{"name":"p","shape":[2],"datatype":"UINT8","data":[1,300]}]})",
                     Signature({{"p", DataType::kUint8, {2}}})),
              StatusCode::kInvalidArgument, "input 'p': 300 is out of range for UINT8");
  ExpectError(Decode(R"({"inputs":[{"name":"i","shape":[1],"datatype":"INT32","data":[1.5]}]})",
                     Signature({{"i", DataType::kInt32, {1}}})),
              StatusCode::kInvalidArgument, "input 'i': 1.5 is not an integer");
  ExpectError(Decode(R"({"inputs":[{"name":"f","shape":[1],"datatype":"FP32","data":["1"]}]})",
                     Signature({{"f", DataType::kFp32, {1}}})),
              StatusCode::kInvalidArgument, "input 'f'");
  ExpectError(Decode(R"({"inputs":[{"name":"l","shape":[1],"datatype":"INT64","data":[9007199254740993.0]}]})",
                     Signature({{"l", DataType::kInt64, {1}}})),
              StatusCode::kInvalidArgument, "input 'l'");
  // The same when the data comes before the datatype (the deferred path).
  ExpectError(Decode(R"({"inputs":[{"name":"p","shape":[2],"data":[1,300],"datatype":"UINT8"}]})",
                     Signature({{"p", DataType::kUint8, {2}}})),
              StatusCode::kInvalidArgument, "input 'p': 300 is out of range for UINT8");
}

TEST(KServeDecodeTest, DeepNestingIsRejectedQuickly) {
  const std::string hostile(100000, '[');
  const ModelSignature sig = Signature({{"a", DataType::kFp32, {-1}}});
  for (const std::string& body :
       {R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":)" + hostile,
        R"({"inputs":[{"name":"a","shape":[1],"data":)" + hostile, R"({"parameters":{"x":)" + hostile,
        R"({"outputs":[{"name":"a","parameters":{"x":)" + hostile, R"({"other":)" + hostile}) {
    auto start = std::chrono::steady_clock::now();
    StatusOr<KServeInferRequest> result = Decode(body, sig);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    ExpectError(result, StatusCode::kInvalidArgument, "nested deeper than 100");
  }
  // Lists where the protocol wants objects are refused at the first bracket.
  ExpectError(Decode(R"({"inputs":)" + hostile, sig), StatusCode::kInvalidArgument,
              "'inputs' must be a list of objects");
}

TEST(KServeDecodeTest, OutputsAndBinaryFlags) {
  StatusOr<KServeInferRequest> decoded = Decode(R"({"parameters":{"binary_data_output":true,"priority":1},
      "inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]},
                {"name":"b","shape":[1,2],"datatype":"INT32","data":[1,2]}],
      "outputs":[{"name":"sum","parameters":{"binary_data":false}},{"name":"flag"}]})",
                                                kAdd);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->request.outputs, (std::vector<std::string>{"sum", "flag"}));
  EXPECT_FALSE(decoded->output_options.Binary("sum"));
  // Triton's rule: an output the request lists is JSON unless it says binary_data itself; binary_data_output
  // covers only the outputs it does not list.
  EXPECT_FALSE(decoded->output_options.Binary("flag"));
  EXPECT_TRUE(decoded->output_options.Binary("unlisted"));
  std::string many = R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]},)"
                     R"({"name":"b","shape":[1,2],"datatype":"INT32","data":[1,2]}],"outputs":[)";
  for (int i = 0; i < 10000; ++i) many += std::string(i ? "," : "") + R"({"name":"sum"})";
  many += "]}";
  ExpectError(Decode(many, kAdd), StatusCode::kInvalidArgument, "more than 1024 outputs");
  std::string dup =
      R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]},)"
      R"({"name":"b","shape":[1,2],"datatype":"INT32","data":[1,2]}],"outputs":[{"name":"sum"},{"name":"sum"}]})";
  ExpectError(Decode(dup, kAdd), StatusCode::kInvalidArgument, "output 'sum' already exists in request");
  ExpectError(Decode(R"({"outputs":[{"parameters":{}}]})", kAdd), StatusCode::kInvalidArgument, "has no 'name'");
  StatusOr<KServeInferRequest> classified =
      Decode(R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]},)"
             R"({"name":"b","shape":[1,2],"datatype":"INT32","data":[1,2]}],)"
             R"("outputs":[{"name":"sum","parameters":{"classification":3,"binary_data":true}},{"name":"flag",)"
             R"("parameters":{"classification":0}}]})",
             kAdd);
  ASSERT_TRUE(classified.ok()) << classified.status().ToString();
  EXPECT_EQ(classified->classification, (std::vector<KServeClassification>{{"sum", 3}}));  // 0 = none, as Triton
  EXPECT_TRUE(classified->output_options.Binary("sum"));
  ExpectError(Decode(R"({"outputs":[{"name":"sum","parameters":{"classification":-1}}]})", kAdd),
              StatusCode::kInvalidArgument, "'classification' must be a non-negative integer");
  ExpectError(
      Decode(R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"shared_memory_region":"r"}}]})",
             kAdd),
      StatusCode::kUnimplemented, "shared-memory");
  ExpectError(Decode(R"({"parameters":{"binary_data_output":1}})", kAdd), StatusCode::kInvalidArgument,
              "'binary_data_output' must be a boolean");
  ExpectError(Decode(R"({"id":5})", kAdd), StatusCode::kInvalidArgument, "'id' must be a string");
}

// --- Binary requests --------------------------------------------------------------------------------------

TEST(KServeDecodeTest, BinaryInputsAreBorrowedFromTheBody) {
  std::string json = R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},)"
                     R"({"name":"b","shape":[1,2],"datatype":"INT32","data":[5,6]}]})";
  auto body = std::make_shared<const std::string>(json + Bytes(std::vector<float>{1.5f, -2}));
  StatusOr<KServeInferRequest> decoded = DecodeKServeInferRequest(body, json.size(), kAdd);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const Tensor& a = decoded->request.inputs[0];
  EXPECT_EQ(Values<float>(a), (std::vector<float>{1.5f, -2}));
  // Zero copy: the tensor's bytes are the body's bytes.
  EXPECT_EQ(reinterpret_cast<const char*>(a.bytes().data()), body->data() + json.size());
  EXPECT_TRUE(Tensor(a).mutable_bytes().empty());
  std::weak_ptr<const std::string> watch = body;
  body.reset();
  EXPECT_FALSE(watch.expired());  // the tensor keeps the body alive
  decoded = Status(StatusCode::kCancelled, "drop");
  EXPECT_TRUE(watch.expired());
}

TEST(KServeDecodeTest, BinaryEveryTypeAndBytes) {
  ModelSignature sig =
      Signature({{"h", DataType::kFp16, {2}}, {"s", DataType::kString, {2}}, {"q", DataType::kBool, {3}}});
  std::string json = R"({"inputs":[{"name":"h","shape":[2],"datatype":"FP16","parameters":{"binary_data_size":4}},)"
                     R"({"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":14}},)"
                     R"({"name":"q","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}}]})";
  std::string binary =
      Bytes(std::vector<uint16_t>{0x3c00, 0xc000}) + LengthPrefixed({"hello", "x"}) + std::string("\x01\x00\x01", 3);
  StatusOr<KServeInferRequest> decoded = Decode(json + binary, sig, json.size());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(Values<uint16_t>(decoded->request.inputs[0]), (std::vector<uint16_t>{0x3c00, 0xc000}));
  EXPECT_EQ(decoded->request.inputs[1].strings(), (std::vector<std::string>{"hello", "x"}));
  EXPECT_EQ(Values<uint8_t>(decoded->request.inputs[2]), (std::vector<uint8_t>{1, 0, 1}));
}

TEST(KServeDecodeTest, BinaryErrors) {
  const ModelSignature sig = Signature({{"a", DataType::kFp32, {-1}}});
  const std::string json =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  const std::string eight(8, '\0');
  ExpectError(Decode(json + eight, sig, json.size() + 100), StatusCode::kInvalidArgument,
              "Inference-Header-Content-Length is");
  ExpectError(Decode(json + eight, sig, 99999999999), StatusCode::kInvalidArgument, "body has only");
  ExpectError(Decode(json + eight + "xx", sig, json.size()), StatusCode::kInvalidArgument, "add up to 8 bytes but 10");
  ExpectError(Decode(json + "xxxx", sig, json.size()), StatusCode::kInvalidArgument, "exceeds the 4 bytes left");
  // Without the header the binary bytes are data after the JSON document: refused as such.
  ExpectError(Decode(json + eight, sig), StatusCode::kInvalidArgument, "after the document");
  std::string wrong_size =
      R"({"inputs":[{"name":"a","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  ExpectError(Decode(wrong_size + eight, sig, wrong_size.size()), StatusCode::kInvalidArgument,
              "input byte size mismatch for input 'a' for model ''. Expected 12, got 8");
  std::string negative =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":-8}}]})";
  ExpectError(Decode(negative + eight, sig, negative.size()), StatusCode::kInvalidArgument, "non-negative");
  std::string both =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2],"parameters":{"binary_data_size":8}}]})";
  ExpectError(Decode(both + eight, sig, both.size()), StatusCode::kInvalidArgument, "both");
  std::string overflow =
      R"({"inputs":[{"name":"a","shape":[4294967296,4294967296,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  ExpectError(Decode(overflow + eight, sig, overflow.size()), StatusCode::kInvalidArgument, "overflows");
  // BYTES: lengths must stay inside the input's bytes, and fill them exactly.
  const ModelSignature text = Signature({{"s", DataType::kString, {-1}}});
  auto bytes_json = [](size_t size) {
    return R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":)" +
           std::to_string(size) + "}}]}";
  };
  std::string good = LengthPrefixed({"ab", "c"});
  std::string truncated = good.substr(0, good.size() - 1);
  ExpectError(Decode(bytes_json(truncated.size()) + truncated, text, bytes_json(truncated.size()).size()),
              StatusCode::kInvalidArgument, "claims 1 bytes");
  std::string huge_length = std::string("\xff\xff\xff\x7f", 4) + "abc";
  ExpectError(Decode(bytes_json(huge_length.size()) + huge_length, text, bytes_json(huge_length.size()).size()),
              StatusCode::kInvalidArgument, "claims");
  std::string extra = good + "zz";
  ExpectError(Decode(bytes_json(extra.size()) + extra, text, bytes_json(extra.size()).size()),
              StatusCode::kInvalidArgument, "left over");
  std::string one = LengthPrefixed({"ab"});
  ExpectError(Decode(bytes_json(one.size()) + one, text, bytes_json(one.size()).size()), StatusCode::kInvalidArgument,
              "ends after 1 of 2");
}

TEST(KServeDecodeTest, HeaderLengthParsing) {
  EXPECT_EQ(*ParseInferenceHeaderContentLength("0"), 0u);
  EXPECT_EQ(*ParseInferenceHeaderContentLength("1234"), 1234u);
  EXPECT_EQ(*ParseInferenceHeaderContentLength("99999999999"), 99999999999u);
  for (const char* bad : {"", "-1", "+1", "12 ", " 12", "1e3", "abc", "0x10", "99999999999999999999999"}) {
    EXPECT_EQ(ParseInferenceHeaderContentLength(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(KServeDecodeTest, RawBinaryRequest) {
  const ModelSignature image = Signature({{"x", DataType::kFp32, {-1, 4}}});
  auto body = std::make_shared<const std::string>(Bytes(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  StatusOr<KServeInferRequest> decoded = DecodeKServeInferRequest(body, 0, image);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->request.inputs[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(reinterpret_cast<const char*>(decoded->request.inputs[0].bytes().data()), body->data());
  EXPECT_TRUE(decoded->output_options.binary_data_output);
  EXPECT_TRUE(decoded->output_options.Binary("anything"));
  // Two variable dims: the batch becomes 1 and the other is inferred.
  StatusOr<KServeInferRequest> batch =
      Decode(Bytes(std::vector<float>(6, 0.5f)), Signature({{"x", DataType::kFp32, {-1, -1, 3}}}), 0);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->request.inputs[0].shape(), (Shape{1, 2, 3}));
  ExpectError(Decode(Bytes(std::vector<float>(7, 0)), image, 0), StatusCode::kInvalidArgument, "does not fit");
  ExpectError(Decode("abcd", kAdd, 0), StatusCode::kInvalidArgument, "exactly one input");
  ExpectError(Decode("abcd", Signature({{"x", DataType::kFp32, {2, -1, -1}}}), 0), StatusCode::kInvalidArgument,
              "more than one variable dimension");
  ExpectError(Decode("abcd", Signature({{"x", DataType::kFp32, {2}}}), 0), StatusCode::kInvalidArgument,
              "Expected 8, got 4");
  const ModelSignature text = Signature({{"s", DataType::kString, {-1}}});
  StatusOr<KServeInferRequest> plain = Decode("raw bytes", text, 0);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->request.inputs[0].strings(), std::vector<std::string>{"raw bytes"});
  EXPECT_EQ(plain->request.inputs[0].shape(), Shape{1});
  StatusOr<KServeInferRequest> prefixed = Decode(LengthPrefixed({"abc"}), text, 0);
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->request.inputs[0].strings(), std::vector<std::string>{"abc"});
  ExpectError(Decode("x", Signature({{"s", DataType::kString, {2}}}), 0), StatusCode::kInvalidArgument, "shape [1]");
}

TEST(KServeDecodeTest, MeasureNsPerFloat) {
  ModelSignature resnet = Signature({{"images", DataType::kFp32, {-1, 224, 224, 3}}});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-2.5f, 2.5f);
  std::string body = R"({"inputs":[{"name":"images","shape":[1,224,224,3],"datatype":"FP32","data":[)";
  for (int i = 0; i < 150528; ++i) {
    char buffer[32];
    auto end = std::to_chars(buffer, buffer + sizeof buffer, dist(rng)).ptr;
    if (i) body += ',';
    body.append(buffer, end);
  }
  body += "]}]}";
  auto shared = std::make_shared<const std::string>(body);
  constexpr int kRuns = 20;
  double best = 1e30;
  for (int run = 0; run < kRuns; ++run) {
    auto start = std::chrono::steady_clock::now();
    StatusOr<KServeInferRequest> decoded = DecodeKServeInferRequest(shared, std::nullopt, resnet);
    auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    best = std::min(best, elapsed);
  }
  std::cout << "[ measure ] KServe JSON decode, 150528 floats (" << body.size() << " bytes): " << best / 150528
            << " ns/float (best of " << kRuns << ")\n";
}

// --- Responses --------------------------------------------------------------------------------------------

TEST(KServeEncodeTest, JsonResponseIsExact) {
  InferenceResponse response;
  response.model_name = "add";
  response.model_version = 3;
  response.id = "req-1";
  response.outputs.push_back(MakeTensor<float>("sum", DataType::kFp32, {1, 2}, {1, 2.5f}));
  response.outputs.push_back(MakeTensor<uint8_t>("flag", DataType::kBool, {2}, {1, 0}));
  response.outputs.push_back(Tensor::FromStrings("text", {1}, {"h\"i"}));
  response.outputs.push_back(MakeTensor<uint16_t>("half", DataType::kFp16, {2}, {0x3c00, 0x7c00}));
  std::string out;
  size_t header = 99;
  ASSERT_TRUE(EncodeKServeInferResponse(response, {}, &out, &header).ok());
  EXPECT_EQ(header, 0u);
  EXPECT_EQ(out, R"({"model_name":"add","model_version":"3","id":"req-1","outputs":[)"
                 R"({"name":"sum","datatype":"FP32","shape":[1,2],"data":[1.0,2.5]},)"
                 R"({"name":"flag","datatype":"BOOL","shape":[2],"data":[true,false]},)"
                 R"({"name":"text","datatype":"BYTES","shape":[1],"data":["h\"i"]},)"
                 R"({"name":"half","datatype":"FP16","shape":[2],"data":[1.0,Infinity]}]})");
  response.id.clear();
  out.clear();
  ASSERT_TRUE(EncodeKServeInferResponse(response, {}, &out, &header).ok());
  EXPECT_EQ(out.find("\"id\""), std::string::npos);
}

TEST(KServeEncodeTest, BinaryOutputsFollowTheJson) {
  InferenceResponse response;
  response.model_name = "m";
  response.model_version = 1;
  response.outputs.push_back(MakeTensor<float>("a", DataType::kFp32, {2}, {1, 2}));
  response.outputs.push_back(MakeTensor<int64_t>("b", DataType::kInt64, {1}, {7}));
  response.outputs.push_back(Tensor::FromStrings("c", {2}, {"xy", ""}));
  KServeOutputOptions options;
  options.binary_data_output = true;
  options.binary_data = {{"b", false}};
  std::string out;
  size_t header = 0;
  ASSERT_TRUE(EncodeKServeInferResponse(response, options, &out, &header).ok());
  std::string json = out.substr(0, header);
  EXPECT_EQ(json, R"({"model_name":"m","model_version":"1","outputs":[)"
                  R"({"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
                  R"({"name":"b","datatype":"INT64","shape":[1],"data":[7]},)"
                  R"({"name":"c","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":10}}]})");
  EXPECT_EQ(out.substr(header), Bytes(std::vector<float>{1, 2}) + LengthPrefixed({"xy", ""}));
}

TEST(KServeEncodeTest, OutputsRoundTripThroughAJsonParser) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> dist(-1e9, 1e9);
  std::vector<double> doubles(100);
  std::vector<float> floats(100);
  for (size_t i = 0; i < 100; ++i) {
    doubles[i] = dist(rng);
    floats[i] = static_cast<float>(dist(rng));
  }
  InferenceResponse response;
  response.outputs.push_back(MakeTensor<double>("d", DataType::kFp64, {10, 10}, doubles));
  response.outputs.push_back(MakeTensor<float>("f", DataType::kFp32, {100}, floats));
  response.outputs.push_back(MakeTensor<uint64_t>("u", DataType::kUint64, {1}, {UINT64_MAX}));
  std::string out;
  size_t header = 0;
  ASSERT_TRUE(EncodeKServeInferResponse(response, {}, &out, &header).ok());
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(out.c_str());
  ASSERT_FALSE(doc.HasParseError());
  const rapidjson::Value& outputs = doc["outputs"];
  EXPECT_EQ(outputs[0]["shape"][0].GetInt(), 10);
  for (rapidjson::SizeType i = 0; i < 100; ++i) {
    EXPECT_EQ(outputs[0]["data"][i].GetDouble(), doubles[i]);
    EXPECT_EQ(static_cast<float>(outputs[1]["data"][i].GetDouble()), floats[i]);
  }
  EXPECT_EQ(outputs[2]["data"][0].GetUint64(), UINT64_MAX);
  // And the decoder reads the encoder's output back to the same bits.
  std::string request = R"({"inputs":[{"name":"f","shape":[100],"datatype":"FP32","data":)";
  const rapidjson::Value& data = outputs[1]["data"];
  size_t begin = out.find("\"data\":", out.find("\"name\":\"f\"")) + 7;
  size_t end = out.find(']', begin) + 1;
  request += out.substr(begin, end - begin) + "}]}";
  StatusOr<KServeInferRequest> decoded = Decode(request, Signature({{"f", DataType::kFp32, {100}}}));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(Values<float>(decoded->request.inputs[0]), floats);
  EXPECT_EQ(data.Size(), 100u);
}

// Every datatype, both directions: encode a response, feed its JSON data (and its binary data) back in as a
// request, and get the same bytes.
TEST(KServeEncodeTest, EveryDatatypeRoundTrips) {
  for (int i = 1; i <= static_cast<int>(DataType::kString); ++i) {
    const auto type = static_cast<DataType>(i);
    Tensor tensor;
    if (type == DataType::kString) {
      tensor = Tensor::FromStrings("v", {2, 2}, {"a", "", "caf\xc3\xa9", "\"q\""});
    } else {
      tensor = *Tensor::Allocate("v", type, {2, 2});
      std::vector<uint8_t> pattern(tensor.bytes().size());
      for (size_t b = 0; b < pattern.size(); ++b) pattern[b] = static_cast<uint8_t>(b * 37 + 11);
      if (type == DataType::kBool) {
        for (size_t b = 0; b < pattern.size(); ++b) pattern[b] = b % 3 == 0;
      }
      if (type == DataType::kFp16 || type == DataType::kBf16 || type == DataType::kFp32 || type == DataType::kFp64) {
        // Finite, non-NaN patterns: keep the exponent field clear of all-ones.
        for (size_t b = ElementSize(type) - 1; b < pattern.size(); b += ElementSize(type)) pattern[b] = 0x3c;
      }
      std::memcpy(tensor.mutable_bytes().data(), pattern.data(), pattern.size());
    }
    InferenceResponse response;
    response.outputs.push_back(tensor);
    ModelSignature signature = Signature({{"v", type, {2, 2}}});
    for (bool binary : {false, true}) {
      KServeOutputOptions options;
      options.binary_data_output = binary;
      std::string out;
      size_t header = 0;
      ASSERT_TRUE(EncodeKServeInferResponse(response, options, &out, &header).ok());
      std::string request;
      std::optional<size_t> request_header;
      std::string type_name(KServeName(type));
      if (binary) {
        request = R"({"inputs":[{"name":"v","shape":[2,2],"datatype":")" + type_name +
                  R"(","parameters":{"binary_data_size":)" + std::to_string(out.size() - header) + "}}]}";
        request_header = request.size();
        request += out.substr(header);
      } else {
        size_t begin = out.find("\"data\":") + 7;
        size_t end = out.rfind("}]}");
        request = R"({"inputs":[{"name":"v","shape":[2,2],"datatype":")" + type_name + R"(","data":)" +
                  out.substr(begin, end - begin) + "}]}";
      }
      StatusOr<KServeInferRequest> decoded = Decode(request, signature, request_header);
      ASSERT_TRUE(decoded.ok()) << type_name << (binary ? " binary: " : " json: ") << decoded.status().ToString()
                                << "\n"
                                << out;
      const Tensor& back = decoded->request.inputs[0];
      EXPECT_EQ(back.shape(), (Shape{2, 2}));
      if (type == DataType::kString) {
        EXPECT_EQ(back.strings(), tensor.strings()) << type_name;
      } else {
        ASSERT_EQ(back.bytes().size(), tensor.bytes().size());
        EXPECT_EQ(std::memcmp(back.bytes().data(), tensor.bytes().data(), tensor.bytes().size()), 0)
            << type_name << (binary ? " binary" : " json") << "\n"
            << out;
      }
    }
  }
}

TEST(KServeEncodeTest, ErrorAndMetadata) {
  EXPECT_EQ(EncodeKServeError(NotFound("model 'x' not \"found\"")), R"({"error":"model 'x' not \"found\""})");
  ModelSignature signature = Signature({{"a", DataType::kFp32, {-1, 16}}}, {{"b", DataType::kBf16, {-1}}});
  EXPECT_EQ(EncodeKServeModelMetadata("m", {"1", "2"}, kKServeOnnxPlatform, signature),
            R"({"name":"m","versions":["1","2"],"platform":"onnxruntime_onnx",)"
            R"("inputs":[{"name":"a","datatype":"FP32","shape":[-1,16]}],)"
            R"("outputs":[{"name":"b","datatype":"BF16","shape":[-1]}]})");
  EXPECT_EQ(EncodeKServeModelMetadata("m", {}, kKServeOnnxPlatform, ModelSignature{}),
            R"({"name":"m","platform":"onnxruntime_onnx","inputs":[],"outputs":[]})");
  EXPECT_EQ(EncodeKServeServerMetadata("serval", "0.1.0", {"binary_tensor_data"}),
            R"({"name":"serval","version":"0.1.0","extensions":["binary_tensor_data"]})");
}

}  // namespace
}  // namespace serval

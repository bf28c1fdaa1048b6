#include "api/tfs/tfs_rest_codec.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "api/json/float16.h"
#include "api/tfs/tf_dtype.h"

#include "core/tensor_test_util.h"

namespace serval {
namespace {

Status DecodeError(std::string_view body, const ModelSignature& signature) {
  StatusOr<TfsPredictRequest> decoded = DecodeTfsPredictRequest(body, signature);
  EXPECT_FALSE(decoded.ok()) << body;
  return decoded.ok() ? Status::Ok() : decoded.status();
}

void ExpectInvalid(std::string_view body, const ModelSignature& signature, std::string_view needle) {
  Status status = DecodeError(body, signature);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << body;
  EXPECT_NE(status.message().find(needle), std::string::npos) << body << " -> " << status.message();
}

const ModelSignature kOneInput = Signature({{"x", DataType::kFp32, {-1, 2}}}, {{"y", DataType::kFp32, {-1, 2}}});
const ModelSignature kTwoInputs = Signature({{"a", DataType::kFp32, {-1, 2}}, {"b", DataType::kInt64, {-1}}});

// --- Requests ---------------------------------------------------------------------------------------------

TEST(TfsDecodeTest, RowFormatOneInput) {
  StatusOr<TfsPredictRequest> decoded = DecodeTfsPredictRequest(R"({"instances": [[1, 2], [3.5, -4]]})", kOneInput);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->format, TfsFormat::kRow);
  EXPECT_EQ(decoded->signature_name, "serving_default");
  ASSERT_EQ(decoded->request.inputs.size(), 1u);
  const Tensor& x = decoded->request.inputs[0];
  EXPECT_EQ(x.name(), "x");
  EXPECT_EQ(x.dtype(), DataType::kFp32);
  EXPECT_EQ(x.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(x), (std::vector<float>{1, 2, 3.5f, -4}));
}

TEST(TfsDecodeTest, RowFormatSeveralInputs) {
  StatusOr<TfsPredictRequest> decoded = DecodeTfsPredictRequest(
      R"({"signature_name":"serving_default","instances":[{"a":[1,2],"b":10},{"b":20,"a":[3,4]}]})", kTwoInputs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->request.inputs.size(), 2u);
  EXPECT_EQ(decoded->request.inputs[0].name(), "a");
  EXPECT_EQ(decoded->request.inputs[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(decoded->request.inputs[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(decoded->request.inputs[1].name(), "b");
  EXPECT_EQ(decoded->request.inputs[1].shape(), (Shape{2}));
  EXPECT_EQ(Values<int64_t>(decoded->request.inputs[1]), (std::vector<int64_t>{10, 20}));
  // A single named input also works in the object form.
  StatusOr<TfsPredictRequest> named = DecodeTfsPredictRequest(R"({"instances":[{"x":[1,2]}]})", kOneInput);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->request.inputs[0].shape(), (Shape{1, 2}));
}

TEST(TfsDecodeTest, RowFormatErrors) {
  ExpectInvalid(R"({"instances":[{"a":[1,2],"b":1},{"a":[3,4]}]})", kTwoInputs, "same inputs");
  ExpectInvalid(R"({"instances":[{"a":[1,2],"b":1,"a":[1,2]}]})", kTwoInputs, "more than once");
  ExpectInvalid(R"({"instances":[{"a":[1,2],"c":1}]})", kTwoInputs, "'c'");
  ExpectInvalid(R"({"instances":[{"a":[1,2],"b":1},[1,2]]})", kTwoInputs, "must be an object");
  ExpectInvalid(R"({"instances":[[1,2]]})", kTwoInputs, "has 2 inputs");
  ExpectInvalid(R"({"instances":[{"a":[1,2],"b":1},{"a":[1,2,3],"b":2}]})", kTwoInputs, "ragged");
  ExpectInvalid(R"({"instances":[]})", kOneInput, "empty");
  ExpectInvalid(R"({"instances":{"x":[1,2]}})", kOneInput, "must be a list");
  ExpectInvalid(R"({"instances":[{}]})", kOneInput, "empty object");
  ExpectInvalid(R"({"instances":[[1,2],[3]]})", kOneInput, "ragged");
  ExpectInvalid(R"({"instances":[[1,2],[3,[4]]]})", kOneInput, "ragged");
  ExpectInvalid(R"({"instances":[{"a":[1,2]}]})", kTwoInputs, "missing input 'b'");
}

TEST(TfsDecodeTest, ColumnarFormat) {
  StatusOr<TfsPredictRequest> one = DecodeTfsPredictRequest(R"({"inputs": [[1, 2]]})", kOneInput);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->format, TfsFormat::kColumnar);
  EXPECT_EQ(one->request.inputs[0].shape(), (Shape{1, 2}));
  // Several inputs: dimension 0 may differ.
  StatusOr<TfsPredictRequest> two =
      DecodeTfsPredictRequest(R"({"inputs": {"b": [7, 8, 9], "a": [[1, 2]]}})", kTwoInputs);
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->request.inputs[0].name(), "a");
  EXPECT_EQ(two->request.inputs[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(two->request.inputs[1].shape(), (Shape{3}));
  EXPECT_EQ(Values<int64_t>(two->request.inputs[1]), (std::vector<int64_t>{7, 8, 9}));
  // Scalars.
  ModelSignature scalar = Signature({{"s", DataType::kInt32, {}}});
  StatusOr<TfsPredictRequest> s = DecodeTfsPredictRequest(R"({"inputs": 42})", scalar);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->request.inputs[0].shape(), Shape{});
  EXPECT_EQ(Values<int32_t>(s->request.inputs[0]), std::vector<int32_t>{42});
  ExpectInvalid(R"({"inputs": {"a": [[1, 2]]}})", kTwoInputs, "missing input 'b'");
  ExpectInvalid(R"({"inputs": {"a": [[1, 2]], "a": [[1, 2]]}})", kTwoInputs, "more than once");
  ExpectInvalid(R"({"inputs": [[1, 2]]})", kTwoInputs, "has 2 inputs");
}

TEST(TfsDecodeTest, InstancesOrInputsButNotBoth) {
  ExpectInvalid(R"({"instances": [[1,2]], "inputs": [[1,2]]})", kOneInput, "not both");
  ExpectInvalid(R"({"signature_name": "serving_default"})", kOneInput, "'instances'");
  ExpectInvalid(R"({"instances": [[1,2]], "instances": [[1,2]]})", kOneInput, "more than once");
  ExpectInvalid(R"([1,2])", kOneInput, "JSON object");
  ExpectInvalid(R"({"signature_name": 3, "instances": [[1,2]]})", kOneInput, "'signature_name' must be a string");
  // Unknown members are ignored.
  EXPECT_TRUE(DecodeTfsPredictRequest(R"({"extra": {"deep": [1, [2]]}, "instances": [[1,2]]})", kOneInput).ok());
}

TEST(TfsDecodeTest, EveryTypeFromJson) {
  struct Case {
    DataType type;
    const char* json;
    std::vector<uint8_t> bytes;
  };
  auto le = [](auto value) {
    std::vector<uint8_t> bytes(sizeof value);
    std::memcpy(bytes.data(), &value, sizeof value);
    return bytes;
  };
  auto cat = [](std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const Case cases[] = {
      {DataType::kBool, "[true, false]", {1, 0}},
      {DataType::kUint8, "[0, 255]", {0, 255}},
      {DataType::kInt8, "[-128, 127]", {0x80, 0x7f}},
      {DataType::kUint16, "[65535, 1]", cat(le(uint16_t{65535}), le(uint16_t{1}))},
      {DataType::kInt16, "[-32768, 2]", cat(le(int16_t{-32768}), le(int16_t{2}))},
      {DataType::kUint32, "[4294967295, 3]", cat(le(uint32_t{4294967295u}), le(uint32_t{3}))},
      {DataType::kInt32, "[-2147483648, 4]", cat(le(int32_t{INT32_MIN}), le(int32_t{4}))},
      {DataType::kUint64, "[18446744073709551615, 5]", cat(le(uint64_t{UINT64_MAX}), le(uint64_t{5}))},
      {DataType::kInt64, "[-9223372036854775808, 6]", cat(le(int64_t{INT64_MIN}), le(int64_t{6}))},
      {DataType::kFp16, "[1, -2.5]", cat(le(uint16_t{0x3c00}), le(DoubleToHalfBits(-2.5)))},
      {DataType::kBf16, "[1, 0.1]", cat(le(uint16_t{0x3f80}), le(DoubleToBfloat16Bits(0.1)))},
      {DataType::kFp32, "[0.1, -Infinity]", cat(le(0.1f), le(-INFINITY))},
      {DataType::kFp64, "[0.1, 1e300]", cat(le(0.1), le(1e300))},
  };
  for (const Case& c : cases) {
    ModelSignature signature = Signature({{"v", c.type, {-1}}});
    StatusOr<TfsPredictRequest> decoded =
        DecodeTfsPredictRequest(std::string(R"({"instances": )") + c.json + "}", signature);
    ASSERT_TRUE(decoded.ok()) << KServeName(c.type) << ": " << decoded.status().ToString();
    const Tensor& tensor = decoded->request.inputs[0];
    EXPECT_EQ(tensor.dtype(), c.type);
    EXPECT_EQ(tensor.shape(), Shape{2});
    ASSERT_EQ(tensor.bytes().size(), c.bytes.size()) << KServeName(c.type);
    EXPECT_EQ(std::memcmp(tensor.bytes().data(), c.bytes.data(), c.bytes.size()), 0) << KServeName(c.type);
  }
  ModelSignature strings = Signature({{"s", DataType::kString, {-1}}});
  StatusOr<TfsPredictRequest> decoded =
      DecodeTfsPredictRequest(R"({"instances": ["plain", {"b64": "AP8="}, "caf\u00e9"]})", strings);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->request.inputs[0].strings(),
            (std::vector<std::string>{"plain", std::string("\0\xff", 2), "caf\xc3\xa9"}));
}

TEST(TfsDecodeTest, NanAndInfinityTokens) {
  StatusOr<TfsPredictRequest> decoded =
      DecodeTfsPredictRequest(R"({"instances": [[NaN, Infinity], [-Infinity, 0]]})", kOneInput);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  std::vector<float> values = Values<float>(decoded->request.inputs[0]);
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_EQ(values[1], INFINITY);
  EXPECT_EQ(values[2], -INFINITY);
}

TEST(TfsDecodeTest, Base64Values) {
  ModelSignature one = Signature({{"image_bytes", DataType::kString, {-1}}});
  StatusOr<TfsPredictRequest> rows =
      DecodeTfsPredictRequest(R"({"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]})", one);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->request.inputs[0].strings(), (std::vector<std::string>{"hello", "world"}));
  StatusOr<TfsPredictRequest> named =
      DecodeTfsPredictRequest(R"({"instances": [{"image_bytes": {"b64": "aGVsbG8="}}]})", one);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->request.inputs[0].strings(), (std::vector<std::string>{"hello"}));
  StatusOr<TfsPredictRequest> columnar = DecodeTfsPredictRequest(R"({"inputs": {"b64": "aGVsbG8="}})",
                                                                 Signature({{"image_bytes", DataType::kString, {}}}));
  ASSERT_TRUE(columnar.ok()) << columnar.status().ToString();
  EXPECT_EQ(columnar->request.inputs[0].shape(), Shape{});
  ExpectInvalid(R"({"instances": [{"b64": "a"}]})", one, "invalid base64");
  ExpectInvalid(R"({"instances": [{"b64": "aGVs bG8="}]})", one, "input 'image_bytes'");
  ExpectInvalid(R"({"instances": [{"b64": "aGVsbG8="}]})", kOneInput, "input 'x'");
}

TEST(TfsDecodeTest, HostileNumbersNameTheInput) {
  ModelSignature u8 = Signature({{"pixels", DataType::kUint8, {-1}}});
  ExpectInvalid(R"({"instances": [1, 300]})", u8, "input 'pixels': 300 is out of range for UINT8");
  ModelSignature i32 = Signature({{"ids", DataType::kInt32, {-1}}});
  ExpectInvalid(R"({"instances": [1.5]})", i32, "input 'ids': 1.5 is not an integer");
  ExpectInvalid(R"({"instances": ["x"]})", kOneInput, "input 'x'");
  ModelSignature i64 = Signature({{"big", DataType::kInt64, {-1}}});
  ExpectInvalid(R"({"instances": [9007199254740993.0]})", i64, "input 'big'");
  ExpectInvalid(R"({"inputs": {"big": [1e300]}})", i64, "input 'big'");
}

TEST(TfsDecodeTest, DeepNestingIsRejectedQuickly) {
  const std::string hostile(100000, '[');
  for (const std::string& body : {R"({"instances":)" + hostile, R"({"inputs":)" + hostile, R"({"other":)" + hostile,
                                  R"({"instances":[{"x":)" + hostile}) {
    auto start = std::chrono::steady_clock::now();
    Status status = DecodeError(body, kOneInput);
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("nested deeper than 100"), std::string::npos) << status.message();
    EXPECT_LT(elapsed, std::chrono::seconds(1));
  }
  EXPECT_EQ(DecodeError(hostile, kOneInput).code(), StatusCode::kInvalidArgument);
  // Depth 101 inside tensor data (which the fast path reads itself).
  std::string deep = R"({"inputs":)" + std::string(100, '[') + "1" + std::string(100, ']') + "}";
  ExpectInvalid(deep, Signature({{"x", DataType::kFp32, {}}}), "nested deeper than 100");
}

TEST(TfsDecodeTest, SignatureLookup) {
  ModelSignature other = Signature({{"z", DataType::kInt32, {-1}}});
  int calls = 0;
  TfsSignatureLookup lookup = [&](std::string_view name) -> StatusOr<const ModelSignature*> {
    ++calls;
    if (name == "serving_default") return &kOneInput;
    if (name == "other") return &other;
    return FailedPrecondition("Serving signature name: \"" + std::string(name) + "\" not found");
  };
  StatusOr<TfsPredictRequest> first = DecodeTfsPredictRequest(R"({"signature_name":"other","inputs":[5]})", lookup);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->signature_name, "other");
  EXPECT_EQ(first->request.inputs[0].name(), "z");
  EXPECT_EQ(calls, 1);
  // signature_name after the data: decoded again with the right signature.
  calls = 0;
  StatusOr<TfsPredictRequest> late = DecodeTfsPredictRequest(R"({"inputs":[5],"signature_name":"other"})", lookup);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->request.inputs[0].name(), "z");
  EXPECT_EQ(Values<int32_t>(late->request.inputs[0]), std::vector<int32_t>{5});
  StatusOr<TfsPredictRequest> missing = DecodeTfsPredictRequest(R"({"signature_name":"nope","inputs":[5]})", lookup);
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  StatusOr<TfsPredictRequest> missing_late =
      DecodeTfsPredictRequest(R"({"inputs":[5],"signature_name":"nope"})", lookup);
  EXPECT_EQ(missing_late.status().code(), StatusCode::kFailedPrecondition);
  // The fixed-signature form decodes against it and reports the name for the caller to check.
  StatusOr<TfsPredictRequest> fixed =
      DecodeTfsPredictRequest(R"({"signature_name":"x","instances":[[1,2]]})", kOneInput);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->signature_name, "x");
}

TEST(TfsDecodeTest, MeasureNsPerFloat) {
  // ResNet-50: 1×224×224×3 floats, as a client would send them (row format, nested).
  ModelSignature resnet = Signature({{"images", DataType::kFp32, {-1, 224, 224, 3}}});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-2.5f, 2.5f);
  std::string body = R"({"instances": [[)";
  for (int y = 0; y < 224; ++y) {
    body += y ? ",[" : "[";
    for (int x = 0; x < 224; ++x) {
      body += x ? ",[" : "[";
      for (int c = 0; c < 3; ++c) {
        char buffer[32];
        auto end = std::to_chars(buffer, buffer + sizeof buffer, dist(rng)).ptr;
        if (c) body += ',';
        body.append(buffer, end);
      }
      body += ']';
    }
    body += ']';
  }
  body += "]]}";
  constexpr int kRuns = 20;
  double best = 1e30;
  for (int run = 0; run < kRuns; ++run) {
    auto start = std::chrono::steady_clock::now();
    StatusOr<TfsPredictRequest> decoded = DecodeTfsPredictRequest(body, resnet);
    auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ASSERT_EQ(decoded->request.inputs[0].shape(), (Shape{1, 224, 224, 3}));
    best = std::min(best, elapsed);
  }
  std::cout << "[ measure ] TFS JSON decode, 150528 floats (" << body.size() << " bytes): " << best / 150528
            << " ns/float (best of " << kRuns << ")\n";
}

// --- Responses --------------------------------------------------------------------------------------------

std::string Encode(const InferenceResponse& response, TfsFormat format) {
  std::string out;
  Status status = EncodeTfsPredictResponse(response, format, &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

TEST(TfsEncodeTest, RowAndColumnarOneOutput) {
  InferenceResponse response;
  response.outputs.push_back(MakeTensor<float>("y", DataType::kFp32, {2, 2}, {1, 2.5f, -3, 0.1f}));
  EXPECT_EQ(Encode(response, TfsFormat::kRow), R"({"predictions":[[1.0,2.5],[-3.0,0.1]]})");
  EXPECT_EQ(Encode(response, TfsFormat::kColumnar), R"({"outputs":[[1.0,2.5],[-3.0,0.1]]})");
  InferenceResponse scalar;
  scalar.outputs.push_back(MakeTensor<int32_t>("s", DataType::kInt32, {}, {7}));
  EXPECT_EQ(Encode(scalar, TfsFormat::kColumnar), R"({"outputs":7})");
  std::string out;
  EXPECT_EQ(EncodeTfsPredictResponse(scalar, TfsFormat::kRow, &out).code(), StatusCode::kInvalidArgument);
}

TEST(TfsEncodeTest, RowAndColumnarSeveralOutputs) {
  InferenceResponse response;
  response.outputs.push_back(MakeTensor<int64_t>("classes", DataType::kInt64, {2}, {3, 5}));
  response.outputs.push_back(MakeTensor<float>("scores", DataType::kFp32, {2, 2}, {0.5f, 0.25f, 1, 0}));
  EXPECT_EQ(Encode(response, TfsFormat::kRow),
            R"({"predictions":[{"classes":3,"scores":[0.5,0.25]},{"classes":5,"scores":[1.0,0.0]}]})");
  EXPECT_EQ(Encode(response, TfsFormat::kColumnar), R"({"outputs":{"classes":[3,5],"scores":[[0.5,0.25],[1.0,0.0]]}})");
  response.outputs.push_back(MakeTensor<float>("odd", DataType::kFp32, {3}, {1, 2, 3}));
  std::string out;
  Status status = EncodeTfsPredictResponse(response, TfsFormat::kRow, &out);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("output 'odd'"), std::string::npos);
  EXPECT_TRUE(EncodeTfsPredictResponse(response, TfsFormat::kColumnar, &out).ok());
}

TEST(TfsEncodeTest, TypesStringsAndSpecials) {
  InferenceResponse response;
  response.outputs.push_back(Tensor::FromStrings("raw_bytes", {2}, {"hi", std::string("\xff", 1)}));
  response.outputs.push_back(Tensor::FromStrings("label", {2}, {"caf\xc3\xa9", std::string("\xff", 1)}));
  response.outputs.push_back(MakeTensor<uint8_t>("flag", DataType::kBool, {2}, {1, 0}));
  response.outputs.push_back(MakeTensor<uint16_t>("half", DataType::kFp16, {2}, {0x3c00, 0x7e00}));
  response.outputs.push_back(MakeTensor<float>("f", DataType::kFp32, {2}, {INFINITY, -INFINITY}));
  EXPECT_EQ(Encode(response, TfsFormat::kColumnar),
            "{\"outputs\":{\"raw_bytes\":[{\"b64\":\"aGk=\"},{\"b64\":\"/w==\"}],"
            "\"label\":[\"caf\xc3\xa9\",{\"b64\":\"/w==\"}],\"flag\":[true,false],\"half\":[1.0,NaN],"
            "\"f\":[Infinity,-Infinity]}}");
}

TEST(TfsEncodeTest, OutputsRoundTripThroughAJsonParser) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1e6f, 1e6f);
  std::vector<float> scores(size_t{3} * 7);
  for (float& v : scores) v = dist(rng);
  std::vector<double> doubles = {0.1, -1e-300, 123456789.123456789};
  std::vector<int64_t> ids = {INT64_MIN, 0, INT64_MAX};
  InferenceResponse response;
  response.outputs.push_back(MakeTensor<float>("scores", DataType::kFp32, {3, 7}, scores));
  response.outputs.push_back(MakeTensor<double>("d", DataType::kFp64, {3}, doubles));
  response.outputs.push_back(MakeTensor<int64_t>("ids", DataType::kInt64, {3}, ids));
  std::string json = Encode(response, TfsFormat::kRow);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag>(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  const rapidjson::Value& rows = doc["predictions"];
  ASSERT_EQ(rows.Size(), 3u);
  for (rapidjson::SizeType r = 0; r < 3; ++r) {
    for (rapidjson::SizeType c = 0; c < 7; ++c) {
      EXPECT_EQ(static_cast<float>(rows[r]["scores"][c].GetDouble()), scores[r * 7 + c]);
    }
    EXPECT_EQ(rows[r]["d"].GetDouble(), doubles[r]);
    EXPECT_EQ(rows[r]["ids"].GetInt64(), ids[r]);
  }
}

// --- Errors, status, metadata -----------------------------------------------------------------------------

TEST(TfsEncodeTest, ErrorIsEscapedAndTruncated) {
  EXPECT_EQ(EncodeTfsError(NotFound("Servable not found for request: Latest(half)")),
            R"j({"error":"Servable not found for request: Latest(half)"})j");
  EXPECT_EQ(EncodeTfsError(InvalidArgument("bad \"x\"\n")), R"({"error":"bad \"x\"\n"})");
  // Words, so that ClientMessage's cut of long space-free tokens does not apply: this is the 256-byte cut.
  std::string words;
  while (words.size() < 300) words += "abcd ";
  EXPECT_EQ(EncodeTfsError(InvalidArgument(words)), "{\"error\":\"" + words.substr(0, 256) + "\"}");
  // A 2-byte character straddling byte 256 is dropped whole.
  std::string straddle = words.substr(0, 255) + "\xc3\xa9" + "tail";
  EXPECT_EQ(EncodeTfsError(InvalidArgument(straddle)), "{\"error\":\"" + words.substr(0, 255) + "\"}");
  std::string fits = words.substr(0, 254) + "\xc3\xa9" + "tail";
  EXPECT_EQ(EncodeTfsError(InvalidArgument(fits)), "{\"error\":\"" + words.substr(0, 254) + "\xc3\xa9\"}");
}

TEST(TfsEncodeTest, ModelStatusIsExact) {
  EXPECT_EQ(
      EncodeTfsModelStatus({{1, VersionState::kAvailable, Status::Ok()}}),
      R"({"model_version_status":[{"version":"1","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]})");
  EXPECT_EQ(
      EncodeTfsModelStatus({{123, VersionState::kAvailable, Status::Ok()},
                            {124, VersionState::kEnd, NotFound("file \"m.onnx\" missing")}}),
      R"({"model_version_status":[{"version":"123","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}},)"
      R"({"version":"124","state":"END","status":{"error_code":"NOT_FOUND","error_message":"file \"m.onnx\" missing"}}]})");
  EXPECT_EQ(EncodeTfsModelStatus({}), R"({"model_version_status":[]})");
}

TEST(TfsEncodeTest, ModelMetadataIsExact) {
  ModelSignature signature = Signature({{"a", DataType::kFp32, {-1, 16}}}, {{"b", DataType::kInt64, {-1}}});
  EXPECT_EQ(
      EncodeTfsModelMetadata("m", 1, signature),
      R"({"model_spec":{"name":"m","signature_name":"","version":"1"},"metadata":{"signature_def":{"signature_def":)"
      R"({"serving_default":{"inputs":{"a":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""},)"
      R"({"size":"16","name":""}],"unknown_rank":false},"name":"a"}},"outputs":{"b":{"dtype":"DT_INT64",)"
      R"("tensor_shape":{"dim":[{"size":"-1","name":""}],"unknown_rank":false},"name":"b"}},)"
      R"("method_name":"tensorflow/serving/predict"}}}}})");
  rapidjson::Document doc;
  std::string json = EncodeTfsModelMetadata(
      "m", 2, {{"serving_default", &signature}, {"classify", &signature, "tensorflow/serving/classify"}});
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["metadata"]["signature_def"]["signature_def"]["classify"]["method_name"].GetString(),
               "tensorflow/serving/classify");
}

TEST(TfDataTypeTest, NamesAndNumbers) {
  EXPECT_EQ(TfDataTypeName(DataType::kFp32), "DT_FLOAT");
  EXPECT_EQ(TfDataTypeName(DataType::kFp16), "DT_HALF");
  EXPECT_EQ(TfDataTypeName(DataType::kBf16), "DT_BFLOAT16");
  EXPECT_EQ(TfDataTypeName(DataType::kString), "DT_STRING");
  EXPECT_EQ(static_cast<int>(ToTfDataType(DataType::kFp32)), 1);
  EXPECT_EQ(static_cast<int>(ToTfDataType(DataType::kFp16)), 19);
  EXPECT_EQ(static_cast<int>(ToTfDataType(DataType::kBf16)), 14);
  EXPECT_EQ(static_cast<int>(ToTfDataType(DataType::kUint64)), 23);
  for (int i = 1; i <= static_cast<int>(DataType::kString); ++i) {
    auto type = static_cast<DataType>(i);
    EXPECT_EQ(FromTfDataType(static_cast<int>(ToTfDataType(type))), type);
  }
  EXPECT_EQ(FromTfDataType(8), DataType::kInvalid);    // COMPLEX64
  EXPECT_EQ(FromTfDataType(101), DataType::kInvalid);  // DT_FLOAT_REF
}

}  // namespace
}  // namespace serval

#include "api/kserve/kserve_grpc_codec.h"

#include <cstring>
#include <functional>
#include <limits>
#include <memory>

#include <gtest/gtest.h>

#include "api/kserve/kserve_wire.h"

#include "core/tensor_test_util.h"

namespace serval {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string Bytes(const std::vector<bool>& values) {
  std::string out;
  for (bool value : values) out.push_back(value ? 1 : 0);
  return out;
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

std::string TensorBytes(const Tensor& tensor) {
  return std::string(reinterpret_cast<const char*>(tensor.bytes().data()), tensor.bytes().size());
}

ModelInferRequest::InferInputTensor* AddInput(ModelInferRequest& request, const std::string& name,
                                              const std::string& datatype, const std::vector<int64_t>& shape) {
  ModelInferRequest::InferInputTensor* input = request.add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t dim : shape) input->add_shape(dim);
  return input;
}

StatusOr<InferenceRequest> Decode(const ModelInferRequest& request, const ModelSignature& signature,
                                  CodecLimits limits = {}) {
  return DecodeModelInferRequest(std::make_shared<const ModelInferRequest>(request), signature, limits);
}

void ExpectError(const StatusOr<InferenceRequest>& result, StatusCode code, std::string_view needle) {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(result.status().code(), code) << result.status().message();
  EXPECT_NE(result.status().message().find(needle), std::string::npos) << result.status().message();
}

// One case per datatype: the raw little-endian bytes of four values and, where a typed field exists, the
// same values in that field.
struct TypeCase {
  std::string name;
  DataType type;
  std::string raw;
  std::function<void(inference::InferTensorContents*)> fill;  // null: raw only (FP16, BF16)
};

std::vector<TypeCase> TypeCases() {
  std::vector<TypeCase> cases;
  cases.push_back({"BOOL", DataType::kBool, Bytes(std::vector<bool>{true, false, false, true}), [](auto* c) {
                     for (bool v : {true, false, false, true}) c->add_bool_contents(v);
                   }});
  cases.push_back({"UINT8", DataType::kUint8, Bytes(std::vector<uint8_t>{0, 1, 128, 255}), [](auto* c) {
                     for (uint32_t v : {0u, 1u, 128u, 255u}) c->add_uint_contents(v);
                   }});
  cases.push_back({"UINT16", DataType::kUint16, Bytes(std::vector<uint16_t>{0, 1, 32768, 65535}), [](auto* c) {
                     for (uint32_t v : {0u, 1u, 32768u, 65535u}) c->add_uint_contents(v);
                   }});
  cases.push_back({"UINT32", DataType::kUint32, Bytes(std::vector<uint32_t>{0, 1, 1u << 31, 0xFFFFFFFFu}), [](auto* c) {
                     for (uint32_t v : {0u, 1u, 1u << 31, 0xFFFFFFFFu}) c->add_uint_contents(v);
                   }});
  const uint64_t big = std::numeric_limits<uint64_t>::max();
  cases.push_back(
      {"UINT64", DataType::kUint64, Bytes(std::vector<uint64_t>{0, 1, (1ull << 53) + 1, big}), [big](auto* c) {
         for (uint64_t v : std::vector<uint64_t>{0, 1, (1ull << 53) + 1, big}) c->add_uint64_contents(v);
       }});
  cases.push_back({"INT8", DataType::kInt8, Bytes(std::vector<int8_t>{-128, -1, 0, 127}), [](auto* c) {
                     for (int v : {-128, -1, 0, 127}) c->add_int_contents(v);
                   }});
  cases.push_back({"INT16", DataType::kInt16, Bytes(std::vector<int16_t>{-32768, -1, 0, 32767}), [](auto* c) {
                     for (int v : {-32768, -1, 0, 32767}) c->add_int_contents(v);
                   }});
  const int32_t imin = std::numeric_limits<int32_t>::min(), imax = std::numeric_limits<int32_t>::max();
  cases.push_back({"INT32", DataType::kInt32, Bytes(std::vector<int32_t>{imin, -1, 0, imax}), [=](auto* c) {
                     for (int32_t v : {imin, -1, 0, imax}) c->add_int_contents(v);
                   }});
  const int64_t lmin = std::numeric_limits<int64_t>::min(), lmax = std::numeric_limits<int64_t>::max();
  cases.push_back(
      {"INT64", DataType::kInt64, Bytes(std::vector<int64_t>{lmin, -1, (1ll << 53) + 1, lmax}), [=](auto* c) {
         for (int64_t v : std::vector<int64_t>{lmin, -1, (1ll << 53) + 1, lmax}) c->add_int64_contents(v);
       }});
  cases.push_back({"FP16", DataType::kFp16, Bytes(std::vector<uint16_t>{0x3C00, 0x7C01, 0x8000, 0x0001}), nullptr});
  cases.push_back({"BF16", DataType::kBf16, Bytes(std::vector<uint16_t>{0x3F80, 0x7F81, 0x8000, 0x0001}), nullptr});
  const float fdenorm = std::numeric_limits<float>::denorm_min();
  cases.push_back({"FP32", DataType::kFp32, Bytes(std::vector<float>{1.5f, -0.0f, fdenorm, 3.4e38f}), [=](auto* c) {
                     for (float v : {1.5f, -0.0f, fdenorm, 3.4e38f}) c->add_fp32_contents(v);
                   }});
  const double ddenorm = std::numeric_limits<double>::denorm_min();
  cases.push_back({"FP64", DataType::kFp64, Bytes(std::vector<double>{0.1, -0.0, ddenorm, 1e308}), [=](auto* c) {
                     for (double v : {0.1, -0.0, ddenorm, 1e308}) c->add_fp64_contents(v);
                   }});
  return cases;
}

const std::vector<std::string> kStrings = {"", std::string("a\0b", 3), "\xff\xfe", "héllo"};

// --- every datatype, both ways ------------------------------------------------------------------------------

TEST(KServeGrpcDecodeTest, RawEveryNumericTypeIsBorrowedNotCopied) {
  for (const TypeCase& c : TypeCases()) {
    SCOPED_TRACE(c.name);
    ModelInferRequest message;
    message.set_id("r1");
    AddInput(message, "x", c.name, {2, 2});
    message.add_raw_input_contents(c.raw);
    auto owned = std::make_shared<const ModelInferRequest>(message);
    StatusOr<InferenceRequest> decoded =
        DecodeModelInferRequest(owned, Signature({{"x", c.type, {-1, -1}}}, {{"y", c.type, {-1, -1}}}));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->id, "r1");
    ASSERT_EQ(decoded->inputs.size(), 1u);
    const Tensor& tensor = decoded->inputs[0];
    EXPECT_EQ(tensor.name(), "x");
    EXPECT_EQ(tensor.dtype(), c.type);
    EXPECT_EQ(tensor.shape(), (Shape{2, 2}));
    EXPECT_EQ(TensorBytes(tensor), c.raw);
    // zero-copy: the tensor points into the request's own string, and holds the request alive
    EXPECT_EQ(reinterpret_cast<const char*>(tensor.bytes().data()), owned->raw_input_contents(0).data());
    const long before = owned.use_count();
    EXPECT_GE(before, 2);
    std::weak_ptr<const ModelInferRequest> weak = owned;
    owned.reset();
    EXPECT_FALSE(weak.expired());
    EXPECT_EQ(TensorBytes(decoded->inputs[0]), c.raw);
    decoded = Status(StatusCode::kCancelled, "drop");
    EXPECT_TRUE(weak.expired());
  }
}

TEST(KServeGrpcDecodeTest, TypedContentsEveryType) {
  for (const TypeCase& c : TypeCases()) {
    if (!c.fill) continue;
    SCOPED_TRACE(c.name);
    ModelInferRequest message;
    c.fill(AddInput(message, "x", c.name, {4})->mutable_contents());
    StatusOr<InferenceRequest> decoded = Decode(message, Signature({{"x", c.type, {-1}}}));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->inputs[0].dtype(), c.type);
    EXPECT_EQ(TensorBytes(decoded->inputs[0]), c.raw);
  }
}

TEST(KServeGrpcDecodeTest, BytesRawAndContents) {
  const ModelSignature signature = Signature({{"s", DataType::kString, {-1}}});
  ModelInferRequest raw;
  AddInput(raw, "s", "BYTES", {4});
  raw.add_raw_input_contents(LengthPrefixed(kStrings));
  StatusOr<InferenceRequest> decoded = Decode(raw, signature);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->inputs[0].strings(), kStrings);

  ModelInferRequest typed;
  auto* contents = AddInput(typed, "s", "BYTES", {4})->mutable_contents();
  for (const std::string& value : kStrings) contents->add_bytes_contents(value);
  decoded = Decode(typed, signature);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->inputs[0].strings(), kStrings);
}

TEST(KServeGrpcEncodeTest, EveryTypeAsRawOutputContents) {
  InferenceResponse response;
  response.model_name = "m";
  response.model_version = 12;
  response.id = "req-9";
  std::vector<TypeCase> cases = TypeCases();
  for (const TypeCase& c : cases) {
    Tensor tensor = *Tensor::Allocate("out_" + c.name, c.type, {2, 2});
    std::memcpy(tensor.mutable_bytes().data(), c.raw.data(), c.raw.size());
    response.outputs.push_back(std::move(tensor));
  }
  response.outputs.push_back(Tensor::FromStrings("out_BYTES", {1, 4}, kStrings));
  ModelInferResponse out;
  out.add_outputs()->set_name("stale");  // cleared first
  ASSERT_TRUE(EncodeModelInferResponse(response, &out).ok());
  EXPECT_EQ(out.model_name(), "m");
  EXPECT_EQ(out.model_version(), "12");
  EXPECT_EQ(out.id(), "req-9");
  ASSERT_EQ(out.outputs_size(), static_cast<int>(cases.size()) + 1);
  ASSERT_EQ(out.raw_output_contents_size(), out.outputs_size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const auto& meta = out.outputs(static_cast<int>(i));
    EXPECT_EQ(meta.name(), "out_" + cases[i].name);
    EXPECT_EQ(meta.datatype(), cases[i].name);
    EXPECT_EQ(std::vector<int64_t>(meta.shape().begin(), meta.shape().end()), (std::vector<int64_t>{2, 2}));
    EXPECT_FALSE(meta.has_contents());
    EXPECT_EQ(out.raw_output_contents(static_cast<int>(i)), cases[i].raw);
  }
  const int last = static_cast<int>(cases.size());
  EXPECT_EQ(out.outputs(last).datatype(), "BYTES");
  EXPECT_EQ(out.raw_output_contents(last), LengthPrefixed(kStrings));
}

TEST(KServeGrpcEncodeTest, RawRoundTrip) {
  for (const TypeCase& c : TypeCases()) {
    SCOPED_TRACE(c.name);
    ModelInferRequest message;
    AddInput(message, "x", c.name, {1, 4});
    message.add_raw_input_contents(c.raw);
    StatusOr<InferenceRequest> decoded = Decode(message, Signature({{"x", c.type, {-1, 4}}}));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    InferenceResponse response;
    response.outputs = decoded->inputs;
    ModelInferResponse out;
    ASSERT_TRUE(EncodeModelInferResponse(response, &out).ok());
    EXPECT_EQ(out.raw_output_contents(0), message.raw_input_contents(0));
    EXPECT_EQ(out.model_version(), "0");
    EXPECT_EQ(out.id(), "");
  }
}

// --- raw_input_contents rules -------------------------------------------------------------------------------

const ModelSignature kAdd =
    Signature({{"a", DataType::kFp32, {-1, 2}}, {"b", DataType::kFp32, {-1, 2}}}, {{"sum", DataType::kFp32, {-1, 2}}});

ModelInferRequest AddRequest() {
  ModelInferRequest message;
  AddInput(message, "a", "FP32", {1, 2});
  AddInput(message, "b", "FP32", {1, 2});
  message.add_raw_input_contents(Bytes(std::vector<float>{1, 2}));
  message.add_raw_input_contents(Bytes(std::vector<float>{3, 4}));
  return message;
}

TEST(KServeGrpcDecodeTest, AddRequestWithRequestedOutputs) {
  ModelInferRequest message = AddRequest();
  auto* output = message.add_outputs();
  output->set_name("sum");
  (*output->mutable_parameters())["binary_data"].set_bool_param(true);  // meaningless on gRPC: ignored
  (*message.mutable_parameters())["sequence_id"].set_int64_param(3);    // ignored
  StatusOr<InferenceRequest> decoded = Decode(message, kAdd);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->outputs, (std::vector<std::string>{"sum"}));
  EXPECT_EQ(decoded->inputs[1].name(), "b");
}

TEST(KServeGrpcDecodeTest, RawAndContentsAreExclusive) {
  ModelInferRequest message = AddRequest();
  message.mutable_inputs(1)->mutable_contents()->add_fp32_contents(1);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "input 'b' sets 'contents'");
  // an empty but present contents message counts too
  message = AddRequest();
  message.mutable_inputs(0)->mutable_contents();
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "input 'a' sets 'contents'");
}

TEST(KServeGrpcDecodeTest, RawCountMustEqualInputCount) {
  ModelInferRequest message = AddRequest();
  message.mutable_raw_input_contents()->RemoveLast();
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "raw_input_contents has 1 entries but the request has 2");
  message = AddRequest();
  message.add_raw_input_contents("");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "raw_input_contents has 3 entries");
}

TEST(KServeGrpcDecodeTest, RawSizeMustEqualShapeTimesElementSize) {
  ModelInferRequest message = AddRequest();
  message.mutable_raw_input_contents(1)->push_back('x');
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "input byte size mismatch for input 'b' for model ''. Expected 8, got 9");
  message = AddRequest();
  message.mutable_raw_input_contents(0)->resize(4);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "input 'a'");
}

TEST(KServeGrpcDecodeTest, HugeDeclaredShapesFailBeforeAllocating) {
  // 2 GiB declared, 8 bytes present
  ModelInferRequest message = AddRequest();
  message.mutable_inputs(0)->mutable_shape()->Set(0, int64_t{1} << 28);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "Expected 2147483648, got 8");
  // the same through typed contents
  ModelInferRequest typed;
  auto* input = AddInput(typed, "a", "FP32", {int64_t{1} << 28, 2});
  input->mutable_contents()->add_fp32_contents(1);
  AddInput(typed, "b", "FP32", {1, 2})->mutable_contents()->add_fp32_contents(1);
  ExpectError(Decode(typed, kAdd), StatusCode::kInvalidArgument, "has 1 values in contents.fp32_contents but shape");
  // element count overflows int64; byte size overflows
  message = AddRequest();
  message.mutable_inputs(0)->clear_shape();
  for (int64_t dim : {int64_t{4294967296}, int64_t{4294967296}, int64_t{2}}) message.mutable_inputs(0)->add_shape(dim);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "overflows");
  message = AddRequest();
  message.mutable_inputs(0)->mutable_shape()->Set(0, int64_t{1} << 62);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "overflows");
  // negative dims
  message = AddRequest();
  message.mutable_inputs(1)->mutable_shape()->Set(0, -1);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "negative dimension");
}

TEST(KServeGrpcDecodeTest, OverTheTensorCapIsResourceExhausted) {
  ModelInferRequest message = AddRequest();
  CodecLimits limits;
  limits.max_tensor_bytes = 4;
  ExpectError(Decode(message, kAdd, limits), StatusCode::kResourceExhausted, "input 'a'");
  ModelInferRequest typed;
  AddInput(typed, "a", "FP32", {1, 2})->mutable_contents()->add_fp32_contents(1);
  typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(2);
  ExpectError(Decode(typed, kAdd, limits), StatusCode::kResourceExhausted, "'a'");
}

TEST(KServeGrpcDecodeTest, BytesFramingErrors) {
  const ModelSignature signature = Signature({{"s", DataType::kString, {-1}}});
  auto request = [](std::string raw, int64_t count) {
    ModelInferRequest message;
    AddInput(message, "s", "BYTES", {count});
    message.add_raw_input_contents(std::move(raw));
    return message;
  };
  ExpectError(Decode(request(LengthPrefixed({"ab", "c"}), 3), signature), StatusCode::kInvalidArgument,
              "ends after 2 of 3 elements");
  ExpectError(Decode(request(LengthPrefixed({"ab"}).substr(0, 5), 1), signature), StatusCode::kInvalidArgument,
              "claims 2 bytes but only 1 are left");
  ExpectError(Decode(request(LengthPrefixed({"ab", "c"}), 1), signature), StatusCode::kInvalidArgument, "left over");
  ExpectError(Decode(request("\x01\x02", 1), signature), StatusCode::kInvalidArgument, "ends after 0 of 1");
  std::string huge_length("\xff\xff\xff\xff", 4);
  ExpectError(Decode(request(huge_length + "x", 1), signature), StatusCode::kInvalidArgument, "claims 4294967295");
  // a declared count far beyond the bytes present fails without reserving for it
  ExpectError(Decode(request(LengthPrefixed({"a"}), int64_t{1} << 40), signature), StatusCode::kInvalidArgument,
              "ends after 1 of");
  // typed: count mismatch
  ModelInferRequest typed;
  AddInput(typed, "s", "BYTES", {2})->mutable_contents()->add_bytes_contents("x");
  ExpectError(Decode(typed, signature), StatusCode::kInvalidArgument, "has 1 values in contents.bytes_contents");
}

// --- typed contents rules -----------------------------------------------------------------------------------

TEST(KServeGrpcDecodeTest, UnknownDatatypeNamesTheInput) {
  ModelInferRequest message = AddRequest();
  message.mutable_inputs(1)->set_datatype("FLOAT32");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "input 'b' has unknown datatype 'FLOAT32'");
  message.mutable_inputs(1)->set_datatype("");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "input 'b' has unknown datatype ''");
}

TEST(KServeGrpcDecodeTest, NarrowIntegersAreRangeChecked) {
  struct Case {
    std::string type;
    DataType dtype;
    int64_t bad;
    bool unsigned_field;
  };
  for (const Case& c : std::vector<Case>{{"INT8", DataType::kInt8, 128, false},
                                         {"INT8", DataType::kInt8, -129, false},
                                         {"INT16", DataType::kInt16, 40000, false},
                                         {"UINT8", DataType::kUint8, 256, true},
                                         {"UINT16", DataType::kUint16, 65536, true}}) {
    SCOPED_TRACE(c.type + " " + std::to_string(c.bad));
    ModelInferRequest message;
    auto* contents = AddInput(message, "x", c.type, {2})->mutable_contents();
    if (c.unsigned_field) {
      contents->add_uint_contents(1);
      contents->add_uint_contents(static_cast<uint32_t>(c.bad));
    } else {
      contents->add_int_contents(1);
      contents->add_int_contents(static_cast<int32_t>(c.bad));
    }
    ExpectError(Decode(message, Signature({{"x", c.dtype, {-1}}})), StatusCode::kInvalidArgument,
                "value " + std::to_string(c.bad) + " at index 1 is out of range for " + c.type);
  }
}

TEST(KServeGrpcDecodeTest, WrongTypedFieldIsRejected) {
  ModelInferRequest message;
  auto* contents = AddInput(message, "x", "FP32", {1})->mutable_contents();
  contents->add_fp64_contents(1.0);
  ExpectError(
      Decode(message, Signature({{"x", DataType::kFp32, {-1}}})), StatusCode::kInvalidArgument,
      "input 'x' has datatype FP32, which travels in contents.fp32_contents, but contents.fp64_contents is set");
  contents->add_fp32_contents(1.0f);  // right and wrong together
  ExpectError(Decode(message, Signature({{"x", DataType::kFp32, {-1}}})), StatusCode::kInvalidArgument,
              "contents.fp64_contents is set");
}

TEST(KServeGrpcDecodeTest, HalfFloatsNeedRaw) {
  for (std::string type : {"FP16", "BF16"}) {
    ModelInferRequest message;
    AddInput(message, "x", type, {1})->mutable_contents()->add_fp32_contents(1.0f);
    DataType dtype = DataTypeFromKServeName(type);
    ExpectError(Decode(message, Signature({{"x", dtype, {-1}}})), StatusCode::kInvalidArgument,
                type + " data must be sent in raw_input_contents");
  }
}

TEST(KServeGrpcDecodeTest, MissingDataAndEmptyTensors) {
  ModelInferRequest message;
  AddInput(message, "a", "FP32", {1, 2});
  AddInput(message, "b", "FP32", {0, 2});
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "input 'a' has no data: set contents.fp32_contents or raw_input_contents");
  message.mutable_inputs(0)->set_shape(0, 0);
  StatusOr<InferenceRequest> decoded = Decode(message, kAdd);  // zero elements need no values
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->inputs[0].element_count(), 0);
}

TEST(KServeGrpcDecodeTest, ValidatedAgainstTheSignature) {
  ModelInferRequest message = AddRequest();
  message.mutable_inputs(1)->set_name("c");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "expected 2 inputs but got 2 inputs for model ''. Got input(s) ['a','c'], but missing required input(s) "
              "['b']. Please provide all required input(s).");
  message = AddRequest();
  message.mutable_inputs(1)->set_name("");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "inputs[1] has no name");
  message = AddRequest();
  message.add_outputs()->set_name("nope");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "unexpected inference output 'nope' for model ''");
  message.add_outputs()->set_name("nope");
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument, "output 'nope' already exists in request");
  message = AddRequest();
  message.mutable_inputs(0)->set_datatype("FP64");
  message.set_raw_input_contents(0, Bytes(std::vector<double>{1, 2}));
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "inference input 'a' data-type is 'FP64', but model '' expects 'FP32'");
}

TEST(KServeGrpcDecodeTest, UnsupportedParametersAreUnimplemented) {
  ModelInferRequest message = AddRequest();
  (*message.mutable_inputs(0)->mutable_parameters())["shared_memory_region"].set_string_param("r");
  ExpectError(Decode(message, kAdd), StatusCode::kUnimplemented, "input 'a': shared-memory inputs");
  message = AddRequest();
  auto* output = message.add_outputs();
  output->set_name("sum");
  (*output->mutable_parameters())["classification"].set_int64_param(3);
  ASSERT_TRUE(Decode(message, kAdd).ok());
  EXPECT_EQ(ClassificationRequests(message), (std::vector<KServeClassification>{{"sum", 3}}));
  (*output->mutable_parameters())["classification"].set_bool_param(true);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "invalid value type for 'classification' parameter, expected int64_param");
  (*output->mutable_parameters())["classification"].set_int64_param(0);
  ExpectError(Decode(message, kAdd), StatusCode::kInvalidArgument,
              "invalid value for 'classification' parameter, expected >= 0");
}

TEST(KServeGrpcDecodeTest, RequestLimits) {
  CodecLimits limits;
  limits.max_inputs = 1;
  ExpectError(Decode(AddRequest(), kAdd, limits), StatusCode::kInvalidArgument, "more than 1 inputs");
  limits = {};
  limits.max_rank = 1;
  ExpectError(Decode(AddRequest(), kAdd, limits), StatusCode::kInvalidArgument, "more than 1 dimensions");
  limits = {};
  limits.max_name_bytes = 3;
  ModelInferRequest message = AddRequest();
  message.set_id("long-id");
  ExpectError(Decode(message, kAdd, limits), StatusCode::kInvalidArgument, "'id' is longer than 3 bytes");
  limits = {};
  limits.max_outputs = 0;
  message = AddRequest();
  message.add_outputs()->set_name("sum");
  ExpectError(Decode(message, kAdd, limits), StatusCode::kInvalidArgument, "more than 0 outputs");
}

// --- metadata and configuration -----------------------------------------------------------------------------

TEST(KServeGrpcConfigTest, BatchingModelLeavesOutTheBatchDimension) {
  inference::ModelConfig config = ModelConfigFor("add", kAdd);
  EXPECT_EQ(config.name(), "add");
  EXPECT_EQ(config.platform(), "onnxruntime_onnx");
  EXPECT_EQ(config.backend(), "onnxruntime");
  EXPECT_EQ(config.max_batch_size(), kKServeMaxBatchSize);
  EXPECT_GT(kKServeMaxBatchSize, 0);
  ASSERT_EQ(config.input_size(), 2);
  EXPECT_EQ(config.input(0).name(), "a");
  EXPECT_EQ(config.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(std::vector<int64_t>(config.input(0).dims().begin(), config.input(0).dims().end()),
            (std::vector<int64_t>{2}));
  ASSERT_EQ(config.output_size(), 1);
  EXPECT_EQ(std::vector<int64_t>(config.output(0).dims().begin(), config.output(0).dims().end()),
            (std::vector<int64_t>{2}));
}

TEST(KServeGrpcConfigTest, NonBatchingModelKeepsFullShapes) {
  ModelSignature fixed = Signature({{"x", DataType::kString, {3, -1}}}, {{"y", DataType::kBf16, {-1}}});
  inference::ModelConfig config = ModelConfigFor("m", fixed);
  EXPECT_EQ(config.max_batch_size(), 0);
  EXPECT_EQ(config.input(0).data_type(), inference::TYPE_STRING);
  EXPECT_EQ(std::vector<int64_t>(config.input(0).dims().begin(), config.input(0).dims().end()),
            (std::vector<int64_t>{3, -1}));
  EXPECT_EQ(config.output(0).data_type(), inference::TYPE_BF16);
  // a scalar output has no batch dimension
  ModelSignature scalar = Signature({{"x", DataType::kFp32, {-1}}}, {{"y", DataType::kFp32, {}}});
  EXPECT_EQ(ModelConfigFor("m", scalar).max_batch_size(), 0);
  ModelSignature no_inputs = Signature({}, {{"y", DataType::kFp32, {-1}}});
  EXPECT_EQ(ModelConfigFor("m", no_inputs).max_batch_size(), 0);
}

TEST(KServeGrpcConfigTest, DataTypesMatchTheModelConfigEnum) {
  for (const TypeCase& c : TypeCases()) {
    EXPECT_EQ(inference::DataType_Name(ModelConfigDataType(c.type)), "TYPE_" + c.name);
  }
  EXPECT_EQ(ModelConfigDataType(DataType::kString), inference::TYPE_STRING);
  EXPECT_EQ(ModelConfigDataType(DataType::kInvalid), inference::TYPE_INVALID);
}

TEST(KServeGrpcConfigTest, TensorMetadataKeepsVariableDims) {
  inference::ModelMetadataResponse response;
  FillTensorMetadata(kAdd.inputs, response.mutable_inputs());
  ASSERT_EQ(response.inputs_size(), 2);
  EXPECT_EQ(response.inputs(1).name(), "b");
  EXPECT_EQ(response.inputs(1).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(response.inputs(1).shape().begin(), response.inputs(1).shape().end()),
            (std::vector<int64_t>{-1, 2}));
}

}  // namespace
}  // namespace serval

#include "api/tfs/tfs_grpc_codec.h"

#include <gtest/gtest.h>

#include <cstring>

namespace serval {
namespace {

namespace tf = ::tensorflow;
namespace tfs = ::tensorflow::serving;

tf::TensorProto Proto(tf::DataType dtype, const std::vector<int64_t>& dims) {
  tf::TensorProto proto;
  proto.set_dtype(dtype);
  for (int64_t d : dims) proto.mutable_tensor_shape()->add_dim()->set_size(d);
  return proto;
}

template <typename T>
std::vector<T> Values(const Tensor& tensor) {
  std::vector<T> out(tensor.bytes().size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), tensor.bytes().data(), out.size() * sizeof(T));
  return out;
}

template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

StatusOr<Tensor> Decode(const tf::TensorProto& proto, DataType expected = DataType::kInvalid,
                        const CodecLimits& limits = {}) {
  return DecodeTensorProto(proto, "x", expected, nullptr, limits);
}

void ExpectInvalid(const StatusOr<Tensor>& result, std::string_view needle) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  EXPECT_NE(result.status().message().find(needle), std::string::npos) << result.status().message();
}

TEST(TfsGrpcCodecTest, TensorContentIsBorrowed) {
  tf::TensorProto proto = Proto(tf::DT_FLOAT, {2, 2});
  proto.set_tensor_content(RawBytes<float>({1, 2, 3, 4}));
  auto owner = std::make_shared<int>(7);
  StatusOr<Tensor> tensor = DecodeTensorProto(proto, "a", DataType::kFp32, owner);
  ASSERT_TRUE(tensor.ok()) << tensor.status().ToString();
  EXPECT_EQ(tensor->name(), "a");
  EXPECT_EQ(tensor->shape(), (Shape{2, 2}));
  EXPECT_EQ(reinterpret_cast<const char*>(tensor->bytes().data()), proto.tensor_content().data());  // no copy
  EXPECT_EQ(Values<float>(*tensor), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(owner.use_count(), 2);  // the tensor holds the owner
}

TEST(TfsGrpcCodecTest, TypedFieldsForEveryDtype) {
  {
    tf::TensorProto p = Proto(tf::DT_FLOAT, {3});
    for (float v : {1.5f, -2.0f, 3.25f}) p.add_float_val(v);
    EXPECT_EQ(Values<float>(*Decode(p)), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_DOUBLE, {2});
    p.add_double_val(0.1);
    p.add_double_val(-1e300);
    EXPECT_EQ(Values<double>(*Decode(p)), (std::vector<double>{0.1, -1e300}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_INT32, {2});
    p.add_int_val(INT32_MIN);
    p.add_int_val(INT32_MAX);
    EXPECT_EQ(Values<int32_t>(*Decode(p)), (std::vector<int32_t>{INT32_MIN, INT32_MAX}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_INT16, {2});
    p.add_int_val(-32768);
    p.add_int_val(32767);
    EXPECT_EQ(Values<int16_t>(*Decode(p)), (std::vector<int16_t>{-32768, 32767}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_INT8, {2});
    p.add_int_val(-128);
    p.add_int_val(127);
    EXPECT_EQ(Values<int8_t>(*Decode(p)), (std::vector<int8_t>{-128, 127}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_UINT16, {2});
    p.add_int_val(0);
    p.add_int_val(65535);
    EXPECT_EQ(Values<uint16_t>(*Decode(p)), (std::vector<uint16_t>{0, 65535}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_UINT8, {2});
    p.add_int_val(0);
    p.add_int_val(255);
    EXPECT_EQ(Values<uint8_t>(*Decode(p)), (std::vector<uint8_t>{0, 255}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_INT64, {2});
    p.add_int64_val(INT64_MIN);
    p.add_int64_val(INT64_MAX);
    EXPECT_EQ(Values<int64_t>(*Decode(p)), (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_UINT32, {1});
    p.add_uint32_val(UINT32_MAX);
    EXPECT_EQ(Values<uint32_t>(*Decode(p)), (std::vector<uint32_t>{UINT32_MAX}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_UINT64, {1});
    p.add_uint64_val(UINT64_MAX);
    EXPECT_EQ(Values<uint64_t>(*Decode(p)), (std::vector<uint64_t>{UINT64_MAX}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_BOOL, {3});
    p.add_bool_val(true);
    p.add_bool_val(false);
    p.add_bool_val(true);
    EXPECT_EQ(Values<uint8_t>(*Decode(p)), (std::vector<uint8_t>{1, 0, 1}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_HALF, {2});
    p.add_half_val(0x3e00);  // 1.5
    p.add_half_val(0xfc01);  // a NaN payload
    StatusOr<Tensor> t = Decode(p);
    EXPECT_EQ(t->dtype(), DataType::kFp16);
    EXPECT_EQ(Values<uint16_t>(*t), (std::vector<uint16_t>{0x3e00, 0xfc01}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_BFLOAT16, {1});
    p.add_half_val(0xc010);
    StatusOr<Tensor> t = Decode(p);
    EXPECT_EQ(t->dtype(), DataType::kBf16);
    EXPECT_EQ(Values<uint16_t>(*t), (std::vector<uint16_t>{0xc010}));
  }
  {
    tf::TensorProto p = Proto(tf::DT_STRING, {2});
    p.add_string_val("h\xc3\xa9");
    p.add_string_val(std::string("\0\xff", 2));
    StatusOr<Tensor> t = Decode(p);
    EXPECT_EQ(t->strings(), (std::vector<std::string>{"h\xc3\xa9", std::string("\0\xff", 2)}));
  }
}

TEST(TfsGrpcCodecTest, SingleValueBroadcasts) {
  tf::TensorProto p = Proto(tf::DT_FLOAT, {2, 3});
  p.add_float_val(7.5f);
  StatusOr<Tensor> t = Decode(p);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(Values<float>(*t), std::vector<float>(6, 7.5f));

  tf::TensorProto i8 = Proto(tf::DT_INT8, {4});
  i8.add_int_val(-3);
  EXPECT_EQ(Values<int8_t>(*Decode(i8)), std::vector<int8_t>(4, -3));

  tf::TensorProto s = Proto(tf::DT_STRING, {3});
  s.add_string_val("ab");
  EXPECT_EQ(Decode(s)->strings(), std::vector<std::string>(3, "ab"));

  tf::TensorProto scalar = Proto(tf::DT_INT64, {});
  scalar.add_int64_val(42);
  StatusOr<Tensor> st = Decode(scalar);
  EXPECT_EQ(st->shape(), Shape{});
  EXPECT_EQ(Values<int64_t>(*st), std::vector<int64_t>{42});

  tf::TensorProto empty = Proto(tf::DT_FLOAT, {0, 3});
  StatusOr<Tensor> e = Decode(empty);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->element_count(), 0);
  empty.add_float_val(1.0f);  // one value for no elements: ignored
  EXPECT_TRUE(Decode(empty).ok());
}

TEST(TfsGrpcCodecTest, RejectsHostileTensors) {
  tf::TensorProto both = Proto(tf::DT_FLOAT, {1});
  both.add_float_val(1);
  both.set_tensor_content(RawBytes<float>({1}));
  ExpectInvalid(Decode(both), "both tensor_content and typed values");

  tf::TensorProto short_content = Proto(tf::DT_FLOAT, {2, 2});
  short_content.set_tensor_content(RawBytes<float>({1, 2, 3}));
  ExpectInvalid(Decode(short_content), "tensor_content has 12 bytes");

  tf::TensorProto declared = Proto(tf::DT_FLOAT, {1 << 29});  // 2 GiB, no bytes
  ExpectInvalid(Decode(declared), "carries no values");
  declared.add_float_val(1.0f);  // one value may not fill 2 GiB either
  ExpectInvalid(Decode(declared), "broadcast limit");
  tf::TensorProto declared_strings = Proto(tf::DT_STRING, {1 << 29});
  declared_strings.add_string_val("x");
  ExpectInvalid(Decode(declared_strings), "cannot fill");

  tf::TensorProto overflow = Proto(tf::DT_FLOAT, {int64_t{1} << 40, int64_t{1} << 40});
  ExpectInvalid(Decode(overflow), "input 'x'");
  tf::TensorProto negative = Proto(tf::DT_FLOAT, {-1, 2});
  ExpectInvalid(Decode(negative), "must be fully known");
  tf::TensorProto unknown_rank = Proto(tf::DT_FLOAT, {});
  unknown_rank.mutable_tensor_shape()->set_unknown_rank(true);
  ExpectInvalid(Decode(unknown_rank), "unknown_rank");

  ExpectInvalid(Decode(Proto(static_cast<tf::DataType>(99), {1})), "dtype 99 is not a supported dtype");
  ExpectInvalid(Decode(Proto(tf::DT_COMPLEX64, {1})), "DT_COMPLEX64 (8)");
  ExpectInvalid(Decode(Proto(tf::DT_INVALID, {1})), "DT_INVALID");
  ExpectInvalid(Decode(Proto(tf::DT_FLOAT_REF, {1})), "DT_FLOAT_REF");

  tf::TensorProto mismatch = Proto(tf::DT_DOUBLE, {1});
  mismatch.add_double_val(1);
  ExpectInvalid(Decode(mismatch, DataType::kFp32), "has dtype DT_DOUBLE but the model expects DT_FLOAT");

  tf::TensorProto wrong_field = Proto(tf::DT_INT32, {1});
  wrong_field.add_float_val(1);
  ExpectInvalid(Decode(wrong_field), "takes its values from int_val");
  tf::TensorProto two_fields = Proto(tf::DT_INT32, {1});
  two_fields.add_int_val(1);
  two_fields.add_int64_val(1);
  ExpectInvalid(Decode(two_fields), "int_val, int64_val");

  tf::TensorProto count = Proto(tf::DT_FLOAT, {3});
  count.add_float_val(1);
  count.add_float_val(2);
  ExpectInvalid(Decode(count), "2 values in float_val for shape [3]");

  tf::TensorProto range = Proto(tf::DT_UINT8, {2});
  range.add_int_val(1);
  range.add_int_val(256);
  ExpectInvalid(Decode(range), "256 in int_val is out of range for DT_UINT8");

  tf::TensorProto string_content = Proto(tf::DT_STRING, {1});
  string_content.set_tensor_content("abc");
  ExpectInvalid(Decode(string_content), "string_val");

  CodecLimits small;
  small.max_tensor_bytes = 8;
  tf::TensorProto big = Proto(tf::DT_FLOAT, {3});
  big.set_tensor_content(RawBytes<float>({1, 2, 3}));
  EXPECT_EQ(Decode(big, DataType::kInvalid, small).status().code(), StatusCode::kResourceExhausted);
  small.max_rank = 2;
  EXPECT_EQ(Decode(Proto(tf::DT_FLOAT, {1, 1, 1}), DataType::kInvalid, small).status().code(),
            StatusCode::kInvalidArgument);
}

Tensor Numeric(DataType type, Shape shape, std::string bytes) {
  StatusOr<Tensor> t = Tensor::Allocate("t", type, std::move(shape));
  std::memcpy(t->mutable_bytes().data(), bytes.data(), bytes.size());
  return *t;
}

TEST(TfsGrpcCodecTest, EncodesTypedFieldsByDefault) {
  tf::TensorProto out;
  EncodeTensorProto(Numeric(DataType::kFp32, {1, 2}, RawBytes<float>({1.5f, 2})), TensorEncoding::kTypedValues, &out);
  EXPECT_EQ(out.dtype(), tf::DT_FLOAT);
  ASSERT_EQ(out.tensor_shape().dim_size(), 2);
  EXPECT_EQ(out.tensor_shape().dim(1).size(), 2);
  ASSERT_EQ(out.float_val_size(), 2);
  EXPECT_EQ(out.float_val(0), 1.5f);
  EXPECT_TRUE(out.tensor_content().empty());

  EncodeTensorProto(Numeric(DataType::kInt8, {2}, RawBytes<int8_t>({-1, 5})), TensorEncoding::kTypedValues, &out);
  EXPECT_EQ(out.dtype(), tf::DT_INT8);
  EXPECT_EQ(out.int_val(0), -1);
  EXPECT_EQ(out.float_val_size(), 0);  // cleared first

  EncodeTensorProto(Numeric(DataType::kUint16, {1}, RawBytes<uint16_t>({65535})), TensorEncoding::kTypedValues, &out);
  EXPECT_EQ(out.int_val(0), 65535);
  EncodeTensorProto(Numeric(DataType::kFp16, {1}, RawBytes<uint16_t>({0xfc01})), TensorEncoding::kTypedValues, &out);
  EXPECT_EQ(out.dtype(), tf::DT_HALF);
  EXPECT_EQ(out.half_val(0), 0xfc01);
  EncodeTensorProto(Numeric(DataType::kBf16, {1}, RawBytes<uint16_t>({0xc010})), TensorEncoding::kTypedValues, &out);
  EXPECT_EQ(out.dtype(), tf::DT_BFLOAT16);
  EXPECT_EQ(out.half_val(0), 0xc010);
  EncodeTensorProto(Numeric(DataType::kBool, {2}, RawBytes<uint8_t>({0, 1})), TensorEncoding::kTypedValues, &out);
  EXPECT_EQ(out.bool_val(1), true);
  EncodeTensorProto(Numeric(DataType::kUint64, {1}, RawBytes<uint64_t>({UINT64_MAX})), TensorEncoding::kTypedValues,
                    &out);
  EXPECT_EQ(out.uint64_val(0), UINT64_MAX);
  EncodeTensorProto(Tensor::FromStrings("s", {1}, {"abc"}), TensorEncoding::kTensorContent, &out);
  EXPECT_EQ(out.dtype(), tf::DT_STRING);
  EXPECT_EQ(out.string_val(0), "abc");  // STRING always uses string_val
  EXPECT_TRUE(out.tensor_content().empty());
}

TEST(TfsGrpcCodecTest, EveryDtypeRoundTripsInBothEncodings) {
  const std::vector<std::pair<DataType, size_t>> types = {
      {DataType::kBool, 1},   {DataType::kUint8, 1}, {DataType::kUint16, 2}, {DataType::kUint32, 4},
      {DataType::kUint64, 8}, {DataType::kInt8, 1},  {DataType::kInt16, 2},  {DataType::kInt32, 4},
      {DataType::kInt64, 8},  {DataType::kFp16, 2},  {DataType::kBf16, 2},   {DataType::kFp32, 4},
      {DataType::kFp64, 8}};
  for (const auto& [type, size] : types) {
    std::string bytes(6 * size, '\0');
    for (size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<char>(type == DataType::kBool ? (i % 2) : i * 37 + 11);
    const Tensor original = Numeric(type, {2, 3}, bytes);
    for (TensorEncoding encoding : {TensorEncoding::kTypedValues, TensorEncoding::kTensorContent}) {
      tf::TensorProto proto;
      EncodeTensorProto(original, encoding, &proto);
      EXPECT_EQ(encoding == TensorEncoding::kTensorContent, !proto.tensor_content().empty()) << KServeName(type);
      StatusOr<Tensor> back = Decode(proto, type);
      ASSERT_TRUE(back.ok()) << KServeName(type) << ": " << back.status().ToString();
      EXPECT_EQ(back->shape(), (Shape{2, 3}));
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(back->bytes().data()), back->bytes().size()), bytes)
          << KServeName(type);
    }
  }
}

ModelSignature AddSignature() {
  ModelSignature s;
  s.inputs = {{"a", DataType::kFp32, {-1, 2}}, {"b", DataType::kFp32, {-1, 2}}};
  s.outputs = {{"sum", DataType::kFp32, {-1, 2}}, {"diff", DataType::kFp32, {-1, 2}}};
  return s;
}

tfs::PredictRequest AddRequest() {
  tfs::PredictRequest request;
  request.mutable_model_spec()->set_name("add");
  for (const char* name : {"a", "b"}) {
    tf::TensorProto& p = (*request.mutable_inputs())[name];
    p = Proto(tf::DT_FLOAT, {1, 2});
    p.add_float_val(1);
    p.add_float_val(2);
  }
  return request;
}

TEST(TfsGrpcCodecTest, DecodesPredictRequests) {
  tfs::PredictRequest request = AddRequest();
  request.add_output_filter("diff");
  StatusOr<InferenceRequest> decoded = DecodePredictRequest(request, AddSignature(), nullptr);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->inputs.size(), 2u);
  EXPECT_EQ(decoded->outputs, (std::vector<std::string>{"diff"}));

  tfs::PredictRequest unknown_output = AddRequest();
  unknown_output.add_output_filter("nope");
  StatusOr<InferenceRequest> bad = DecodePredictRequest(unknown_output, AddSignature(), nullptr);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("output tensor alias not found in signature: nope"), std::string::npos);
  EXPECT_NE(bad.status().message().find("{sum,diff}"), std::string::npos) << bad.status().message();

  tfs::PredictRequest duplicate = AddRequest();
  duplicate.add_output_filter("sum");
  duplicate.add_output_filter("sum");
  EXPECT_EQ(DecodePredictRequest(duplicate, AddSignature(), nullptr).status().code(), StatusCode::kInvalidArgument);

  tfs::PredictRequest unknown_input = AddRequest();
  (*unknown_input.mutable_inputs())["c"] = Proto(tf::DT_FLOAT, {0, 2});
  bad = DecodePredictRequest(unknown_input, AddSignature(), nullptr);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("input tensor alias not found in signature: c"), std::string::npos);

  tfs::PredictRequest missing = AddRequest();
  missing.mutable_inputs()->erase("b");
  bad = DecodePredictRequest(missing, AddSignature(), nullptr);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("missing input 'b'"), std::string::npos) << bad.status().message();

  tfs::PredictRequest wrong_shape = AddRequest();
  (*wrong_shape.mutable_inputs())["b"].mutable_tensor_shape()->mutable_dim(1)->set_size(1);
  (*wrong_shape.mutable_inputs())["b"].mutable_float_val()->RemoveLast();
  EXPECT_EQ(DecodePredictRequest(wrong_shape, AddSignature(), nullptr).status().code(), StatusCode::kInvalidArgument);

  CodecLimits limits;
  limits.max_inputs = 1;
  EXPECT_EQ(DecodePredictRequest(AddRequest(), AddSignature(), nullptr, limits).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TfsGrpcCodecTest, EncodesPredictResponseWithModelSpec) {
  InferenceResponse response;
  response.model_name = "add";
  response.model_version = 2;
  response.outputs.push_back(Numeric(DataType::kFp32, {1}, RawBytes<float>({3})));
  response.outputs.back().set_name("sum");
  tfs::ModelSpec spec;
  spec.set_name("add");
  spec.set_version_label("canary");
  tfs::PredictResponse out;
  ASSERT_TRUE(EncodePredictResponse(response, spec, TensorEncoding::kTypedValues, &out).ok());
  EXPECT_EQ(out.model_spec().name(), "add");
  EXPECT_TRUE(out.model_spec().has_version());
  EXPECT_EQ(out.model_spec().version().value(), 2);
  EXPECT_EQ(out.model_spec().signature_name(), "serving_default");
  ASSERT_EQ(out.outputs().count("sum"), 1u);
  EXPECT_EQ(out.outputs().at("sum").float_val(0), 3.0f);

  ASSERT_TRUE(EncodePredictResponse(response, spec, TensorEncoding::kTensorContent, &out).ok());
  EXPECT_EQ(out.outputs().at("sum").tensor_content(), RawBytes<float>({3}));
  EXPECT_EQ(out.outputs().at("sum").float_val_size(), 0);
}

TEST(TfsGrpcCodecTest, ModelSpecs) {
  tfs::ModelSpec spec;
  EXPECT_EQ(DecodeModelSpec(spec).status().code(), StatusCode::kInvalidArgument);
  spec.set_name("add");
  StatusOr<TfsModelSpec> decoded = DecodeModelSpec(spec);
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->version.number.has_value());
  EXPECT_TRUE(decoded->version.label.empty());
  spec.mutable_version()->set_value(2);
  EXPECT_EQ(DecodeModelSpec(spec)->version.number, 2);
  spec.set_version_label("stable");  // the oneof: the label replaces the number
  decoded = DecodeModelSpec(spec);
  EXPECT_FALSE(decoded->version.number.has_value());
  EXPECT_EQ(decoded->version.label, "stable");
}

TEST(TfsGrpcCodecTest, MetadataIsASignatureDefMapInAny) {
  EXPECT_EQ(CheckMetadataFields({}).code(), StatusCode::kInvalidArgument);
  google::protobuf::RepeatedPtrField<std::string> fields;
  *fields.Add() = "signature_def";
  EXPECT_TRUE(CheckMetadataFields(fields).ok());
  *fields.Add() = "graph";
  EXPECT_EQ(CheckMetadataFields(fields).code(), StatusCode::kInvalidArgument);

  tfs::GetModelMetadataResponse out;
  EncodeModelMetadata("add", 1, AddSignature(), &out);
  EXPECT_EQ(out.model_spec().name(), "add");
  EXPECT_EQ(out.model_spec().version().value(), 1);
  EXPECT_EQ(out.model_spec().signature_name(), "");
  ASSERT_EQ(out.metadata().count("signature_def"), 1u);
  const google::protobuf::Any& any = out.metadata().at("signature_def");
  EXPECT_EQ(any.type_url(), "type.googleapis.com/tensorflow.serving.SignatureDefMap");
  tfs::SignatureDefMap map;
  ASSERT_TRUE(any.UnpackTo(&map));
  ASSERT_EQ(map.signature_def().count("serving_default"), 1u);
  const tf::SignatureDef& def = map.signature_def().at("serving_default");
  EXPECT_EQ(def.method_name(), "tensorflow/serving/predict");
  ASSERT_EQ(def.inputs().size(), 2);
  const tf::TensorInfo& a = def.inputs().at("a");
  EXPECT_EQ(a.name(), "a");
  EXPECT_EQ(a.dtype(), tf::DT_FLOAT);
  ASSERT_EQ(a.tensor_shape().dim_size(), 2);
  EXPECT_EQ(a.tensor_shape().dim(0).size(), -1);
  EXPECT_EQ(a.tensor_shape().dim(1).size(), 2);
  EXPECT_EQ(def.outputs().at("diff").dtype(), tf::DT_FLOAT);
}

TEST(TfsGrpcCodecTest, ModelStatus) {
  std::vector<VersionStatus> versions = {{2, VersionState::kAvailable, Status::Ok()},
                                         {1, VersionState::kEnd, NotFound("gone")}};
  tfs::GetModelStatusResponse out;
  EncodeModelStatus(versions, &out);
  ASSERT_EQ(out.model_version_status_size(), 2);
  EXPECT_EQ(out.model_version_status(0).version(), 2);
  EXPECT_EQ(out.model_version_status(0).state(), tfs::ModelVersionStatus::AVAILABLE);
  EXPECT_EQ(out.model_version_status(0).status().error_code(), tf::error::OK);
  EXPECT_EQ(out.model_version_status(1).state(), tfs::ModelVersionStatus::END);
  EXPECT_EQ(out.model_version_status(1).status().error_code(), tf::error::NOT_FOUND);
  EXPECT_EQ(out.model_version_status(1).status().error_message(), "gone");
}

TEST(TfsGrpcCodecTest, ExampleInputViewsProtos) {
  tfs::Input input;
  EXPECT_EQ(DecodeExampleInput(input).status().code(), StatusCode::kInvalidArgument);
  tfs::ExampleListWithContext* list = input.mutable_example_list_with_context();
  auto& context = *list->mutable_context()->mutable_features()->mutable_feature();
  context["lang"].mutable_bytes_list()->add_value("en");
  auto& first = *list->add_examples()->mutable_features()->mutable_feature();
  for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) first["features"].mutable_float_list()->add_value(v);
  first["ids"].mutable_int64_list()->add_value(-5);
  (void)first["none"];  // a Feature with no kind: no values
  list->add_examples();
  StatusOr<ExampleBatch> batch = DecodeExampleInput(input);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->examples.size(), 2u);
  EXPECT_EQ(batch->context.at("lang").bytes, (std::vector<std::string_view>{"en"}));
  const FeatureValues& features = batch->examples[0].at("features");
  EXPECT_EQ(features.kind, FeatureKind::kFloat);
  EXPECT_EQ(features.floats.data(), first["features"].float_list().value().data());  // a view
  EXPECT_EQ(batch->examples[0].at("ids").int64s[0], -5);
  EXPECT_EQ(batch->examples[0].at("none").size(), 0u);
  EXPECT_TRUE(batch->examples[1].empty());
}

TEST(TfsGrpcCodecTest, EncodesResults) {
  tfs::ClassificationResult classification;
  EncodeClassificationResult({{{"a", 0.25f}, {"b", 0.75f}}}, &classification);
  ASSERT_EQ(classification.classifications_size(), 1);
  EXPECT_EQ(classification.classifications(0).classes(1).label(), "b");
  EXPECT_EQ(classification.classifications(0).classes(1).score(), 0.75f);
  tfs::RegressionResult regression;
  std::vector<float> values = {1.5f, 2.5f};
  EncodeRegressionResult(values, &regression);
  ASSERT_EQ(regression.regressions_size(), 2);
  EXPECT_EQ(regression.regressions(1).value(), 2.5f);
}

}  // namespace
}  // namespace serval

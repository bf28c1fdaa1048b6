// Unit tests of the TensorFlow engine's server side that need no TensorFlow: the worker wire format and
// the SignatureDef reader. The worker itself is exercised end to end by tests/integration/test_tensorflow.py.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "engine/tf/tf_engine.h"
#include "engine/tf/tf_wire.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"

namespace serval {
namespace {

std::string Payload(const std::string& frame) { return frame.substr(tfwire::kHeaderBytes); }

TEST(TfWireTest, TensorsRoundTripWithHeader) {
  tfwire::Writer writer(tfwire::Kind::kRun, 42);
  StatusOr<Tensor> numbers = Tensor::Allocate("x", DataType::kFp32, {2, 2});
  ASSERT_TRUE(numbers.ok());
  const float values[4] = {1.5f, -2.0f, 0.0f, 3.25f};
  std::memcpy(numbers->mutable_bytes().data(), values, sizeof values);
  ASSERT_TRUE(writer.Put(*numbers).ok());
  ASSERT_TRUE(writer.Put(Tensor::FromStrings("s", {3}, {"a", std::string("\0b", 2), ""})).ok());
  writer.Str("tail");
  StatusOr<std::string> frame = std::move(writer).Finish();
  ASSERT_TRUE(frame.ok());

  char header_bytes[tfwire::kHeaderBytes];
  std::memcpy(header_bytes, frame->data(), sizeof header_bytes);
  const tfwire::FrameHeader header = tfwire::DecodeHeader(header_bytes);
  EXPECT_EQ(header.kind, tfwire::Kind::kRun);
  EXPECT_EQ(header.call_id, 42u);
  EXPECT_EQ(header.payload_bytes, frame->size() - tfwire::kHeaderBytes);

  auto owner = std::make_shared<std::string>(Payload(*frame));
  tfwire::Reader reader(*owner);
  StatusOr<Tensor> x = reader.Get("x", owner);
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_EQ(x->shape(), (Shape{2, 2}));
  ASSERT_EQ(x->bytes().size(), sizeof values);
  float got[4];
  std::memcpy(got, x->bytes().data(), sizeof got);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], values[i]);
  StatusOr<Tensor> s = reader.Get("s", owner);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->strings(), (std::vector<std::string>{"a", std::string("\0b", 2), ""}));
  StatusOr<std::string_view> tail = reader.Str();
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, "tail");
  EXPECT_TRUE(reader.done());
}

TEST(TfWireTest, EveryTruncationIsDataLossNeverACrash) {
  tfwire::Writer writer(tfwire::Kind::kRunDone, 1);
  ASSERT_TRUE(writer.Put(Tensor::FromStrings("s", {2}, {"hello", "world"})).ok());
  StatusOr<Tensor> numbers = Tensor::Allocate("x", DataType::kInt64, {3});
  ASSERT_TRUE(numbers.ok());
  std::memset(numbers->mutable_bytes().data(), 7, numbers->mutable_bytes().size());
  ASSERT_TRUE(writer.Put(*numbers).ok());
  const std::string payload = Payload(std::move(writer).Finish().value());
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    auto owner = std::make_shared<std::string>(payload.substr(0, cut));
    tfwire::Reader reader(*owner);
    StatusOr<Tensor> first = reader.Get("s", owner);
    StatusOr<Tensor> second = first.ok() ? reader.Get("x", owner) : first;
    ASSERT_FALSE(second.ok()) << "cut at " << cut;
    EXPECT_EQ(second.status().code(), StatusCode::kDataLoss) << second.status().message();
  }
}

TEST(TfWireTest, HostileCountsAreRefusedBeforeAllocating) {
  // A string tensor claiming 2^40 elements in a few bytes.
  tfwire::Writer writer(tfwire::Kind::kRunDone, 1);
  writer.U8(static_cast<uint8_t>(DataType::kString));
  writer.U32(1);
  writer.I64(int64_t{1} << 40);
  const std::string payload = Payload(std::move(writer).Finish().value());
  auto owner = std::make_shared<std::string>(payload);
  tfwire::Reader reader(*owner);
  StatusOr<Tensor> t = reader.Get("s", owner);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kDataLoss);
}

TEST(TfWireTest, TypeCodesMatchTensorFlow) {
  EXPECT_EQ(tfwire::TfTypeCode(DataType::kFp32), 1);
  EXPECT_EQ(tfwire::TfTypeCode(DataType::kString), 7);
  EXPECT_EQ(tfwire::TfTypeCode(DataType::kFp16), 19);
  for (int code = 0; code < 40; ++code) {
    DataType type = tfwire::FromTfTypeCode(code);
    if (type != DataType::kInvalid) {
      EXPECT_EQ(tfwire::TfTypeCode(type), code);
    }
  }
  EXPECT_EQ(tfwire::FromTfTypeCode(20), DataType::kInvalid);  // DT_RESOURCE
}

TEST(TfWireTest, ErrorFramesCarryTheStatus) {
  const std::string frame = tfwire::ErrorFrame(9, InvalidArgument("bad input"));
  Status status = tfwire::ReadError(Payload(frame));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "bad input");
}

// A MetaGraphDef as it is on the wire: a graph (field 2, skipped) and signature_def entries (field 5).
std::string MetaGraphBytes(const std::vector<tensorflow::SignatureDefMapEntry>& entries) {
  std::string out;
  auto field = [&out](int number, const std::string& bytes) {
    out.push_back(static_cast<char>((number << 3) | 2));
    size_t n = bytes.size();
    while (n >= 0x80) {
      out.push_back(static_cast<char>((n & 0x7F) | 0x80));
      n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    out += bytes;
  };
  field(2, std::string(300, 'g'));  // graph_def: never parsed
  for (const auto& entry : entries) field(5, entry.SerializeAsString());
  return out;
}

TEST(TfSignatureTest, ReadsEverySignatureWithTensorNamesAndShapes) {
  tensorflow::SignatureDefMapEntry predict;
  predict.set_key("serving_default");
  predict.mutable_value()->set_method_name("tensorflow/serving/predict");
  tensorflow::TensorInfo& x = (*predict.mutable_value()->mutable_inputs())["x"];
  x.set_name("serving_default_x:0");
  x.set_dtype(tensorflow::DT_FLOAT);
  x.mutable_tensor_shape()->add_dim()->set_size(-1);
  x.mutable_tensor_shape()->add_dim()->set_size(1);
  tensorflow::TensorInfo& y = (*predict.mutable_value()->mutable_outputs())["y"];
  y.set_name("StatefulPartitionedCall:0");
  y.set_dtype(tensorflow::DT_FLOAT);
  y.mutable_tensor_shape()->set_unknown_rank(true);

  tensorflow::SignatureDefMapEntry classify;
  classify.set_key("classify_x_to_y");
  classify.mutable_value()->set_method_name("tensorflow/serving/classify");
  tensorflow::TensorInfo& in = (*classify.mutable_value()->mutable_inputs())["inputs"];
  in.set_name("tf_example:0");
  in.set_dtype(tensorflow::DT_STRING);

  tensorflow::SignatureDefMapEntry sparse;
  sparse.set_key("sparse");
  (*sparse.mutable_value()->mutable_inputs())["s"].mutable_coo_sparse()->set_values_tensor_name("v:0");

  std::vector<std::string> skipped;
  StatusOr<std::vector<SignatureDef>> defs = ReadSignatureDefs(MetaGraphBytes({predict, classify, sparse}), &skipped);
  ASSERT_TRUE(defs.ok()) << defs.status().message();
  ASSERT_EQ(defs->size(), 2u);
  EXPECT_EQ((*defs)[0].name, "classify_x_to_y");  // sorted by name
  EXPECT_EQ((*defs)[0].method_name, "tensorflow/serving/classify");
  EXPECT_EQ((*defs)[0].io.inputs[0].dtype, DataType::kString);
  const SignatureDef& def = (*defs)[1];
  EXPECT_EQ(def.name, "serving_default");
  EXPECT_FALSE(def.io.check_shapes);
  ASSERT_EQ(def.io.inputs.size(), 1u);
  EXPECT_EQ(def.io.inputs[0].name, "x");
  EXPECT_EQ(def.io.inputs[0].tensor_name, "serving_default_x:0");
  EXPECT_EQ(def.io.inputs[0].shape, (Shape{-1, 1}));
  EXPECT_FALSE(def.io.inputs[0].unknown_rank);
  EXPECT_TRUE(def.io.outputs[0].unknown_rank);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("sparse"), std::string::npos);
}

TEST(TfSignatureTest, MalformedMetaGraphIsDataLoss) {
  std::string bytes = MetaGraphBytes({});
  bytes.push_back(static_cast<char>((5 << 3) | 2));
  bytes.push_back(static_cast<char>(100));  // claims 100 bytes, has none
  StatusOr<std::vector<SignatureDef>> defs = ReadSignatureDefs(bytes, nullptr);
  ASSERT_FALSE(defs.ok());
  EXPECT_EQ(defs.status().code(), StatusCode::kDataLoss);
}

TEST(TfEngineTest, CreateStartsNothingAndRejectsBadOptions) {
  TfEngineOptions options;
  options.intra_op_threads = -1;
  EXPECT_FALSE(CreateTfEngine(options).ok());
  options.intra_op_threads = 0;
  options.saved_model_tags.clear();
  EXPECT_FALSE(CreateTfEngine(options).ok());
  options.saved_model_tags = {"serve"};
  options.worker_path = "/nonexistent/serval-tf-worker";
  StatusOr<std::unique_ptr<Engine>> engine = CreateTfEngine(options);
  ASSERT_TRUE(engine.ok());
  // A directory without a SavedModel is NOT_FOUND before any worker is started.
  StatusOr<std::unique_ptr<ModelSession>> session = (*engine)->Load("/nonexistent-dir");
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace serval

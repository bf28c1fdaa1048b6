#include "api/grpc/budgeted_parse.h"

#include <string>

#include <gtest/gtest.h>

#include "core/memory_budget.h"
#include "tensorflow_serving/apis/predict.pb.h"

namespace serval {
namespace {

namespace tfs = tensorflow::serving;

tfs::PredictRequest EmptyStrings(int count) {
  tfs::PredictRequest request;
  request.mutable_model_spec()->set_name("m");
  tensorflow::TensorProto& tensor = (*request.mutable_inputs())["x"];
  tensor.set_dtype(tensorflow::DT_STRING);
  for (int i = 0; i < count; ++i) tensor.add_string_val("");
  return request;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(BudgetedParseTest, EstimateCoversWhatProtobufAllocates) {
  tfs::PredictRequest request = EmptyStrings(100000);
  const std::string wire = request.SerializeAsString();
  StatusOr<size_t> estimate = EstimateParsedBytes(*request.GetDescriptor(), wire);
  ASSERT_TRUE(estimate.ok()) << estimate.status().ToString();
  // 2 wire bytes an empty string; protobuf's parse holds a std::string and a pointer (and the allocator's
  // header) for each: the estimate is at least what SpaceUsedLong counts, and ~28 x the wire size.
  EXPECT_GE(*estimate, static_cast<size_t>(request.SpaceUsedLong()));
  EXPECT_GE(*estimate, wire.size() * 25);
  EXPECT_LE(*estimate, wire.size() * 40);
}

TEST(BudgetedParseTest, MalformedBytesAreInvalid) {
  tfs::PredictRequest request;
  EXPECT_EQ(EstimateParsedBytes(*request.GetDescriptor(), std::string("\x0a\x10\x01", 3)).status().code(),
            StatusCode::kInvalidArgument);  // a length past the end
  EXPECT_EQ(EstimateParsedBytes(*request.GetDescriptor(), std::string("\x0b", 1)).status().code(),
            StatusCode::kInvalidArgument);  // a group
}

TEST(BudgetedParseTest, ParseChargesBeforeParsing) {
  const std::string wire = EmptyStrings(100000).SerializeAsString();  // ~200 KB on the wire, ~6 MB parsed
  MemoryBudget budget(size_t{64} << 20, size_t{1} << 20);
  {
    RequestMemoryScope scope(&budget);
    tfs::PredictRequest parsed;
    Status status = ParseWithinBudget(ToBuffer(wire), &parsed);
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.ToString();
    EXPECT_EQ(parsed.inputs_size(), 0);  // refused before anything was parsed
  }
  MemoryBudget roomy(size_t{64} << 20, size_t{32} << 20);
  RequestMemoryScope scope(&roomy);
  tfs::PredictRequest parsed;
  ASSERT_TRUE(ParseWithinBudget(ToBuffer(wire), &parsed).ok());
  EXPECT_EQ(parsed.inputs().at("x").string_val_size(), 100000);
  grpc::ByteBuffer out;
  ASSERT_TRUE(SerializeToByteBuffer(parsed, &out).ok());
  EXPECT_EQ(out.Length(), wire.size());
}

}  // namespace
}  // namespace serval

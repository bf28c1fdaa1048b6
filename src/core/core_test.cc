#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "core/data_type.h"
#include "core/inference.h"
#include "core/shape.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {
namespace {

TEST(StatusTest, MapsCodesToBothHttpTables) {
  EXPECT_EQ(TfServingHttpStatus(StatusCode::kNotFound), 404);
  EXPECT_EQ(TfServingHttpStatus(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(TfServingHttpStatus(StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(TfServingHttpStatus(StatusCode::kCancelled), 499);
  EXPECT_EQ(TfServingHttpStatus(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(KServeHttpStatus(StatusCode::kUnavailable), 503);
  EXPECT_EQ(KServeHttpStatus(StatusCode::kInternal), 500);
  EXPECT_EQ(KServeHttpStatus(StatusCode::kUnimplemented), 501);
  EXPECT_EQ(StatusCodeName(StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(Status(StatusCode::kNotFound, "x").ToString(), "NOT_FOUND: x");
}

StatusOr<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgument("odd");
  return n / 2;
}

// Two unwraps in one function (distinct hidden names), into a declaration and into an existing variable.
StatusOr<int> Quarter(int n) {
  SERVAL_ASSIGN_OR_RETURN(int half, Half(n));
  int quarter = 0;
  SERVAL_ASSIGN_OR_RETURN(quarter, Half(half));
  return quarter;
}

TEST(StatusTest, AssignOrReturnUnwrapsOrPropagates) {
  StatusOr<int> ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  EXPECT_EQ(Quarter(3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Quarter(6).status().message(), "odd");  // the second unwrap fails
}

TEST(DataTypeTest, KServeNamesRoundTrip) {
  for (int i = 1; i <= static_cast<int>(DataType::kString); ++i) {
    auto type = static_cast<DataType>(i);
    EXPECT_EQ(DataTypeFromKServeName(KServeName(type)), type);
  }
  EXPECT_EQ(DataTypeFromKServeName("FLOAT"), DataType::kInvalid);
  EXPECT_EQ(ElementSize(DataType::kFp16), 2u);
  EXPECT_EQ(ElementSize(DataType::kString), 0u);
}

TEST(ShapeTest, ElementCountRejectsNegativeAndOverflow) {
  EXPECT_EQ(*ElementCount({2, 3, 4}, "x"), 24);
  EXPECT_EQ(*ElementCount({}, "x"), 1);
  EXPECT_EQ(*ElementCount({0, 5}, "x"), 0);
  EXPECT_FALSE(ElementCount({2, -1}, "x").ok());
  auto overflow = ElementCount({4294967296, 4294967296, 2}, "big");
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(overflow.status().message().find("big"), std::string::npos);
}

TEST(ShapeTest, ByteSizeRejectsOverflow) {
  EXPECT_EQ(*ByteSize(10, DataType::kFp32, "x"), 40u);
  EXPECT_FALSE(ByteSize(std::numeric_limits<int64_t>::max() / 2, DataType::kFp64, "x").ok());
  EXPECT_FALSE(ByteSize(3, DataType::kString, "x").ok());
}

TEST(ShapeTest, MatchesVariableDims) {
  EXPECT_TRUE(ShapeMatches({-1, 16}, {3, 16}));
  EXPECT_FALSE(ShapeMatches({-1, 16}, {3, 15}));
  EXPECT_FALSE(ShapeMatches({-1, 16}, {3, 16, 1}));
}

TEST(TensorTest, AllocateChecksLimitAndSize) {
  auto tensor = Tensor::Allocate("a", DataType::kFp32, {2, 3});
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->bytes().size(), 24u);
  EXPECT_EQ(tensor->mutable_bytes().size(), 24u);
  EXPECT_EQ(tensor->element_count(), 6);
  auto too_big = Tensor::Allocate("a", DataType::kFp32, {1024, 1024}, 1000);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(Tensor::Allocate("a", DataType::kFp32, {-3}).ok());
}

TEST(TensorTest, BorrowKeepsOwnerAlive) {
  auto owner = std::make_shared<std::string>("abcdefgh");
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(owner->data()), 8);
  Tensor tensor = Tensor::Borrow("b", DataType::kUint8, {8}, bytes, owner);
  std::weak_ptr<std::string> watch = owner;
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(std::memcmp(tensor.bytes().data(), "abcdefgh", 8), 0);
  EXPECT_TRUE(tensor.mutable_bytes().empty());
}

ModelSignature AddSignature() {
  ModelSignature signature;
  signature.inputs = {{"a", DataType::kFp32, {-1, 2}}, {"b", DataType::kFp32, {-1, 2}}};
  signature.outputs = {{"sum", DataType::kFp32, {-1, 2}}};
  return signature;
}

InferenceRequest AddRequest() {
  InferenceRequest request;
  request.inputs.push_back(*Tensor::Allocate("a", DataType::kFp32, {1, 2}));
  request.inputs.push_back(*Tensor::Allocate("b", DataType::kFp32, {1, 2}));
  return request;
}

TEST(ValidateRequestTest, AcceptsMatchingRequest) { EXPECT_TRUE(ValidateRequest(AddSignature(), AddRequest()).ok()); }

TEST(ValidateRequestTest, RejectsEachMismatch) {
  ModelSignature signature = AddSignature();
  InferenceRequest missing = AddRequest();
  missing.inputs.pop_back();
  EXPECT_NE(ValidateRequest(signature, missing).message().find("missing input 'b'"), std::string::npos);

  InferenceRequest twice = AddRequest();
  twice.inputs[1].set_name("a");
  EXPECT_NE(ValidateRequest(signature, twice).message().find("more than once"), std::string::npos);

  InferenceRequest wrong_type = AddRequest();
  wrong_type.inputs[0] = *Tensor::Allocate("a", DataType::kInt32, {1, 2});
  EXPECT_NE(ValidateRequest(signature, wrong_type).message().find("type INT32"), std::string::npos);

  InferenceRequest wrong_shape = AddRequest();
  wrong_shape.inputs[0] = *Tensor::Allocate("a", DataType::kFp32, {1, 3});
  EXPECT_NE(ValidateRequest(signature, wrong_shape).message().find("shape [1,3]"), std::string::npos);

  InferenceRequest short_payload = AddRequest();
  auto owner = std::make_shared<std::string>(4, '\0');
  short_payload.inputs[0] = Tensor::Borrow("a", DataType::kFp32, {1, 2},
                                           {reinterpret_cast<const std::byte*>(owner->data()), owner->size()}, owner);
  EXPECT_EQ(ValidateRequest(signature, short_payload).code(), StatusCode::kInvalidArgument);

  InferenceRequest bad_output = AddRequest();
  bad_output.outputs = {"nope"};
  EXPECT_NE(ValidateRequest(signature, bad_output).message().find("unknown output 'nope'"), std::string::npos);

  InferenceRequest dup_output = AddRequest();
  dup_output.outputs = {"sum", "sum"};
  EXPECT_EQ(ValidateRequest(signature, dup_output).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace serval

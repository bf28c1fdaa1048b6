#include "api/kserve/kserve_classification.h"

#include <cstring>

#include <gtest/gtest.h>

namespace serval {
namespace {

Tensor Floats(Shape shape, const std::vector<float>& values) {
  StatusOr<Tensor> tensor = Tensor::Allocate("OUT", DataType::kFp32, std::move(shape));
  EXPECT_TRUE(tensor.ok());
  std::memcpy(tensor->mutable_bytes().data(), values.data(), values.size() * sizeof(float));
  return std::move(tensor).value();
}

TEST(ClassifyTopNTest, BatchedRowsAreClassifiedEachWithLabels) {
  const std::vector<std::string> labels = {"cat", "dog", "bird"};
  StatusOr<Tensor> top = ClassifyTopN(Floats({2, 3}, {0.1f, 0.7f, 0.2f, 0.5f, 0.25f, 0.25f}), 2, true, &labels);
  ASSERT_TRUE(top.ok()) << top.status().message();
  EXPECT_EQ(top->shape(), (Shape{2, 2}));
  EXPECT_EQ(top->strings(),
            (std::vector<std::string>{"0.700000:1:dog", "0.200000:2:bird", "0.500000:0:cat", "0.250000:1:dog"}));
}

TEST(ClassifyTopNTest, UnbatchedWithoutLabelsAndCountPastTheClasses) {
  StatusOr<Tensor> top = ClassifyTopN(Floats({3}, {1.0f, 3.0f, 2.0f}), 5, false, nullptr);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->shape(), (Shape{3}));
  EXPECT_EQ(top->strings(), (std::vector<std::string>{"3.000000:1", "2.000000:2", "1.000000:0"}));
}

TEST(ClassifyTopNTest, IntegersAndShortLabelFiles) {
  StatusOr<Tensor> ints = Tensor::Allocate("OUT", DataType::kInt32, {3});
  ASSERT_TRUE(ints.ok());
  const int32_t values[] = {4, -1, 9};
  std::memcpy(ints->mutable_bytes().data(), values, sizeof(values));
  const std::vector<std::string> labels = {"a"};
  StatusOr<Tensor> top = ClassifyTopN(*ints, 3, false, &labels);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->strings(), (std::vector<std::string>{"9:2", "4:0:a", "-1:1"}));
}

TEST(ClassifyTopNTest, RefusesWhatCannotBeClassified) {
  EXPECT_FALSE(ClassifyTopN(Floats({3}, {1, 2, 3}), 0, false, nullptr).ok());
  EXPECT_FALSE(ClassifyTopN(Tensor::FromStrings("s", {1}, {"x"}), 1, false, nullptr).ok());
  EXPECT_FALSE(ClassifyTopN(Floats({}, {1}), 1, true, nullptr).ok());
}

}  // namespace
}  // namespace serval

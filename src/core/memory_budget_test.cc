#include "core/memory_budget.h"

#include <thread>

#include <gtest/gtest.h>

#include "core/tensor.h"

namespace serval {
namespace {

TEST(MemoryBudgetTest, ChargesAreFreeOutsideAScope) {
  MemoryBudget budget(100, 10);
  MemoryBudget::SetGlobal(&budget);
  EXPECT_TRUE(ChargeRequestMemory(1000, "x").ok());
  EXPECT_EQ(budget.in_use(), 0u);
  MemoryBudget::SetGlobal(nullptr);
}

TEST(MemoryBudgetTest, PerRequestCapAndRelease) {
  MemoryBudget budget(1000, 100);
  {
    RequestMemoryScope scope(&budget);
    EXPECT_TRUE(ChargeRequestMemory(60, "a").ok());
    EXPECT_TRUE(ChargeRequestMemory(40, "b").ok());
    Status over = ChargeRequestMemory(1, "input 'c'");
    EXPECT_EQ(over.code(), StatusCode::kResourceExhausted);
    EXPECT_NE(over.message().find("input 'c'"), std::string::npos);
    EXPECT_EQ(scope.charged(), 100u);
    EXPECT_EQ(budget.in_use(), 100u);
    EXPECT_EQ(budget.refused_per_request(), 1u);
  }
  EXPECT_EQ(budget.in_use(), 0u);  // everything returns when the request ends
}

TEST(MemoryBudgetTest, SharedBudgetAcrossRequests) {
  MemoryBudget budget(150, 100);
  RequestMemoryScope first(&budget);
  ASSERT_TRUE(first.Charge(100, "first").ok());
  std::thread other([&] {
    RequestMemoryScope second(&budget);
    EXPECT_TRUE(ChargeRequestMemory(50, "fits").ok());
    Status refused = ChargeRequestMemory(1, "second");
    EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
    EXPECT_TRUE(refused.server_busy());  // the budget, not this request, is full
    EXPECT_EQ(second.charged(), 50u);
  });
  other.join();
  EXPECT_EQ(budget.in_use(), 100u);
  EXPECT_EQ(budget.refused_total(), 1u);
}

TEST(MemoryBudgetTest, ScopesNestAndRestore) {
  MemoryBudget budget(0, 10);  // no process-wide bound, a per-request cap
  RequestMemoryScope outer(&budget);
  {
    RequestMemoryScope inner(&budget);
    EXPECT_TRUE(ChargeRequestMemory(10, "inner").ok());
    EXPECT_FALSE(ChargeRequestMemory(1, "inner").ok());
  }
  EXPECT_TRUE(ChargeRequestMemory(10, "outer").ok());
  EXPECT_EQ(outer.charged(), 10u);
  EXPECT_EQ(budget.in_use(), 10u);
}

TEST(MemoryBudgetTest, PerRequestCapIsClampedToTheTotal) {
  MemoryBudget budget(100, 0);
  EXPECT_EQ(budget.per_request_bytes(), 100u);
  EXPECT_GT(MemoryBudget::DefaultTotalBytes(), 0u);
}

TEST(MemoryBudgetTest, DecodedBytesIsChecked) {
  EXPECT_EQ(*DecodedBytes(10, 4), 40u);
  EXPECT_EQ(*DecodedBytes(3, 0, kStringElementOverhead, 7), 3 * kStringElementOverhead + 7);
  EXPECT_EQ(DecodedBytes(uint64_t{1} << 62, 8).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(DecodedBytes(1, SIZE_MAX, 1).status().code(), StatusCode::kResourceExhausted);
}

TEST(MemoryBudgetTest, TensorAllocateChargesBeforeAllocating) {
  MemoryBudget budget(1 << 20, 1 << 10);
  RequestMemoryScope scope(&budget);
  EXPECT_TRUE(Tensor::Allocate("small", DataType::kFp32, Shape{16}).ok());
  EXPECT_EQ(scope.charged(), 64u);
  // 4 MiB of floats: over the 1 KiB cap, refused by the charge before the buffer exists.
  StatusOr<Tensor> huge = Tensor::Allocate("huge", DataType::kFp32, Shape{1 << 20});
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(scope.charged(), 64u);
}

}  // namespace
}  // namespace serval

#include "core/inline_run.h"

#include <chrono>
#include <optional>

#include <gtest/gtest.h>

namespace serval {
namespace {

using std::chrono::microseconds;

constexpr InlinePolicy kOn{.max_run_micros = 200, .max_body_bytes = 1024, .max_concurrent = 1};

TEST(DecideInlineTest, ShortUnbatchedSmallCallRunsInline) {
  EXPECT_EQ(DecideInline(kOn, 100, false, 50), InlineVerdict::kInline);
  EXPECT_EQ(DecideInline(kOn, 1024, false, 200), InlineVerdict::kInline);  // both limits inclusive
}

TEST(DecideInlineTest, ThresholdZeroOrNoSlotsIsOff) {
  InlinePolicy off = kOn;
  off.max_run_micros = 0;
  EXPECT_EQ(DecideInline(off, 10, false, 0), InlineVerdict::kOff);
  off = kOn;
  off.max_concurrent = 0;
  EXPECT_EQ(DecideInline(off, 10, false, 0), InlineVerdict::kOff);
}

TEST(DecideInlineTest, SlowModelIsHandedOff) { EXPECT_EQ(DecideInline(kOn, 10, false, 201), InlineVerdict::kTooSlow); }

TEST(DecideInlineTest, UnknownRunTimeIsHandedOff) {
  EXPECT_EQ(DecideInline(kOn, 10, false, std::nullopt), InlineVerdict::kRunTimeUnknown);
}

TEST(DecideInlineTest, BatchedModelIsHandedOffHoweverFast) {
  EXPECT_EQ(DecideInline(kOn, 10, true, 1), InlineVerdict::kBatched);
}

TEST(DecideInlineTest, LargeBodyIsHandedOff) {
  EXPECT_EQ(DecideInline(kOn, 1025, false, 1), InlineVerdict::kBodyTooLarge);
}

TEST(RunTimeEstimateTest, UnknownUntilEnoughRunsThenMovingAverage) {
  RunTimeEstimate estimate;
  EXPECT_FALSE(estimate.micros().has_value());
  estimate.Record(microseconds(100));
  estimate.Record(microseconds(100));
  EXPECT_FALSE(estimate.micros().has_value());
  estimate.Record(microseconds(100));
  ASSERT_TRUE(estimate.micros().has_value());
  EXPECT_EQ(*estimate.micros(), 100);
  // One slow run moves the average 1/8 of the way; a run of steady fast ones brings it back down.
  estimate.Record(microseconds(900));
  EXPECT_EQ(*estimate.micros(), 200);
  for (int i = 0; i < 40; ++i) estimate.Record(microseconds(100));
  EXPECT_LE(*estimate.micros(), 101);
}

TEST(InlineAttemptTest, CapLimitsConcurrentInlineRunsAndSlotsReturn) {
  InlineGate gate(kOn);
  {
    InlineAttempt first(gate, 10);
    EXPECT_EQ(InlineAttempt::Current(), &first);
    EXPECT_TRUE(first.Admit(false, 10));
    EXPECT_TRUE(first.Admit(false, 10));  // a later run of the same call repeats the answer
    EXPECT_EQ(gate.slots_in_use(), 1);
    // Another thread's attempt at the same time (simulated by the gate alone): no slot left.
    EXPECT_FALSE(gate.TryTakeSlot());
  }
  EXPECT_EQ(InlineAttempt::Current(), nullptr);
  EXPECT_EQ(gate.slots_in_use(), 0);
  EXPECT_EQ(gate.inlined(), 1u);

  ASSERT_TRUE(gate.TryTakeSlot());  // another thread runs inline now
  {
    InlineAttempt second(gate, 10);
    EXPECT_FALSE(second.Admit(false, 10));
    EXPECT_TRUE(second.deferred());
    EXPECT_EQ(second.verdict(), InlineVerdict::kNoSlot);
  }
  gate.ReleaseSlot();
  EXPECT_EQ(gate.slots_in_use(), 0);
  EXPECT_EQ(gate.deferred(), 1u);
}

TEST(InlineAttemptTest, RefusedAttemptTakesNoSlot) {
  InlineGate gate(kOn);
  {
    InlineAttempt attempt(gate, 10);
    EXPECT_FALSE(attempt.Admit(false, std::nullopt));
    EXPECT_TRUE(attempt.deferred());
    EXPECT_EQ(attempt.verdict(), InlineVerdict::kRunTimeUnknown);
    EXPECT_EQ(gate.slots_in_use(), 0);
  }
  InlineAttempt undecided(gate, 10);
  EXPECT_FALSE(undecided.deferred());  // nothing asked (no model ran): answered where it is
}

TEST(InlineGateTest, MayTryChecksOnlyTheCheapParts) {
  InlineGate gate(kOn);
  EXPECT_TRUE(gate.MayTry(1024));
  EXPECT_FALSE(gate.MayTry(1025));
  InlineGate off({.max_run_micros = 0, .max_body_bytes = 1024, .max_concurrent = 1});
  EXPECT_FALSE(off.MayTry(1));
}

}  // namespace
}  // namespace serval

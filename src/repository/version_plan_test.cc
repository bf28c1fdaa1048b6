#include "repository/version_plan.h"

#include <gtest/gtest.h>

namespace serval {
namespace {

FileObservation Files(int64_t size, int64_t mtime = 1) { return FileObservation{size, mtime, "/m/x", "onnx"}; }

VersionPolicy Latest(uint32_t n) {
  VersionPolicy policy;
  policy.kind = VersionPolicy::Kind::kLatest;
  policy.latest_count = n;
  return policy;
}

TEST(PlanCandidatesTest, FirstSyncTakesEverythingPresent) {
  CandidatePlan plan = PlanCandidates({{1, Files(10)}, {2, Files(20)}}, {}, {}, /*first_sync=*/true);
  EXPECT_EQ(plan.candidates, (std::set<int64_t>{1, 2}));
  EXPECT_TRUE(plan.next_pending.empty());
  EXPECT_TRUE(plan.newly_seen.empty());
}

TEST(PlanCandidatesTest, LaterVersionWaitsForASecondUnchangedLook) {
  std::map<int64_t, KnownVersion> known{{1, {VersionState::kAvailable, false, Files(10)}}};
  CandidatePlan first = PlanCandidates({{1, Files(10)}, {2, Files(20)}}, known, {}, false);
  EXPECT_EQ(first.candidates, (std::set<int64_t>{1}));
  EXPECT_EQ(first.next_pending.count(2), 1u);
  EXPECT_EQ(first.newly_seen, (std::set<int64_t>{2}));

  // Still being copied: its size changed, so it waits again.
  CandidatePlan growing = PlanCandidates({{1, Files(10)}, {2, Files(25)}}, known, first.next_pending, false);
  EXPECT_EQ(growing.candidates, (std::set<int64_t>{1}));

  CandidatePlan stable = PlanCandidates({{1, Files(10)}, {2, Files(25)}}, known, growing.next_pending, false);
  EXPECT_EQ(stable.candidates, (std::set<int64_t>{1, 2}));
  EXPECT_TRUE(stable.next_pending.empty());
}

TEST(PlanCandidatesTest, FailedVersionIsRetriedOnlyWhenItsFilesChange) {
  std::map<int64_t, KnownVersion> known{{3, {VersionState::kEnd, true, Files(30)}}};
  EXPECT_TRUE(PlanCandidates({{3, Files(30)}}, known, {}, true).candidates.empty());
  CandidatePlan changed = PlanCandidates({{3, Files(31)}}, known, {}, false);
  EXPECT_TRUE(changed.candidates.empty());
  EXPECT_EQ(changed.next_pending.count(3), 1u);
  EXPECT_TRUE(changed.newly_seen.empty());  // already known: stays listed as END until it loads
  EXPECT_EQ(PlanCandidates({{3, Files(31)}}, known, changed.next_pending, false).candidates, (std::set<int64_t>{3}));
}

TEST(ApplyVersionPolicyTest, LatestAllSpecific) {
  const std::set<int64_t> present{1, 2, 5, 9};
  EXPECT_EQ(ApplyVersionPolicy(Latest(1), present), (std::set<int64_t>{9}));
  EXPECT_EQ(ApplyVersionPolicy(Latest(2), present), (std::set<int64_t>{5, 9}));
  EXPECT_EQ(ApplyVersionPolicy(Latest(10), present), present);
  VersionPolicy all;
  all.kind = VersionPolicy::Kind::kAll;
  EXPECT_EQ(ApplyVersionPolicy(all, present), present);
  VersionPolicy specific;
  specific.kind = VersionPolicy::Kind::kSpecific;
  specific.specific = {2, 3, 9};
  EXPECT_EQ(ApplyVersionPolicy(specific, present), (std::set<int64_t>{2, 9}));
  EXPECT_TRUE(ApplyVersionPolicy(Latest(1), {}).empty());
}

TEST(PlanVersionsTest, LoadsTheNewUnloadsTheOld) {
  std::map<int64_t, KnownVersion> known{{1, {VersionState::kAvailable, false, Files(10)}},
                                        {2, {VersionState::kStart, false, {}}}};
  VersionPlan plan = PlanVersions(Latest(1), {1, 2}, known);
  EXPECT_EQ(plan.aspired, (std::set<int64_t>{2}));
  EXPECT_EQ(plan.load, (std::vector<int64_t>{2}));
  EXPECT_EQ(plan.unload, (std::vector<int64_t>{1}));
}

TEST(PlanVersionsTest, NothingToDoWhenTheAspiredAreAvailable) {
  std::map<int64_t, KnownVersion> known{{4, {VersionState::kAvailable, false, Files(10)}}};
  VersionPlan plan = PlanVersions(Latest(1), {4}, known);
  EXPECT_TRUE(plan.load.empty());
  EXPECT_TRUE(plan.unload.empty());
}

TEST(PlanVersionsTest, AVersionThatIsGoneUnloads) {
  std::map<int64_t, KnownVersion> known{{4, {VersionState::kAvailable, false, Files(10)}}};
  VersionPlan plan = PlanVersions(Latest(1), {}, known);
  EXPECT_TRUE(plan.load.empty());
  EXPECT_EQ(plan.unload, (std::vector<int64_t>{4}));
}

}  // namespace
}  // namespace serval

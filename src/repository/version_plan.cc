#include "repository/version_plan.h"

namespace serval {

CandidatePlan PlanCandidates(const std::map<int64_t, FileObservation>& present,
                             const std::map<int64_t, KnownVersion>& known,
                             const std::map<int64_t, FileObservation>& pending, bool first_sync) {
  CandidatePlan plan;
  for (const auto& [version, observation] : present) {
    auto it = known.find(version);
    if (it != known.end() && it->second.state == VersionState::kAvailable) {
      plan.candidates.insert(version);
      continue;
    }
    const bool failed_same_files = it != known.end() && it->second.failed && it->second.state == VersionState::kEnd &&
                                   it->second.loaded_from == observation;
    if (failed_same_files) continue;
    auto seen = pending.find(version);
    if (first_sync || (seen != pending.end() && seen->second == observation)) {
      plan.candidates.insert(version);
    } else {
      plan.next_pending[version] = observation;
      if (it == known.end()) plan.newly_seen.insert(version);
    }
  }
  return plan;
}

std::set<int64_t> ApplyVersionPolicy(const VersionPolicy& policy, const std::set<int64_t>& candidates) {
  std::set<int64_t> aspired;
  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      aspired = candidates;
      break;
    case VersionPolicy::Kind::kLatest: {
      uint32_t taken = 0;
      for (auto it = candidates.rbegin(); it != candidates.rend() && taken < policy.latest_count; ++it, ++taken) {
        aspired.insert(*it);
      }
      break;
    }
    case VersionPolicy::Kind::kSpecific:
      for (int64_t version : policy.specific) {
        if (candidates.count(version) != 0) aspired.insert(version);
      }
      break;
  }
  return aspired;
}

VersionPlan PlanVersions(const VersionPolicy& policy, const std::set<int64_t>& candidates,
                         const std::map<int64_t, KnownVersion>& known) {
  VersionPlan plan;
  plan.aspired = ApplyVersionPolicy(policy, candidates);
  for (int64_t version : plan.aspired) {
    auto it = known.find(version);
    if (it == known.end() || it->second.state != VersionState::kAvailable) plan.load.push_back(version);
  }
  for (const auto& [version, state] : known) {
    if (state.state == VersionState::kAvailable && plan.aspired.count(version) == 0) plan.unload.push_back(version);
  }
  return plan;
}

}  // namespace serval

// The planning step of a model sync, pure: from what the source observed, the version policy and the
// versions the manager already knows, what may load, what to load and what to unload. No file system, no
// locks, no engine: ModelManager applies the plan (load, drain, commit).
//
// Pickup rule: after a model's first sync, a version is a candidate only once its files were seen unchanged on
// two consecutive looks (a copy in progress must never load). An AVAILABLE version stays a candidate while it
// is present. A version whose load failed is not a candidate again until its files change.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "core/model_status.h"
#include "repository/file_system_source.h"
#include "repository/model_config.h"

namespace serval {

// What the manager knows of one version.
struct KnownVersion {
  VersionState state = VersionState::kStart;
  bool failed = false;          // its last load failed (state END with an error)
  FileObservation loaded_from;  // the files as they were when its load was tried
};

struct CandidatePlan {
  std::set<int64_t> candidates;                     // may be loaded now
  std::map<int64_t, FileObservation> next_pending;  // seen once; a candidate if unchanged next time
  std::set<int64_t> newly_seen;                     // pending versions the manager does not know yet (START)
};

// `present`: what the source sees now; `known`: the manager's versions; `pending`: last look's waiting
// versions; `first_sync`: the model's first look (no two-look wait).
CandidatePlan PlanCandidates(const std::map<int64_t, FileObservation>& present,
                             const std::map<int64_t, KnownVersion>& known,
                             const std::map<int64_t, FileObservation>& pending, bool first_sync);

// The versions `policy` wants among `candidates`: latest N, all, or the listed ones that are present.
std::set<int64_t> ApplyVersionPolicy(const VersionPolicy& policy, const std::set<int64_t>& candidates);

struct VersionPlan {
  std::set<int64_t> aspired;    // what the policy wants
  std::vector<int64_t> load;    // aspired and not AVAILABLE, ascending
  std::vector<int64_t> unload;  // AVAILABLE and not aspired, ascending
};

// What to load and unload so that exactly `policy`'s pick of `candidates` is AVAILABLE.
VersionPlan PlanVersions(const VersionPolicy& policy, const std::set<int64_t>& candidates,
                         const std::map<int64_t, KnownVersion>& known);

}  // namespace serval

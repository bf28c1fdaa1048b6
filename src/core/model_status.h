// The life-cycle state of one model version, as every status API reports it (TF Serving's
// ModelVersionStatus.State numbers).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace serval {

enum class VersionState : int {
  kUnknown = 0,
  kStart = 10,
  kLoading = 20,
  kAvailable = 30,
  kUnloading = 40,
  kEnd = 50,
};

// "START", "LOADING", "AVAILABLE", "UNLOADING", "END", "UNKNOWN".
std::string_view VersionStateName(VersionState state);

struct VersionStatus {
  int64_t version = 0;
  VersionState state = VersionState::kUnknown;
  Status status;  // OK, or why the version ended (e.g. a load failure naming the file)
};

}  // namespace serval

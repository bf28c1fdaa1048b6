// Which versions of a model to serve (TF Serving's ServableVersionPolicy, Triton's ModelVersionPolicy).
#pragma once

#include <cstdint>
#include <vector>

namespace serval {

struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  uint32_t latest_count = 1;      // kLatest: serve the N highest versions
  std::vector<int64_t> specific;  // kSpecific: exactly these versions
  bool operator==(const VersionPolicy&) const = default;
};

}  // namespace serval

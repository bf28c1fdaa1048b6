// The per-transport halves of targets.cc: each file makes the targets of its kinds. Internal to serval-bench.
#pragma once

#include <memory>
#include <string>

#include "targets.h"

namespace serval::bench {

// tfs-rest, kserve-rest, kserve-rest-binary, http-get. REQUIRES: MakeTarget's checks passed.
StatusOr<std::unique_ptr<Target>> MakeRestTarget(TargetConfig config);
// tfs-grpc, kserve-grpc, grpc-echo. REQUIRES: MakeTarget's checks passed.
StatusOr<std::unique_ptr<Target>> MakeGrpcTarget(TargetConfig config);
// inprocess. REQUIRES: MakeTarget's checks passed.
StatusOr<std::unique_ptr<Target>> MakeInProcessTarget(TargetConfig config);

}  // namespace serval::bench

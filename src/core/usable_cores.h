// The number of cores this process may run on: sched_getaffinity (a container or `taskset` may allow fewer
// than the machine has; sizing thread pools past those only adds context switches), at least 1.
#pragma once

namespace serval {

int UsableCores();

}  // namespace serval

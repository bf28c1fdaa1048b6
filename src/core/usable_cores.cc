#include "core/usable_cores.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace serval {

int UsableCores() {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int allowed = CPU_COUNT(&set);
    if (allowed > 0 && (cores <= 0 || allowed < cores)) cores = allowed;
  }
  return std::max(cores, 1);
}

}  // namespace serval

#include "core/run_context.h"

#include <string>

namespace serval {

Status CancelStatus(CancelReason reason, std::string_view message) {
  switch (reason) {
    case CancelReason::kDeadline:
      return DeadlineExceeded(std::string(message));
    case CancelReason::kClientGone:
      return Cancelled(std::string(message));
    case CancelReason::kNone:
      break;
  }
  return Status::Ok();
}

}  // namespace serval

#include "core/status.h"

#include <array>

namespace serval {
namespace {

struct CodeRow {
  std::string_view name;
  int tfs_http;
  int kserve_http;
};

// One table for every wire mapping, indexed by StatusCode (gRPC uses the code itself).
constexpr std::array<CodeRow, 17> kCodeTable{{
    {"OK", 200, 200},
    {"CANCELLED", 499, 400},
    {"UNKNOWN", 500, 500},
    {"INVALID_ARGUMENT", 400, 400},
    {"DEADLINE_EXCEEDED", 504, 504},
    {"NOT_FOUND", 404, 404},
    {"ALREADY_EXISTS", 409, 409},
    {"PERMISSION_DENIED", 403, 403},
    {"RESOURCE_EXHAUSTED", 429, 429},
    {"FAILED_PRECONDITION", 400, 400},
    {"ABORTED", 409, 409},
    {"OUT_OF_RANGE", 400, 400},
    {"UNIMPLEMENTED", 501, 501},
    {"INTERNAL", 500, 500},
    {"UNAVAILABLE", 503, 503},
    {"DATA_LOSS", 500, 500},
    {"UNAUTHENTICATED", 401, 401},
}};

const CodeRow& RowFor(StatusCode code) {
  auto index = static_cast<size_t>(code);
  return index < kCodeTable.size() ? kCodeTable[index] : kCodeTable[static_cast<size_t>(StatusCode::kUnknown)];
}

}  // namespace

std::string_view StatusCodeName(StatusCode code) { return RowFor(code).name; }
int TfServingHttpStatus(StatusCode code) { return RowFor(code).tfs_http; }
int KServeHttpStatus(StatusCode code) { return RowFor(code).kserve_http; }

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::Prefixed(std::string_view prefix) const {
  Status out(code_, std::string(prefix) + message_);
  out.server_busy_ = server_busy_;
  return out;
}

Status Status::ServerBusy(std::string message) {
  Status out(StatusCode::kResourceExhausted, std::move(message));
  out.server_busy_ = true;
  return out;
}

}  // namespace serval

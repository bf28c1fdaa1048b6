// Status: the error value every layer returns. Codes mirror absl/gRPC codes so one table maps each code
// to gRPC (identity), to TF Serving's HTTP status and to KServe v2's HTTP status. Errors are values:
// no layer throws across its boundary.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace serval {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Upper-case name as TF Serving prints it in JSON ("INVALID_ARGUMENT"); "OK" for kOk.
std::string_view StatusCodeName(StatusCode code);
// HTTP status for the TF Serving REST API (tensorflow_serving/model_servers/http_server.cc mapping).
int TfServingHttpStatus(StatusCode code);
// HTTP status for the KServe v2 REST API (Triton's mapping, plus 504/403/401/429 where they apply).
int KServeHttpStatus(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;
  // The same status with `prefix` before its message (what it says of the server stays).
  Status Prefixed(std::string_view prefix) const;

  // A RESOURCE_EXHAUSTED that passes as other requests finish (the server-wide request memory, not this
  // request's own size): REST answers it 503 with Retry-After rather than 429; gRPC RESOURCE_EXHAUSTED.
  static Status ServerBusy(std::string message);
  bool server_busy() const { return server_busy_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  bool server_busy_ = false;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
inline Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
inline Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
inline Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
inline Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
inline Status Unauthenticated(std::string msg) { return {StatusCode::kUnauthenticated, std::move(msg)}; }
inline Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }

// StatusOr<T>: either a value or a non-OK Status. REQUIRES: ok() before value().
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT: implicit by design
  StatusOr(T value) : value_(std::move(value)) {}                                  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace serval

// Propagates a non-OK Status from an expression to the caller.
#define SERVAL_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::serval::Status serval_status_ = (expr);        \
    if (!serval_status_.ok()) return serval_status_; \
  } while (false)

// Evaluates `rexpr` (a StatusOr<T>); returns its Status from the enclosing function when it is not OK, else
// moves its value into `lhs` (a declaration such as `auto x` or an existing lvalue):
//   SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, models.Acquire(name, version));
// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration, which parentheses would break.
#define SERVAL_STATUS_CONCAT_INNER_(a, b) a##b
#define SERVAL_STATUS_CONCAT_(a, b) SERVAL_STATUS_CONCAT_INNER_(a, b)
#define SERVAL_ASSIGN_OR_RETURN(lhs, rexpr) \
  SERVAL_ASSIGN_OR_RETURN_IMPL_(SERVAL_STATUS_CONCAT_(serval_statusor_, __LINE__), lhs, rexpr)
#define SERVAL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

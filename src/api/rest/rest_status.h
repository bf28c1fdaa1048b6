// RestStatus and the one edge where a REST handler's outcome becomes an HTTP status: TF Serving's mapping
// on /v1, KServe's on /v2 (core/status.h), the protocol's error body, and WWW-Authenticate for a missing
// bearer token. Handlers return values; nothing else writes an error response.
#pragma once

#include <string>
#include <utility>

#include <chrono>

#include "api/http/http_message.h"
#include "api/serving/serving_frontend.h"
#include "core/status.h"

namespace serval {

enum class RestProtocol { kTfServing, kKServe };

// What a REST handler returns: OK (it filled the response), or why not. `http_status` is 0 when the
// protocol's table decides; it is set only for the refusals HTTP itself names (405, 415), which no
// StatusCode expresses.
struct RestStatus {
  RestStatus(Status s) : status(std::move(s)) {}  // NOLINT: implicit, so that handlers return a Status
  RestStatus(int http, Status s) : status(std::move(s)), http_status(http) {}
  static RestStatus Ok() { return Status::Ok(); }
  bool ok() const { return status.ok(); }

  Status status;
  int http_status = 0;
};

// The HTTP status `outcome` is answered with under `protocol`.
int HttpStatusOf(RestProtocol protocol, const RestStatus& outcome);
// Writes the error response for a failed `outcome`: status, JSON content type, the protocol's error body.
// REQUIRES: !outcome.ok().
void WriteRestError(RestProtocol protocol, const RestStatus& outcome, HttpResponse& response);

// The deadline (--rest_api_timeout_in_ms from now; 0 = none; by the frontend's deadline rule) and the
// client-gone probe (the connection closed) of an inference arriving now on `request`.
CallContext RestCallContext(const HttpRequest& request, std::chrono::milliseconds timeout);

}  // namespace serval

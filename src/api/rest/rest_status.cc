#include "api/rest/rest_status.h"

#include "api/kserve/kserve_rest_codec.h"
#include "api/tfs/tfs_rest_codec.h"

namespace serval {

int HttpStatusOf(RestProtocol protocol, const RestStatus& outcome) {
  if (outcome.ok()) return 200;
  if (outcome.http_status != 0) return outcome.http_status;
  if (outcome.status.server_busy()) return 503;  // both protocols: busy now, not too large
  return protocol == RestProtocol::kTfServing ? TfServingHttpStatus(outcome.status.code())
                                              : KServeHttpStatus(outcome.status.code());
}

void WriteRestError(RestProtocol protocol, const RestStatus& outcome, HttpResponse& response) {
  response.status = HttpStatusOf(protocol, outcome);
  response.content_type = "application/json";
  response.body =
      protocol == RestProtocol::kTfServing ? EncodeTfsError(outcome.status) : EncodeKServeError(outcome.status);
  if (protocol == RestProtocol::kKServe && outcome.status.code() == StatusCode::kUnauthenticated) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  if (outcome.status.server_busy()) response.headers.emplace_back("Retry-After", "1");
}

CallContext RestCallContext(const HttpRequest& request, std::chrono::milliseconds timeout) {
  return CallContext{timeout.count() > 0 ? DeadlineFromRemaining(timeout) : kNoDeadline, request.peer_gone};
}

}  // namespace serval

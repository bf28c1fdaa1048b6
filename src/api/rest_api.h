// RestApi: the REST endpoints of both protocols on one port — TF Serving (/v1/...) and KServe v2
// (/v2/...). It routes a request, acquires the model version from the ModelManager, decodes with the
// protocol's codec, runs, and encodes. Inference runs on the calling (HTTP I/O) thread: no hand-off.
// Thread-safe: Handle may be called from every I/O thread at once.
#pragma once

#include <atomic>
#include <string>

#include "api/http/http_message.h"
#include "repository/model_manager.h"

namespace serval {

struct RestApiOptions {
  std::string server_version;   // reported by GET /v2
  std::string runtime_version;  // ONNX Runtime version, reported by GET /v2
};

class RestApi {
 public:
  RestApi(const ModelManager& models, RestApiOptions options);
  void Handle(HttpRequest& request, HttpResponse& response) const;

 private:
  void HandleTfs(HttpRequest& request, HttpResponse& response) const;
  void HandleKServe(HttpRequest& request, HttpResponse& response) const;

  const ModelManager& models_;
  const RestApiOptions options_;
};

}  // namespace serval

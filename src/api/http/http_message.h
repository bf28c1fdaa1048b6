// HTTP request and response as the REST endpoints see them, independent of the HTTP library.
// The server fills an HttpRequest after it has enforced the body cap and inflated a gzip body (also
// capped); a handler fills an HttpResponse. `body` is shared so that tensors decoded from it may borrow
// its bytes without a copy for as long as they live.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace serval {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded path without the query, e.g. "/v1/models/add:predict"
  std::string query;   // raw query string without '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::shared_ptr<const std::string> body = std::make_shared<const std::string>();
  // True once the client has closed its connection (or it failed). Valid only during the handler call. A
  // client that only half-closed its sending side after the request is not gone (it still reads the answer).
  std::function<bool()> peer_gone;

  // Value of the first header named `lower_case_name`, or empty.
  std::string_view Header(std::string_view lower_case_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_case_name) return value;
    }
    return {};
  }
  bool HasHeader(std::string_view lower_case_name) const {
    for (const auto& header : headers) {
      if (header.first == lower_case_name) return true;
    }
    return false;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
};

}  // namespace serval

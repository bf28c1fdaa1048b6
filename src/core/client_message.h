// ClientMessage: the text of an error as a client may see it. Error statuses are built where the problem is
// found and often name what the server knows (a model's absolute path, an ONNX Runtime source location, a
// name the client sent, however long); the client needs what went wrong, not where files live. Every
// protocol layer passes a message through this before it leaves the process; the server log keeps the full
// text.
//   * an absolute file path (a token that starts with '/' and has more than one component, other than an
//     API route such as /v1/..., /v2/..., /metrics) becomes ".../" + its last two components;
//   * a source location ("/.../graph/model.cc:180") is dropped;
//   * any run of more than kMaxClientTokenBytes bytes without a space (an echoed name or value) is cut
//     there and marked "...", and the whole text to kMaxClientMessageBytes; cuts never split UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace serval {

inline constexpr size_t kMaxClientTokenBytes = 256;
inline constexpr size_t kMaxClientMessageBytes = 4096;

std::string ClientMessage(std::string_view message);

// 'name' for an error message, cut to kMaxClientTokenBytes and marked "..." (names come from clients).
inline std::string QuotedName(std::string_view name) {
  if (name.size() > kMaxClientTokenBytes) return "'" + std::string(name.substr(0, kMaxClientTokenBytes)) + "...'";
  return "'" + std::string(name) + "'";
}

}  // namespace serval

#include "core/client_message.h"

#include <algorithm>
#include <array>

namespace serval {
namespace {

bool StartsToken(char c) {
  return c == ' ' || c == '\'' || c == '"' || c == '(' || c == '=' || c == ':' || c == ',' || c == '[' || c == '\t' ||
         c == '\n';
}
bool EndsPath(char c) {
  return c == ' ' || c == '\'' || c == '"' || c == ')' || c == ',' || c == ';' || c == ']' || c == '\t' || c == '\n';
}

// Routes and paths clients send themselves: echoing them reveals nothing about the server's files.
bool IsApiPath(std::string_view path) {
  static constexpr std::array<std::string_view, 5> kPrefixes = {"/v1/", "/v2/", "/v2", "/metrics", "/monitoring/"};
  for (std::string_view prefix : kPrefixes) {
    if (path.starts_with(prefix) && (prefix.back() == '/' || path.size() == prefix.size() ||
                                     path[prefix.size()] == '/' || path[prefix.size()] == ':')) {
      return true;
    }
  }
  return false;
}

// "x.cc:123", "x.h:45" at the end of a path: where in a library's source an error was raised.
bool IsSourceLocation(std::string_view path) {
  const size_t colon = path.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == path.size()) return false;
  if (!std::all_of(path.begin() + static_cast<std::ptrdiff_t>(colon) + 1, path.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const std::string_view file = path.substr(0, colon);
  for (std::string_view ext : {".cc", ".cpp", ".c", ".h", ".hpp", ".cu"}) {
    if (file.ends_with(ext)) return true;
  }
  return false;
}

// Cuts `text` to at most `max` bytes on a UTF-8 boundary.
std::string_view CutUtf8(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return text.substr(0, cut);
}

}  // namespace

std::string ClientMessage(std::string_view message) {
  std::string out;
  out.reserve(std::min(message.size(), kMaxClientMessageBytes + 3));
  size_t i = 0;
  while (i < message.size()) {
    const char c = message[i];
    if (c == '/' && (i == 0 || StartsToken(message[i - 1]))) {
      size_t end = i;
      while (end < message.size() && !EndsPath(message[end])) ++end;
      std::string_view path = message.substr(i, end - i);
      if (std::count(path.begin(), path.end(), '/') >= 2 && !IsApiPath(path)) {
        if (!IsSourceLocation(path)) {
          size_t last = path.find_last_of('/');
          size_t second = last == 0 ? std::string_view::npos : path.find_last_of('/', last - 1);
          out += "...";
          out.append(path.substr(second == std::string_view::npos ? last : second));
        }
        i = end;
        continue;
      }
    }
    if (c == ' ' || c == '\t' || c == '\n') {
      out.push_back(c);
      ++i;
      continue;
    }
    // A run without spaces: copy at most kMaxClientTokenBytes of it.
    size_t end = i;
    while (end < message.size() && message[end] != ' ' && message[end] != '\t' && message[end] != '\n' &&
           !(end > i && message[end] == '/' && StartsToken(message[end - 1]))) {
      ++end;
    }
    std::string_view run = message.substr(i, end - i);
    std::string_view kept = CutUtf8(run, kMaxClientTokenBytes);
    out.append(kept);
    if (kept.size() < run.size()) out += "...";
    i = end;
  }
  if (out.size() > kMaxClientMessageBytes) {
    out.resize(CutUtf8(out, kMaxClientMessageBytes).size());
    out += "...";
  }
  return out;
}

}  // namespace serval

// RestRouter: a table of (method, path pattern) → handler, matched segment by segment. Patterns are
// '/'-separated; a segment is a literal ("models"), a capture ("{model}") or a capture with a verb suffix
// ("{model}:predict", TF Serving's custom methods). A capture matches one non-empty segment with no ':' in
// it; a verb capture matches "<capture>:<verb>" (split at the last ':'). Routes are tried in the order
// added. Header-only; immutable once built, so Find is safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace serval {

// The captures of one matched route, by name. Names view the router's patterns and values the path.
class RouteParams {
 public:
  // The captured segment, or empty when the route has no such capture.
  std::string_view Get(std::string_view name) const {
    for (const auto& [key, value] : values_) {
      if (key == name) return value;
    }
    return {};
  }
  bool Has(std::string_view name) const {
    for (const auto& entry : values_) {
      if (entry.first == name) return true;
    }
    return false;
  }
  void Add(std::string_view name, std::string_view value) { values_.emplace_back(name, value); }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> values_;
};

// Splits "a/b/c" into segments; empty segments are kept so that "a//b" matches no route.
inline std::vector<std::string_view> SplitPathSegments(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

template <typename Handler>
class RestRouter {
 public:
  struct Match {
    const Handler* handler = nullptr;  // null: no route for this method (see path_matched)
    bool path_matched = false;         // some route has this path, for another method (HTTP 405)
    RouteParams params;
  };

  RestRouter& Add(std::string_view method, std::string_view pattern, Handler handler) {
    std::vector<std::string> segments;
    for (std::string_view segment : SplitPathSegments(pattern)) segments.emplace_back(segment);
    routes_.push_back(Route{std::string(method), std::move(segments), std::move(handler)});
    return *this;
  }

  // The route for `method` and `path`; the params view `path`, which must outlive them.
  Match Find(std::string_view method, std::string_view path) const {
    Match match;
    const std::vector<std::string_view> segments = SplitPathSegments(path);
    for (const Route& route : routes_) {
      std::optional<RouteParams> params = MatchPath(route.pattern, segments);
      if (!params) continue;
      if (route.method != method) {
        match.path_matched = true;
        continue;
      }
      match.handler = &route.handler;
      match.params = std::move(*params);
      return match;
    }
    return match;
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> pattern;
    Handler handler;
  };

  static std::optional<RouteParams> MatchPath(const std::vector<std::string>& pattern,
                                              const std::vector<std::string_view>& segments) {
    if (pattern.size() != segments.size()) return std::nullopt;
    RouteParams params;
    for (size_t i = 0; i < pattern.size(); ++i) {
      const std::string_view want = pattern[i];
      const std::string_view have = segments[i];
      if (want.empty() || want.front() != '{') {
        if (want != have) return std::nullopt;
        continue;
      }
      const size_t close = want.find('}');
      const std::string_view name = want.substr(1, close - 1);
      const std::string_view verb = want.substr(close + 1);  // "" or ":predict"
      std::string_view value = have;
      if (verb.empty()) {
        if (value.find(':') != std::string_view::npos) return std::nullopt;
      } else {
        const size_t colon = value.rfind(':');
        if (colon == std::string_view::npos || value.substr(colon) != verb) return std::nullopt;
        value = value.substr(0, colon);
      }
      if (value.empty()) return std::nullopt;
      params.Add(name, value);
    }
    return params;
  }

  std::vector<Route> routes_;
};

}  // namespace serval

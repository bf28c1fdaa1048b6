// RestRouter: a table of (method, path pattern) → handler, matched segment by segment without touching the heap.
// Patterns are
// '/'-separated; a segment is a literal ("models"), a capture ("{model}") or a capture with a verb suffix
// ("{model}:predict", TF Serving's custom methods). A capture matches one non-empty segment with no ':' in
// it; a verb capture matches "<capture>:<verb>" (split at the last ':'). Routes are tried in the order
// added. Header-only; immutable once built, so Find is safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace serval {

// Most captures one route may have, and most segments a path may have to match any route. Both bound the
// fixed storage that lets Find run without touching the heap (it runs once per request).
inline constexpr size_t kMaxRouteCaptures = 4;
inline constexpr size_t kMaxRouteSegments = 16;

// The captures of one matched route, by name. Names view the router's patterns and values the path.
class RouteParams {
 public:
  // The captured segment, or empty when the route has no such capture.
  std::string_view Get(std::string_view name) const {
    for (size_t i = 0; i < size_; ++i) {
      if (values_[i].first == name) return values_[i].second;
    }
    return {};
  }
  bool Has(std::string_view name) const {
    for (size_t i = 0; i < size_; ++i) {
      if (values_[i].first == name) return true;
    }
    return false;
  }
  // REQUIRES: fewer than kMaxRouteCaptures captures so far (RestRouter::Add checks its patterns).
  void Add(std::string_view name, std::string_view value) { values_[size_++] = {name, value}; }

 private:
  std::array<std::pair<std::string_view, std::string_view>, kMaxRouteCaptures> values_{};
  size_t size_ = 0;
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

// The segments of a request path, split as SplitPathSegments does, in fixed storage. A path with more than
// kMaxRouteSegments segments keeps none (size() 0): it matches no route, since no pattern is that long.
class PathSegments {
 public:
  explicit PathSegments(std::string_view path) {
    size_t start = 0;
    while (start <= path.size()) {
      if (size_ == kMaxRouteSegments) {
        size_ = 0;
        return;
      }
      size_t slash = path.find('/', start);
      if (slash == std::string_view::npos) slash = path.size();
      parts_[size_++] = path.substr(start, slash - start);
      start = slash + 1;
    }
  }
  size_t size() const { return size_; }
  std::string_view operator[](size_t i) const { return parts_[i]; }

 private:
  std::array<std::string_view, kMaxRouteSegments> parts_{};
  size_t size_ = 0;
};

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
    size_t captures = 0;
    for (std::string_view segment : SplitPathSegments(pattern)) {
      segments.emplace_back(segment);
      captures += !segment.empty() && segment.front() == '{';
    }
    if (segments.size() > kMaxRouteSegments || captures > kMaxRouteCaptures) {
      throw std::logic_error("route pattern too long for RestRouter: " + std::string(pattern));
    }
    routes_.push_back(Route{std::string(method), std::move(segments), std::move(handler)});
    return *this;
  }

  // The route for `method` and `path`; the params view `path`, which must outlive them.
  Match Find(std::string_view method, std::string_view path) const {
    Match match;
    const PathSegments segments(path);
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

  static std::optional<RouteParams> MatchPath(const std::vector<std::string>& pattern, const PathSegments& segments) {
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

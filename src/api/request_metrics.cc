#include "api/request_metrics.h"

#include <algorithm>
#include <atomic>

#include <spdlog/spdlog.h>

namespace serval {
namespace {

std::atomic<bool> access_log_enabled{false};

}  // namespace

void SetAccessLog(bool enabled) { access_log_enabled = enabled; }

bool AccessLogEnabled() { return access_log_enabled.load(std::memory_order_relaxed); }

std::string EscapeForLog(std::string_view text, size_t max_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const size_t n = std::min(text.size(), max_chars);
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\\' || byte == '"') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (text.size() > n) out += "...";
  return out;
}

void RequestTrace::Finish(StatusCode code) {
  if (api_.empty()) return;
  const std::string_view model = model_.empty() ? metrics::kUnknownModel : std::string_view(model_);
  if (protocol_ == metrics::Protocol::kGrpc && AccessLogEnabled()) {
    spdlog::info("access grpc {} model={} version={} status={} {:.3f} ms", api_, model, model_.empty() ? 0 : version_,
                 StatusCodeName(code), std::chrono::duration<double, std::milli>(elapsed()).count());
  }
  if (metrics_ == nullptr) return;
  metrics_->RecordRequest(model, model_.empty() ? 0 : version_, api_, protocol_, code, elapsed());
  if (code == StatusCode::kDeadlineExceeded) metrics_->RecordCancel(model, metrics::reason::kDeadlineExceeded);
  if (code == StatusCode::kCancelled) metrics_->RecordCancel(model, metrics::reason::kClientDisconnected);
  // Rejects (queue full, shutting down) are counted where they happen: the batcher's observer.
}

}  // namespace serval

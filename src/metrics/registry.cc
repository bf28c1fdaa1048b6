#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>

namespace serval::metrics {
namespace {

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool IsMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// HELP text escaping: backslash and newline (format 0.0.4).
std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Key of a label set: each value prefixed by its 4-byte length, so no two label sets share a key
// whatever bytes the values hold. Built in a per-thread buffer: a lookup of an existing series allocates
// nothing once the buffer has grown.
const std::string& LabelKey(std::span<const std::string_view> values) {
  thread_local std::string key;
  key.clear();
  for (std::string_view value : values) {
    auto size = static_cast<uint32_t>(std::min<size_t>(value.size(), std::numeric_limits<uint32_t>::max()));
    char prefix[4] = {static_cast<char>(size), static_cast<char>(size >> 8), static_cast<char>(size >> 16),
                      static_cast<char>(size >> 24)};
    key.append(prefix, 4);
    key.append(value.data(), size);
  }
  return key;
}

// `{a="x",b="y"` without the closing brace (histogram buckets append `,le=...`); empty when no labels.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += i == 0 ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  return out;
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix, const std::string& labels,
                  std::string_view value) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty()) {
    out->append(labels);
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(value);
  out->push_back('\n');
}

std::string FormatUnsigned(uint64_t value) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

}  // namespace

// --- Series ---------------------------------------------------------------------------------------------

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  size_t index = bounds_.size();  // +Inf, also for NaN
  if (!std::isnan(value)) {
    index = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    sum_.fetch_add(value, std::memory_order_relaxed);
  }
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative[i] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

// --- Formatting -----------------------------------------------------------------------------------------

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  if (std::trunc(value) == value && std::fabs(value) < 9007199254740992.0) {  // 2^53: exact integers
    auto result = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(value));
    return std::string(buf, result.ptr);
  }
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

std::vector<double> ExponentialBuckets(double scale, double growth, int count) {
  std::vector<double> bounds;
  double bound = scale;
  for (int i = 0; i < count; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", bound);
    double rounded = std::strtod(buf, nullptr);
    if (bounds.empty() || rounded > bounds.back()) bounds.push_back(rounded);
    bound *= growth;
  }
  return bounds;
}

// --- Family ---------------------------------------------------------------------------------------------

template <typename Series>
Family<Series>::Family(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
                       size_t max_series, double scale, std::vector<double> bounds)
    : FamilyBase(type, std::move(name), std::move(help), std::move(label_names), max_series, scale),
      bounds_(std::move(bounds)) {}

template <typename Series>
std::unique_ptr<Series> Family<Series>::NewSeries() const {
  if constexpr (std::is_same_v<Series, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<Series>();
  }
}

template <typename Series>
Series* Family<Series>::Overflow() {
  std::call_once(overflow_once_, [this] { overflow_ = NewSeries(); });
  // Release pairs with Render's acquire, which then may read overflow_.
  if (!overflow_used_.load(std::memory_order_relaxed)) overflow_used_.store(true, std::memory_order_release);
  return overflow_.get();
}

template <typename Series>
Series* Family<Series>::WithLabels(std::span<const std::string_view> values) {
  if (values.size() != label_names_.size()) return Overflow();
  const std::string& key = LabelKey(values);
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return it->second.series.get();
    if (series_.size() >= max_series_) return Overflow();
  }
  std::unique_lock lock(mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second.series.get();
  if (series_.size() >= max_series_) {
    lock.unlock();
    return Overflow();
  }
  Entry entry{std::vector<std::string>(values.begin(), values.end()), NewSeries()};
  Series* series = entry.series.get();
  series_.emplace(key, std::move(entry));
  return series;
}

template <typename Series>
size_t Family<Series>::series_count() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

template <typename Series>
void Family<Series>::Render(std::string* out) const {
  // Copy pointers only under the lock; entries never move or die while the family lives.
  std::vector<std::pair<const std::vector<std::string>*, const Series*>> rows;
  {
    std::shared_lock lock(mu_);
    rows.reserve(series_.size());
    for (const auto& [key, entry] : series_) rows.emplace_back(&entry.values, entry.series.get());
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::vector<std::string> overflow_values(label_names_.size(), std::string(kOverflowLabelValue));
  if (overflow_used_.load(std::memory_order_acquire)) rows.emplace_back(&overflow_values, overflow_.get());

  out->append("# HELP ").append(name_).append(" ").append(EscapeHelp(help_)).append("\n");
  out->append("# TYPE ").append(name_).append(" ").append(TypeName(type_)).append("\n");
  for (const auto& [values, series] : rows) {
    if (series == nullptr) continue;
    std::string labels = LabelText(label_names_, *values);
    if constexpr (std::is_same_v<Series, Counter>) {
      uint64_t value = series->Value();
      AppendSample(out, name_, "", labels,
                   scale_ == 1.0 ? FormatUnsigned(value) : FormatValue(static_cast<double>(value) * scale_));
    } else if constexpr (std::is_same_v<Series, Gauge>) {
      AppendSample(out, name_, "", labels, FormatValue(series->Value()));
    } else {
      Histogram::Snapshot snapshot = series->Read();
      std::string bucket_prefix = labels.empty() ? std::string("{le=\"") : labels + ",le=\"";
      for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
        std::string bucket_labels = bucket_prefix;
        bucket_labels += i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
        bucket_labels += '"';
        AppendSample(out, name_, "_bucket", bucket_labels, FormatUnsigned(snapshot.cumulative[i]));
      }
      AppendSample(out, name_, "_sum", labels, FormatValue(snapshot.sum));
      AppendSample(out, name_, "_count", labels, FormatUnsigned(snapshot.count));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry -------------------------------------------------------------------------------------------

Status MetricsRegistry::CheckNewFamily(const std::string& name, const std::vector<std::string>& label_names,
                                       size_t max_series, bool histogram) const {
  if (!IsMetricName(name)) return InvalidArgument("invalid metric name '" + name + "'");
  if (max_series == 0) return InvalidArgument("metric '" + name + "': max_series must be at least 1");
  std::set<std::string_view> seen;
  for (const std::string& label : label_names) {
    if (!IsLabelName(label)) return InvalidArgument("metric '" + name + "': invalid label name '" + label + "'");
    if (histogram && label == "le") return InvalidArgument("metric '" + name + "': a histogram cannot have label 'le'");
    if (!seen.insert(label).second) return InvalidArgument("metric '" + name + "': label '" + label + "' repeated");
  }
  for (const auto& family : families_) {
    if (family->name() == name) return InvalidArgument("metric '" + name + "' is already registered");
  }
  return Status::Ok();
}

StatusOr<CounterFamily*> MetricsRegistry::AddCounter(std::string name, std::string help,
                                                     std::vector<std::string> label_names, size_t max_series,
                                                     double scale) {
  std::lock_guard lock(families_mu_);
  SERVAL_RETURN_IF_ERROR(CheckNewFamily(name, label_names, max_series, false));
  if (!(scale > 0) || std::isinf(scale)) return InvalidArgument("metric '" + name + "': scale must be positive");
  auto* family = new CounterFamily(MetricType::kCounter, std::move(name), std::move(help), std::move(label_names),
                                   max_series, scale, {});
  families_.emplace_back(family);
  return family;
}

StatusOr<GaugeFamily*> MetricsRegistry::AddGauge(std::string name, std::string help,
                                                 std::vector<std::string> label_names, size_t max_series) {
  std::lock_guard lock(families_mu_);
  SERVAL_RETURN_IF_ERROR(CheckNewFamily(name, label_names, max_series, false));
  auto* family = new GaugeFamily(MetricType::kGauge, std::move(name), std::move(help), std::move(label_names),
                                 max_series, 1.0, {});
  families_.emplace_back(family);
  return family;
}

StatusOr<HistogramFamily*> MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                         std::vector<std::string> label_names,
                                                         std::vector<double> bounds, size_t max_series) {
  std::lock_guard lock(families_mu_);
  SERVAL_RETURN_IF_ERROR(CheckNewFamily(name, label_names, max_series, true));
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      return InvalidArgument("metric '" + name + "': bucket bounds must be finite and strictly increasing");
    }
  }
  auto* family = new HistogramFamily(MetricType::kHistogram, std::move(name), std::move(help), std::move(label_names),
                                     max_series, 1.0, std::move(bounds));
  families_.emplace_back(family);
  return family;
}

MetricsRegistry::ScrapeCallbackId MetricsRegistry::AddScrapeCallback(std::function<void()> callback) {
  std::lock_guard lock(scrape_mu_);
  ScrapeCallbackId id = next_callback_id_++;
  scrape_callbacks_.emplace(id, std::move(callback));
  return id;
}

void MetricsRegistry::RemoveScrapeCallback(ScrapeCallbackId id) {
  std::lock_guard lock(scrape_mu_);
  scrape_callbacks_.erase(id);
}

std::string MetricsRegistry::RenderPrometheus() const {
  {
    std::lock_guard lock(scrape_mu_);
    for (const auto& [id, callback] : scrape_callbacks_) callback();
  }
  std::vector<const FamilyBase*> families;
  {
    std::lock_guard lock(families_mu_);
    families.reserve(families_.size());
    for (const auto& family : families_) families.push_back(family.get());
  }
  std::string out;
  for (const FamilyBase* family : families) family->Render(&out);
  return out;
}

}  // namespace serval::metrics

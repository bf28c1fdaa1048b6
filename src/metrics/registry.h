// MetricsRegistry: counters, gauges and histograms grouped in named families with label sets, rendered as
// Prometheus text exposition format 0.0.4.
//
// Thread safety: every class here may be used from many threads at once. Recording into a series is one
// or two relaxed atomic operations. Finding a series by its label values is a hash lookup under a shared
// lock; hot paths may instead look a series up once and keep the pointer: a series lives as long as its
// registry and never moves.
//
// Cardinality is bounded: a family holds at most `max_series` label sets. Once it is full, every new label
// set maps to one overflow series whose label values are all "__overflow__", so hostile label values (say
// 10,000 bogus model names) add at most one series and a bounded amount of memory.
//
// Rendering copies the list of series under the family's shared lock (recorders that only look up an
// existing series are not blocked at all; creating a new series waits for that copy), then reads the atomics
// and formats text with no lock held. A histogram read while it is being updated may be off by the
// in-flight observations, but its buckets, _count and +Inf always agree (the count is the sum of buckets).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace serval::metrics {

// Label value of the series that absorbs label sets beyond a family's cap.
inline constexpr std::string_view kOverflowLabelValue = "__overflow__";

// A monotonically increasing count. Rendered as value × the family's scale (e.g. ticks → seconds).
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // For a counter that mirrors another component's own monotonic count at scrape time. Do not mix with
  // Increment on the same series.
  void Set(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A distribution over fixed bucket upper bounds (inclusive, as Prometheus' `le`) plus +Inf.
class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing and finite, outliving this histogram (the family owns them).
  explicit Histogram(const std::vector<double>& bounds);

  // NaN is counted in the +Inf bucket and left out of the sum.
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf; non-decreasing
    double sum = 0;
    uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// Type-independent part of a family: name, help, label names. Created only by MetricsRegistry.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Label sets held, not counting the overflow series.
  virtual size_t series_count() const = 0;
  // True once a label set was refused for the cap (or had the wrong number of values).
  bool overflowed() const { return overflow_used_.load(std::memory_order_relaxed); }

  // Appends # HELP, # TYPE and one line per sample (series sorted by label values) to `out`.
  virtual void Render(std::string* out) const = 0;

 protected:
  FamilyBase(MetricType type, std::string name, std::string help, std::vector<std::string> label_names,
             size_t max_series, double scale)
      : type_(type),
        name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        max_series_(max_series),
        scale_(scale) {}

  const MetricType type_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const size_t max_series_;
  const double scale_;
  std::atomic<bool> overflow_used_{false};
};

// A family of series of one type (Counter, Gauge or Histogram; instantiated for those three only).
template <typename Series>
class Family final : public FamilyBase {
 public:
  // The series for these label values: one per label name, in order. Never null: the overflow series when
  // the family is full or the number of values is wrong.
  Series* WithLabels(std::span<const std::string_view> values);
  Series* WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  size_t series_count() const override;
  void Render(std::string* out) const override;

 private:
  friend class MetricsRegistry;
  Family(MetricType type, std::string name, std::string help, std::vector<std::string> label_names, size_t max_series,
         double scale, std::vector<double> bounds);
  std::unique_ptr<Series> NewSeries() const;
  Series* Overflow();

  struct Entry {
    std::vector<std::string> values;
    std::unique_ptr<Series> series;
  };

  const std::vector<double> bounds_;  // histograms only
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> series_;  // key: length-prefixed label values
  std::once_flag overflow_once_;
  std::unique_ptr<Series> overflow_;  // created on first use
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Bucket bounds scale × growth^i for i in [0, count), as TensorFlow's monitoring::Buckets::Exponential,
// each rounded to 6 significant digits (so `le` prints as TF Serving prints it).
std::vector<double> ExponentialBuckets(double scale, double growth, int count);

// Prometheus label value escaping: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);
// A sample value as Prometheus reads it: integers without a fraction, "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

class MetricsRegistry {
 public:
  static constexpr size_t kDefaultMaxSeries = 1000;

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family. Fails with INVALID_ARGUMENT on a name outside [a-zA-Z_:][a-zA-Z0-9_:]*, a label
  // name outside [a-zA-Z_][a-zA-Z0-9_]* or starting with "__" or repeated, a taken family name, a zero cap,
  // or (histograms) a label named "le" or bounds that are not strictly increasing and finite.
  // The returned pointer lives as long as the registry. `scale` multiplies counter values when rendered.
  StatusOr<CounterFamily*> AddCounter(std::string name, std::string help, std::vector<std::string> label_names,
                                      size_t max_series = kDefaultMaxSeries, double scale = 1.0);
  StatusOr<GaugeFamily*> AddGauge(std::string name, std::string help, std::vector<std::string> label_names,
                                  size_t max_series = kDefaultMaxSeries);
  StatusOr<HistogramFamily*> AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                          std::vector<double> bounds, size_t max_series = kDefaultMaxSeries);

  // A callback run at the start of every RenderPrometheus, to set gauges and mirrored counters from state
  // other components own (queue depths, engine run counts, process stats). Callbacks run one at a time, on
  // the scraping thread, in registration order.
  using ScrapeCallbackId = uint64_t;
  ScrapeCallbackId AddScrapeCallback(std::function<void()> callback);
  // After this returns the callback is not running and never runs again. REQUIRES: not called from inside
  // a scrape callback, and the caller holds no lock that a callback takes.
  void RemoveScrapeCallback(ScrapeCallbackId id);

  // Runs the scrape callbacks, then renders every family in registration order.
  std::string RenderPrometheus() const;

 private:
  Status CheckNewFamily(const std::string& name, const std::vector<std::string>& label_names, size_t max_series,
                        bool histogram) const;

  mutable std::mutex families_mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;

  mutable std::mutex scrape_mu_;  // held while callbacks run
  std::map<ScrapeCallbackId, std::function<void()>> scrape_callbacks_;
  ScrapeCallbackId next_callback_id_ = 1;
};

// Content type of RenderPrometheus' output.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace serval::metrics

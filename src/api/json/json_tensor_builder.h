// JsonTensorBuilder: turns the JSON value of one tensor (a scalar or nested lists) into a core Tensor, with
// no intermediate DOM: each number is converted once, straight to the element type, into the tensor's
// byte buffer (or into a growable scratch buffer that the tensor takes over when the shape is not known up
// front). Long numeric lists take a fast path instead of one reader event per number (ScanArrayBody): under
// ParseJsonFast it reads them from simdjson's cursor with typed getters (ScanSimdBody; anything it does not
// convert exactly asks for the RapidJSON fallback), under ParseJson it lexes the array text (ScanBody).
//
// Shape:
//   * kInfer (TF Serving): the shape comes from the nesting; lists must be rectangular and every scalar at
//     the same depth, else INVALID_ARGUMENT ("ragged"). In `rows` mode each value fed is one row of an
//     implicit outer list (TF Serving row format with several inputs), so shape = [rows] + row shape.
//   * kCount (KServe): nesting is ignored (flat or nested data both allowed); Finish checks that the number
//     of elements equals the declared shape's element count.
// Type: numbers are range-checked for the element type (see json_number.h); BOOL takes true/false; STRING
// takes JSON strings, and {"b64": "..."} objects when `accept_b64` (decoded strictly). A builder created
// with DataType::kInvalid keeps the elements as text until Finish learns the type (KServe allows "data"
// before "datatype"); that path is slower but equivalent.
// Every error is INVALID_ARGUMENT (RESOURCE_EXHAUSTED past the byte limit) and names the tensor by `label`.
//
// JsonValueRouter: the JsonHandler base of the protocol decoders. It hands whole values to a builder (or
// skips them) and tells the decoder when the value ended, so protocol code sees only its own structure.
// Neither class is thread-safe; each lives for one decode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "api/json/codec_limits.h"
#include "api/json/json_reader.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

class JsonTensorBuilder {
 public:
  enum class Shaping { kInfer, kCount };
  struct Options {
    Shaping shaping = Shaping::kInfer;
    bool rows = false;
    bool accept_b64 = false;
  };

  // `label` names the tensor in errors, e.g. "input 'images'".
  JsonTensorBuilder(std::string label, DataType dtype, Options options, const CodecLimits& limits);
  // Not noexcept: boost's small_vector moves its inline elements one by one (it cannot throw for int64_t).
  JsonTensorBuilder(JsonTensorBuilder&&) = default;  // NOLINT(bugprone-exception-escape)
  JsonTensorBuilder& operator=(JsonTensorBuilder&&) = default;

  DataType dtype() const { return dtype_; }
  const Status& error() const { return error_; }
  // Rows fed so far (rows mode).
  int64_t rows() const { return counts_.empty() ? 0 : counts_[0]; }
  // kCount with a known numeric type: the shape the data must fill. The fast path then writes straight
  // into a tensor of that shape, allocated only once the JSON text left is long enough to hold that many
  // elements (else the decode fails before allocating).
  void ExpectShape(Shape shape) {
    expected_shape_ = std::move(shape);
    has_expected_shape_ = true;
  }

  // Sizes the scratch buffer for `elements` elements up front (a hint; no effect for STRING or an unknown
  // type). The caller bounds the hint by what the request text can hold.
  void ReserveElements(size_t elements);

  // Events of the value, in document order. Each returns false after recording error().
  bool StartArray();
  bool EndArray();
  bool Number(std::string_view text);
  bool String(std::string_view value);
  bool Bool(bool value);
  bool Null();
  bool StartObject();
  bool Key(std::string_view key);
  bool EndObject();

  // True when the fast path applies: a known non-STRING type, outside a {"b64"} object.
  bool CanScan() const;
  // Fast path: right after StartArray() for the array whose '[' the reader just reported, parses that
  // array's contents from `body` and leaves the closing ']' to the reader (which then reports EndArray).
  // `json_depth` is the reader's depth including this array; nested lists count against kMaxJsonDepth.
  bool ScanArrayBody(JsonArrayBody& body, int json_depth);

  // Completes the value and builds the tensor named `name`. `dtype` resolves a builder created with
  // kInvalid (else it must be kInvalid or equal). kCount: `declared` is the shape (required); kInfer: the
  // inferred shape. Call once.
  StatusOr<Tensor> Finish(std::string name, DataType dtype = DataType::kInvalid, const Shape* declared = nullptr);

 private:
  enum class B64State : uint8_t { kNone, kExpectKey, kExpectValue, kExpectEnd };
  enum class RawKind : uint8_t { kNumber, kString, kTrue, kFalse };
  struct RawElement {
    RawKind kind;
    size_t offset;
    size_t length;
  };

  bool Fail(Status status);
  bool FailInvalid(const std::string& message);
  bool AdmitScalar();
  bool FirstScalarAtThisLevel();
  bool Ragged();
  bool OpenList();   // StartArray()
  bool CloseList();  // EndArray()
  bool Grow(size_t bytes);
  bool Use(size_t bytes);
  bool AddString(std::string value);
  bool AddRaw(RawKind kind, std::string_view text);
  bool StoreNumber(std::string_view text);
  bool Preallocate(size_t text_left);
  bool ReplayRaw();
  template <DataType Type>
  bool ScanBody(std::string_view text, int json_depth, size_t* consumed);
  enum class SimdScan : uint8_t { kOk, kFailed, kFallback };
  SimdScan ScanSimd(JsonSimdArray& array, int json_depth);
  template <DataType Type>
  SimdScan ScanSimdBody(JsonSimdArray& array, int json_depth);
  template <DataType Type>
  SimdScan ScanSimdLeaf(JsonSimdArray& array);
  // The scan loops' shared steps: append one converted element (false: the budget refused to grow the
  // buffer), and add a list's scalars to the counts once at its end.
  template <size_t kSize>
  bool AppendScalar(const std::byte* bytes) {
    if (size_ + kSize > capacity_ && !Grow(kSize)) return false;
    std::memcpy(data_ + size_, bytes, kSize);
    size_ += kSize;
    return true;
  }
  SimdScan CountScalars(int64_t scalars) {
    counts_[static_cast<size_t>(level_ - 1)] += scalars;
    element_count_ += scalars;
    return SimdScan::kOk;
  }

  std::string label_;
  DataType dtype_;
  Options options_;
  CodecLimits limits_;
  Status error_;

  // Structure: level_ = open lists (rows mode: the implicit outer list counts); counts_[k] = elements so
  // far in the open list at level k; dims_[k] = the length every list at level k must have (-1: unknown).
  int level_ = 0;
  // Inline up to rank 8: no heap allocation for the usual tensor.
  boost::container::small_vector<int64_t, 8> counts_;
  boost::container::small_vector<int64_t, 8> dims_;
  int leaf_level_ = -1;  // the level scalars live at, once the first one arrived
  int closed_rank_ = 0;  // 1 + the deepest level at which a list closed
  int64_t element_count_ = 0;
  bool saw_value_ = false;
  B64State b64_ = B64State::kNone;

  // Numeric payload: data_[0, size_) within capacity_; either scratch_ or the preallocated tensor.
  size_t element_size_ = 0;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  // Shared so that Finish can hand it to the tensor (Tensor::Borrow) instead of copying it.
  std::shared_ptr<std::byte[]> scratch_;
  Tensor preallocated_;
  bool is_preallocated_ = false;
  Shape expected_shape_;
  bool has_expected_shape_ = false;

  std::vector<std::string> strings_;
  size_t string_bytes_ = 0;

  // Type not known yet: the elements' text.
  std::string raw_text_;
  std::vector<RawElement> raw_;

  // Memory this builder holds (scratch, strings, raw elements) and what it charged to the request for it
  // (in steps, so that small values do not each touch the shared budget).
  size_t memory_used_ = 0;
  size_t memory_charged_ = 0;
};

class JsonValueRouter : public JsonHandler {
 public:
  bool Null() final;
  bool Bool(bool value) final;
  bool Number(std::string_view text) final;
  bool String(std::string_view value) final;
  bool StartObject() final;
  bool Key(std::string_view key) final;
  bool EndObject() final;
  bool StartArray(JsonArrayBody& body) final;
  bool EndArray() final;

 protected:
  // The next value's events go to `builder` (nullptr: they are dropped). REQUIRES: not routing.
  void RouteNextValue(JsonTensorBuilder* builder);
  // From OnStartArray: the array just started is a value for `builder`. Runs the fast path when it can.
  bool RouteThisArray(JsonTensorBuilder* builder, JsonArrayBody& body);
  // The builder has already been given the opening events of `open` lists/objects that are still open;
  // the rest of them go to it.
  void RouteOpenValue(JsonTensorBuilder* builder, int open);
  bool routing() const { return routing_; }

  // Events outside routed values.
  virtual bool OnNull() = 0;
  virtual bool OnBool(bool value) = 0;
  virtual bool OnNumber(std::string_view text) = 0;
  virtual bool OnString(std::string_view value) = 0;
  virtual bool OnStartObject() = 0;
  virtual bool OnKey(std::string_view key) = 0;
  virtual bool OnEndObject() = 0;
  virtual bool OnStartArray(JsonArrayBody& body) = 0;
  virtual bool OnEndArray() = 0;
  // A routed (or dropped) value has ended.
  virtual bool OnRoutedValueEnd() = 0;

  bool FailFrom(const JsonTensorBuilder& builder) { return Fail(builder.error()); }

 private:
  bool AfterRoutedEvent(bool ok);

  bool routing_ = false;
  JsonTensorBuilder* builder_ = nullptr;
  int open_ = 0;
};

}  // namespace serval

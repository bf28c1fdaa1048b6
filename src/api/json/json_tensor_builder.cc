#include "api/json/json_tensor_builder.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "api/json/base64.h"
#include "api/json/json_number.h"
#include "api/json/json_simd.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

constexpr size_t FixedSize(DataType type) {
  switch (type) {
    case DataType::kBool:
    case DataType::kUint8:
    case DataType::kInt8:
      return 1;
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kFp16:
    case DataType::kBf16:
      return 2;
    case DataType::kUint32:
    case DataType::kInt32:
    case DataType::kFp32:
      return 4;
    case DataType::kUint64:
    case DataType::kInt64:
    case DataType::kFp64:
      return 8;
    case DataType::kString:
    case DataType::kInvalid:
      return 0;
  }
  return 0;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// A short excerpt of client text for an error message.
std::string Excerpt(const char* p, const char* end) {
  size_t n = std::min<size_t>(static_cast<size_t>(end - p), 20);
  std::string text(p, n);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return n < static_cast<size_t>(end - p) ? "'" + text + "...'" : "'" + text + "'";
}

std::string TypeName(DataType type) { return std::string(KServeName(type)); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// JsonTensorBuilder

JsonTensorBuilder::JsonTensorBuilder(std::string label, DataType dtype, Options options, const CodecLimits& limits)
    : label_(std::move(label)), dtype_(dtype), options_(options), limits_(limits), element_size_(FixedSize(dtype)) {
  if (options_.rows) {
    // The implicit outer list of rows is open from the start.
    counts_.push_back(0);
    dims_.push_back(-1);
    level_ = 1;
  }
}

bool JsonTensorBuilder::Fail(Status status) {
  if (error_.ok()) error_ = std::move(status);
  return false;
}

bool JsonTensorBuilder::FailInvalid(const std::string& message) {
  return Fail(InvalidArgument(label_ + ": " + message));
}

bool JsonTensorBuilder::Ragged() {
  return FailInvalid(
      "nested lists are ragged (every list at one depth must have the same length, and all "
      "values must be at the same depth)");
}

bool JsonTensorBuilder::FirstScalarAtThisLevel() {
  if (leaf_level_ != -1 || closed_rank_ > level_) return Ragged();
  leaf_level_ = level_;
  return true;
}

inline bool JsonTensorBuilder::AdmitScalar() {
  if (options_.shaping == Shaping::kInfer && leaf_level_ != level_ && !FirstScalarAtThisLevel()) return false;
  if (level_ > 0) {
    ++counts_[static_cast<size_t>(level_ - 1)];
  } else if (saw_value_) {
    return FailInvalid("more than one value");
  }
  saw_value_ = true;
  ++element_count_;
  return true;
}

bool JsonTensorBuilder::StartArray() { return OpenList(); }

bool JsonTensorBuilder::EndArray() { return CloseList(); }

// Inline: the simdjson scan opens and closes one list per few elements of a nested tensor.
[[gnu::always_inline]] inline bool JsonTensorBuilder::OpenList() {
  if (b64_ != B64State::kNone) return FailInvalid("a {\"b64\": ...} object must hold one string");
  if (options_.shaping == Shaping::kInfer && leaf_level_ != -1 && level_ >= leaf_level_) return Ragged();
  if (level_ > 0) {
    ++counts_[static_cast<size_t>(level_ - 1)];
  } else if (saw_value_) {
    return FailInvalid("more than one value");
  }
  saw_value_ = true;
  size_t level = static_cast<size_t>(level_);
  if (counts_.size() <= level) {
    counts_.push_back(0);
    dims_.push_back(-1);
  } else {
    counts_[level] = 0;
  }
  ++level_;
  return true;
}

[[gnu::always_inline]] inline bool JsonTensorBuilder::CloseList() {
  --level_;
  size_t level = static_cast<size_t>(level_);
  if (options_.shaping == Shaping::kInfer) {
    if (dims_[level] == -1) {
      dims_[level] = counts_[level];
    } else if (dims_[level] != counts_[level]) {
      return Ragged();
    }
    closed_rank_ = std::max(closed_rank_, level_ + 1);
  }
  return true;
}

bool JsonTensorBuilder::Grow(size_t bytes) {
  if (is_preallocated_) {
    return FailInvalid("the data has more elements than shape " + ShapeToString(expected_shape_) + " holds");
  }
  size_t needed = size_ + bytes;
  if (needed > limits_.max_tensor_bytes) {
    return Fail(ResourceExhausted(label_ + ": the data exceeds the limit of " +
                                  std::to_string(limits_.max_tensor_bytes) + " bytes per tensor"));
  }
  size_t capacity = std::max({capacity_ * 2, needed, static_cast<size_t>(4096)});
  capacity = std::min(capacity, limits_.max_tensor_bytes);
  if (!Use(capacity)) return false;
  auto buffer = std::make_shared_for_overwrite<std::byte[]>(capacity);
  if (size_ != 0) std::memcpy(buffer.get(), data_, size_);
  scratch_ = std::move(buffer);
  data_ = scratch_.get();
  capacity_ = capacity;
  return true;
}

void JsonTensorBuilder::ReserveElements(size_t elements) {
  if (element_size_ == 0 || is_preallocated_ || elements <= capacity_ / element_size_) return;
  size_t bytes = std::min(elements, limits_.max_tensor_bytes / element_size_) * element_size_;
  if (bytes > capacity_) {
    // Only a hint: when the request cannot have this much, Grow charges (and fails) as the data arrives.
    if (memory_used_ + bytes > memory_charged_) {
      if (!ChargeRequestMemory(memory_used_ + bytes - memory_charged_, label_).ok()) return;
      memory_charged_ = memory_used_ + bytes;
    }
    memory_used_ += bytes;
    auto buffer = std::make_shared_for_overwrite<std::byte[]>(bytes);
    if (size_ != 0) std::memcpy(buffer.get(), data_, size_);
    scratch_ = std::move(buffer);
    data_ = scratch_.get();
    capacity_ = bytes;
  }
}

// Charges `bytes` more to the request before they are allocated, in steps of at least 256 KiB.
bool JsonTensorBuilder::Use(size_t bytes) {
  constexpr size_t kStep = size_t{256} << 10;
  memory_used_ += bytes;
  if (memory_used_ <= memory_charged_) return true;
  const size_t step = std::max(memory_used_ - memory_charged_, kStep);
  Status charged = ChargeRequestMemory(step, label_);
  if (!charged.ok()) return Fail(std::move(charged));
  memory_charged_ += step;
  return true;
}

bool JsonTensorBuilder::AddString(std::string value) {
  if (!Use(value.size() + kStringElementOverhead)) return false;
  string_bytes_ += value.size() + sizeof(std::string);
  if (string_bytes_ > limits_.max_tensor_bytes) {
    return Fail(ResourceExhausted(label_ + ": the data exceeds the limit of " +
                                  std::to_string(limits_.max_tensor_bytes) + " bytes per tensor"));
  }
  strings_.push_back(std::move(value));
  return true;
}

bool JsonTensorBuilder::AddRaw(RawKind kind, std::string_view text) {
  if (!Use(sizeof(RawElement) + text.size())) return false;
  raw_.push_back({kind, raw_text_.size(), text.size()});
  raw_text_.append(text);
  return true;
}

bool JsonTensorBuilder::StoreNumber(std::string_view text) {
  JsonNumber number;
  if (!LexJsonNumberText(text, &number))
    return FailInvalid("malformed number " + Excerpt(text.data(), text.data() + text.size()));
  if (size_ + element_size_ > capacity_ && !Grow(element_size_)) return false;
  NumberError error = StoreJsonNumber(number, dtype_, data_ + size_);
  if (error != NumberError::kOk) return FailInvalid(NumberErrorText(error, text, dtype_));
  size_ += element_size_;
  return true;
}

bool JsonTensorBuilder::Number(std::string_view text) {
  if (b64_ != B64State::kNone) return FailInvalid("a {\"b64\": ...} object must hold one string");
  if (dtype_ == DataType::kString) return FailInvalid("expected a string (the type is BYTES/STRING), got a number");
  if (dtype_ == DataType::kBool) return FailInvalid("expected true or false (the type is BOOL), got a number");
  if (!AdmitScalar()) return false;
  if (dtype_ == DataType::kInvalid) return AddRaw(RawKind::kNumber, text);
  return StoreNumber(text);
}

bool JsonTensorBuilder::String(std::string_view value) {
  if (b64_ == B64State::kExpectValue) {
    std::string decoded;
    if (!Base64Decode(value, &decoded)) return FailInvalid("invalid base64 in a {\"b64\": ...} value");
    b64_ = B64State::kExpectEnd;
    if (!AdmitScalar()) return false;
    return AddString(std::move(decoded));
  }
  if (b64_ != B64State::kNone) return FailInvalid("a {\"b64\": ...} object must hold one string");
  if (dtype_ == DataType::kInvalid) return AdmitScalar() && AddRaw(RawKind::kString, value);
  if (dtype_ != DataType::kString) return FailInvalid("expected a " + TypeName(dtype_) + " value, got a string");
  return AdmitScalar() && AddString(std::string(value));
}

bool JsonTensorBuilder::Bool(bool value) {
  if (b64_ != B64State::kNone) return FailInvalid("a {\"b64\": ...} object must hold one string");
  if (dtype_ == DataType::kInvalid) return AdmitScalar() && AddRaw(value ? RawKind::kTrue : RawKind::kFalse, {});
  if (dtype_ != DataType::kBool) return FailInvalid("expected a " + TypeName(dtype_) + " value, got a boolean");
  if (!AdmitScalar()) return false;
  if (size_ + 1 > capacity_ && !Grow(1)) return false;
  data_[size_++] = std::byte{value ? uint8_t{1} : uint8_t{0}};
  return true;
}

bool JsonTensorBuilder::Null() { return FailInvalid("null is not a tensor value"); }

bool JsonTensorBuilder::StartObject() {
  if (b64_ != B64State::kNone || !options_.accept_b64) {
    return FailInvalid(options_.accept_b64 ? "a {\"b64\": ...} object must hold one string"
                                           : "an object is not a tensor value");
  }
  if (dtype_ != DataType::kString) {
    return FailInvalid("an object is not a " + TypeName(dtype_) + " value ({\"b64\": ...} is only for string inputs)");
  }
  b64_ = B64State::kExpectKey;
  return true;
}

bool JsonTensorBuilder::Key(std::string_view key) {
  if (b64_ != B64State::kExpectKey || key != "b64") {
    return FailInvalid("an object in tensor data must be {\"b64\": \"<base64>\"}");
  }
  b64_ = B64State::kExpectValue;
  return true;
}

bool JsonTensorBuilder::EndObject() {
  if (b64_ != B64State::kExpectEnd) return FailInvalid("an object in tensor data must be {\"b64\": \"<base64>\"}");
  b64_ = B64State::kNone;
  return true;
}

bool JsonTensorBuilder::CanScan() const {
  return b64_ == B64State::kNone && dtype_ != DataType::kInvalid && dtype_ != DataType::kString && error_.ok();
}

bool JsonTensorBuilder::Preallocate(size_t text_left) {
  StatusOr<int64_t> count = ElementCount(expected_shape_, label_);
  if (!count.ok()) return Fail(count.status());
  // Each element takes at least one character and a separator: a shape that the text left cannot fill
  // is rejected before anything is allocated for it.
  const size_t most = text_left / 2 + 1;
  if (static_cast<uint64_t>(*count) > most) {
    return FailInvalid("shape " + ShapeToString(expected_shape_) + " needs " + std::to_string(*count) +
                       " elements but the JSON data can hold at most " + std::to_string(most));
  }
  StatusOr<Tensor> tensor = Tensor::Allocate(label_, dtype_, expected_shape_, limits_.max_tensor_bytes);
  if (!tensor.ok()) return Fail(tensor.status().Prefixed(label_ + ": "));
  preallocated_ = std::move(*tensor);
  is_preallocated_ = true;
  std::span<std::byte> bytes = preallocated_.mutable_bytes();
  if (size_ != 0) std::memcpy(bytes.data(), data_, size_);  // not reached: prealloc happens first
  data_ = bytes.data();
  capacity_ = bytes.size();
  scratch_.reset();
  return true;
}

template <DataType Type>
bool JsonTensorBuilder::ScanBody(std::string_view text, int json_depth, size_t* consumed) {
  constexpr size_t kSize = FixedSize(Type);
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  int open = 1;  // lists open within the scan; the first is the one whose body this is
  bool after_value = false;
  bool after_comma = false;
  for (;;) {
    while (p != end && IsJsonSpace(*p)) ++p;
    if (p == end) return FailInvalid("the JSON text ends inside the tensor data");
    const char c = *p;
    if (after_value) {
      if (c == ',') {
        ++p;
        after_value = false;
        after_comma = true;
        continue;
      }
      if (c != ']') return FailInvalid("expected ',' or ']' in the tensor data at " + Excerpt(p, end));
    } else if (c == '[') {
      if (json_depth + open > kMaxJsonDepth) {
        return Fail(InvalidArgument("JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (in " +
                                    label_ + ")"));
      }
      if (!StartArray()) return false;
      ++open;
      ++p;
      after_comma = false;
      continue;
    } else if (c == ']') {
      if (after_comma) return FailInvalid("expected a value after ',' in the tensor data");
    } else {
      // AdmitScalar(), inlined: inside the scan a list is always open.
      if (options_.shaping == Shaping::kInfer && leaf_level_ != level_ && !FirstScalarAtThisLevel()) return false;
      ++counts_[static_cast<size_t>(level_ - 1)];
      ++element_count_;
      if (size_ + kSize > capacity_ && !Grow(kSize)) return false;
      if constexpr (Type == DataType::kBool) {
        size_t left = static_cast<size_t>(end - p);
        if (left >= 4 && std::memcmp(p, "true", 4) == 0) {
          data_[size_] = std::byte{1};
          p += 4;
        } else if (left >= 5 && std::memcmp(p, "false", 5) == 0) {
          data_[size_] = std::byte{0};
          p += 5;
        } else {
          return FailInvalid("expected true or false (the type is BOOL) at " + Excerpt(p, end));
        }
      } else {
        JsonNumber number;
        const char* next = LexJsonNumber(p, end, &number);
        if (next == nullptr) {
          return FailInvalid("expected a " + TypeName(Type) + " number at " + Excerpt(p, end));
        }
        // Only such numbers can be ones the generic reader refuses; refuse them here too.
        if ((number.exponent > 100 || number.text.size() > 200) && !ReaderAcceptsNumber(number.text)) [[unlikely]] {
          return FailInvalid("number too big to be stored in double: " + Excerpt(p, end));
        }
        NumberError error = StoreJsonNumber<Type>(number, data_ + size_);
        if (error != NumberError::kOk) return FailInvalid(NumberErrorText(error, number.text, Type));
        p = next;
      }
      size_ += kSize;
      after_value = true;
      after_comma = false;
      continue;
    }
    // c == ']' closes a list.
    if (open == 1) {
      *consumed = static_cast<size_t>(p - begin);
      return true;
    }
    if (!EndArray()) return false;
    --open;
    ++p;
    after_value = true;
    after_comma = false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The simdjson fast path (ParseJsonFast). Each element is read with simdjson's typed getters straight into
// the buffer. It takes only what it converts exactly as StoreJsonNumber would from the text; anything else
// (NaN / Infinity, out of range, an integer written "2.0", a zero with an exponent, a wrong-typed or
// malformed element, nesting past kMaxJsonDepth) asks for the fallback, so every error text is the
// RapidJSON path's. Structural errors (ragged lists, more elements than the shape, limits, the memory
// budget) arise here exactly as there: the same bookkeeping runs in the same order.
namespace {

template <typename T>
bool SimdSigned(simdjson::ondemand::value& value, std::byte* out) {
  int64_t v = 0;
  if (value.get_int64().get(v) != simdjson::SUCCESS) return false;
  if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
  const T narrow = static_cast<T>(v);
  std::memcpy(out, &narrow, sizeof narrow);
  return true;
}

template <typename T>
bool SimdUnsigned(simdjson::ondemand::value& value, std::byte* out) {
  if (*value.raw_json_token().data() == '-')
    return false;  // "-0" is the only negative that fits: the general path has it
  uint64_t v = 0;
  if (value.get_uint64().get(v) != simdjson::SUCCESS) return false;
  if (v > std::numeric_limits<T>::max()) return false;
  const T narrow = static_cast<T>(v);
  std::memcpy(out, &narrow, sizeof narrow);
  return true;
}

// A double from simdjson (correctly rounded) that StoreJsonNumber would give for the same token, or false:
// simdjson reads "0e999" as 0 where RapidJSON refuses it, and magnitudes above 1e100 are left to the
// general path (which knows RapidJSON's "too big" rule) — both rare.
[[gnu::always_inline]] inline bool SimdDouble(simdjson::ondemand::value& value, double* out) {
  if (value.get_double().get(*out) != simdjson::SUCCESS) return false;
  if (*out == 0) return !JsonNumberHasExponent(value.raw_json_token().data());
  return std::fabs(*out) <= 1e100;
}

// The rare cases of SimdFloat, out of the hot loop: a zero, the subnormal range, a float midpoint.
[[gnu::noinline]] bool SimdFloatExact(simdjson::ondemand::value& value, double d, float* out) {
  const char* token = value.raw_json_token().data();  // the value's start, also once it has been read
  if (d == 0) {
    *out = static_cast<float>(d);
    return !JsonNumberHasExponent(token);
  }
  if (std::fabs(d) >= 0x1p-126 && (std::bit_cast<uint64_t>(d) & 0x1fffffff) != 0x10000000) {
    *out = static_cast<float>(d);
    return std::isfinite(*out);  // beyond FLT_MAX: out of range (the general path's error)
  }
  const char* end = JsonNumberTokenEnd(token);
  float exact = 0;
  if (fast_float::from_chars(token, end, exact).ptr != end || !std::isfinite(exact)) return false;
  *out = exact;
  return true;
}

// FP32, correctly rounded. The double d = RN53(x) narrows to RN24(x) unless d is exactly halfway between
// two floats (then x may lie on either side, and rounding d to even can be wrong), since every such
// midpoint is itself a double: x and d then lie between the same two midpoints. Halfway doubles and the
// subnormal float range (checked as a whole, it is rare) take fast_float<float> on the token instead.
[[gnu::always_inline]] inline bool SimdFloat(simdjson::ondemand::value& value, float* out) {
  double d = 0;
  if (value.get_double().get(d) != simdjson::SUCCESS) return false;
  const uint64_t bits = std::bit_cast<uint64_t>(d);
  // Biased double exponent in [1023 - 126, 1023 + 127): a normal float's range, below 2^128 (where an
  // overflow to infinity could start). Not a midpoint: the narrowing is exact.
  const uint64_t exponent = (bits >> 52) & 0x7ff;
  if (exponent - (1023 - 126) < 253 && (bits & 0x1fffffff) != 0x10000000) [[likely]] {
    *out = static_cast<float>(d);
    return true;
  }
  return SimdFloatExact(value, d, out);
}

template <DataType Type>
[[gnu::always_inline]] inline bool SimdElement(simdjson::ondemand::value& value, std::byte* out) {
  if constexpr (Type == DataType::kFp32) {
    float v = 0;
    if (!SimdFloat(value, &v)) return false;
    std::memcpy(out, &v, sizeof v);
    return true;
  } else if constexpr (Type == DataType::kFp64) {
    double v = 0;
    if (!SimdDouble(value, &v)) return false;
    std::memcpy(out, &v, sizeof v);
    return true;
  } else if constexpr (Type == DataType::kFp16 || Type == DataType::kBf16) {
    double v = 0;
    if (!SimdDouble(value, &v)) return false;
    const uint16_t bits = Type == DataType::kFp16 ? DoubleToHalfBits(v) : DoubleToBfloat16Bits(v);
    const uint16_t infinity = Type == DataType::kFp16 ? 0x7c00 : 0x7f80;
    if ((bits & 0x7fff) == infinity) return false;  // a finite number that rounds to infinity: out of range
    std::memcpy(out, &bits, sizeof bits);
    return true;
  } else if constexpr (Type == DataType::kBool) {
    bool v = false;
    if (value.get_bool().get(v) != simdjson::SUCCESS) return false;
    *out = std::byte{v ? uint8_t{1} : uint8_t{0}};
    return true;
  } else if constexpr (Type == DataType::kInt8) {
    return SimdSigned<int8_t>(value, out);
  } else if constexpr (Type == DataType::kInt16) {
    return SimdSigned<int16_t>(value, out);
  } else if constexpr (Type == DataType::kInt32) {
    return SimdSigned<int32_t>(value, out);
  } else if constexpr (Type == DataType::kInt64) {
    return SimdSigned<int64_t>(value, out);
  } else if constexpr (Type == DataType::kUint8) {
    return SimdUnsigned<uint8_t>(value, out);
  } else if constexpr (Type == DataType::kUint16) {
    return SimdUnsigned<uint16_t>(value, out);
  } else if constexpr (Type == DataType::kUint32) {
    return SimdUnsigned<uint32_t>(value, out);
  } else {
    static_assert(Type == DataType::kUint64);
    return SimdUnsigned<uint64_t>(value, out);
  }
}

}  // namespace

// Each element is converted first (into `bytes`): a list ('[') is the only non-number the conversion refuses
// that the fast path takes. Converting before the bookkeeping changes no verdict: an element the fast path
// cannot convert goes to the fallback, which reports whatever RapidJSON's order of checks finds first.
template <DataType Type>
JsonTensorBuilder::SimdScan JsonTensorBuilder::ScanSimdBody(JsonSimdArray& array, int json_depth) {
  constexpr size_t kSize = FixedSize(Type);
  int64_t scalars = 0;  // added to counts_ and element_count_ at the end (lists nested here add their own)
  for (auto element : *array.array) {
    simdjson::ondemand::value value;
    if (element.get(value) != simdjson::SUCCESS) return SimdScan::kFallback;
    std::byte bytes[8];
    if (!SimdElement<Type>(value, bytes)) [[unlikely]] {
      if (*value.raw_json_token().data() != '[') return SimdScan::kFallback;
      // Nesting past the cap: the RapidJSON path reports it (with this builder's label).
      if (json_depth >= kMaxJsonDepth) return SimdScan::kFallback;
      simdjson::ondemand::array nested;
      if (value.get_array().get(nested) != simdjson::SUCCESS) return SimdScan::kFallback;
      if (!OpenList()) return SimdScan::kFailed;
      JsonSimdArray inner{&nested};
      // Lists of scalars at the known leaf level (most lists of a nested tensor) take the tight loop.
      const SimdScan scan =
          leaf_level_ == level_ ? ScanSimdLeaf<Type>(inner) : ScanSimdBody<Type>(inner, json_depth + 1);
      if (scan != SimdScan::kOk) return scan;
      if (!CloseList()) return SimdScan::kFailed;
      continue;
    }
    // AdmitScalar(), inlined: inside the scan a list is always open.
    if (options_.shaping == Shaping::kInfer && leaf_level_ != level_ && !FirstScalarAtThisLevel()) {
      return SimdScan::kFailed;
    }
    if (!AppendScalar<kSize>(bytes)) return SimdScan::kFailed;
    ++scalars;
  }
  return CountScalars(scalars);
}

// REQUIRES: kInfer and level_ == leaf_level_ (so every element must be a scalar: a list is ragged, which
// the fallback reports).
template <DataType Type>
inline JsonTensorBuilder::SimdScan JsonTensorBuilder::ScanSimdLeaf(JsonSimdArray& array) {
  constexpr size_t kSize = FixedSize(Type);
  int64_t scalars = 0;
  for (auto element : *array.array) {
    simdjson::ondemand::value value;
    if (element.get(value) != simdjson::SUCCESS) return SimdScan::kFallback;
    std::byte bytes[8];
    if (!SimdElement<Type>(value, bytes)) [[unlikely]] {
      return SimdScan::kFallback;
    }
    if (!AppendScalar<kSize>(bytes)) return SimdScan::kFailed;
    ++scalars;
  }
  return CountScalars(scalars);
}

JsonTensorBuilder::SimdScan JsonTensorBuilder::ScanSimd(JsonSimdArray& array, int json_depth) {
  switch (dtype_) {
    case DataType::kBool:
      return ScanSimdBody<DataType::kBool>(array, json_depth);
    case DataType::kUint8:
      return ScanSimdBody<DataType::kUint8>(array, json_depth);
    case DataType::kUint16:
      return ScanSimdBody<DataType::kUint16>(array, json_depth);
    case DataType::kUint32:
      return ScanSimdBody<DataType::kUint32>(array, json_depth);
    case DataType::kUint64:
      return ScanSimdBody<DataType::kUint64>(array, json_depth);
    case DataType::kInt8:
      return ScanSimdBody<DataType::kInt8>(array, json_depth);
    case DataType::kInt16:
      return ScanSimdBody<DataType::kInt16>(array, json_depth);
    case DataType::kInt32:
      return ScanSimdBody<DataType::kInt32>(array, json_depth);
    case DataType::kInt64:
      return ScanSimdBody<DataType::kInt64>(array, json_depth);
    case DataType::kFp16:
      return ScanSimdBody<DataType::kFp16>(array, json_depth);
    case DataType::kBf16:
      return ScanSimdBody<DataType::kBf16>(array, json_depth);
    case DataType::kFp32:
      return ScanSimdBody<DataType::kFp32>(array, json_depth);
    case DataType::kFp64:
      return ScanSimdBody<DataType::kFp64>(array, json_depth);
    case DataType::kString:
    case DataType::kInvalid:
      break;
  }
  return SimdScan::kFallback;
}

bool JsonTensorBuilder::ScanArrayBody(JsonArrayBody& body, int json_depth) {
  if (!body.available() || !CanScan()) return true;  // the reader delivers the events instead
  if (has_expected_shape_ && !is_preallocated_ && size_ == 0 && level_ == 1 && !Preallocate(body.text().size())) {
    return false;
  }
  if (body.simd() != nullptr) {
    switch (ScanSimd(*body.simd(), json_depth)) {
      case SimdScan::kOk:
        body.ConsumedAll();
        return true;
      case SimdScan::kFailed:
        return false;
      case SimdScan::kFallback:
        body.RequestFallback();
        return false;
    }
  }
  size_t consumed = 0;
  bool ok = false;
  switch (dtype_) {
    case DataType::kBool:
      ok = ScanBody<DataType::kBool>(body.text(), json_depth, &consumed);
      break;
    case DataType::kUint8:
      ok = ScanBody<DataType::kUint8>(body.text(), json_depth, &consumed);
      break;
    case DataType::kUint16:
      ok = ScanBody<DataType::kUint16>(body.text(), json_depth, &consumed);
      break;
    case DataType::kUint32:
      ok = ScanBody<DataType::kUint32>(body.text(), json_depth, &consumed);
      break;
    case DataType::kUint64:
      ok = ScanBody<DataType::kUint64>(body.text(), json_depth, &consumed);
      break;
    case DataType::kInt8:
      ok = ScanBody<DataType::kInt8>(body.text(), json_depth, &consumed);
      break;
    case DataType::kInt16:
      ok = ScanBody<DataType::kInt16>(body.text(), json_depth, &consumed);
      break;
    case DataType::kInt32:
      ok = ScanBody<DataType::kInt32>(body.text(), json_depth, &consumed);
      break;
    case DataType::kInt64:
      ok = ScanBody<DataType::kInt64>(body.text(), json_depth, &consumed);
      break;
    case DataType::kFp16:
      ok = ScanBody<DataType::kFp16>(body.text(), json_depth, &consumed);
      break;
    case DataType::kBf16:
      ok = ScanBody<DataType::kBf16>(body.text(), json_depth, &consumed);
      break;
    case DataType::kFp32:
      ok = ScanBody<DataType::kFp32>(body.text(), json_depth, &consumed);
      break;
    case DataType::kFp64:
      ok = ScanBody<DataType::kFp64>(body.text(), json_depth, &consumed);
      break;
    case DataType::kString:
    case DataType::kInvalid:
      return true;
  }
  if (ok) body.Consume(consumed);
  return ok;
}

bool JsonTensorBuilder::ReplayRaw() {
  element_size_ = FixedSize(dtype_);
  std::vector<RawElement> raw = std::move(raw_);
  std::string text = std::move(raw_text_);
  for (const RawElement& element : raw) {
    std::string_view value(text.data() + element.offset, element.length);
    switch (element.kind) {
      case RawKind::kNumber:
        if (dtype_ == DataType::kString) return FailInvalid("expected a string (the type is BYTES), got a number");
        if (dtype_ == DataType::kBool) return FailInvalid("expected true or false (the type is BOOL), got a number");
        if (!StoreNumber(value)) return false;
        break;
      case RawKind::kString:
        if (dtype_ != DataType::kString) return FailInvalid("expected a " + TypeName(dtype_) + " value, got a string");
        if (!AddString(std::string(value))) return false;
        break;
      case RawKind::kTrue:
      case RawKind::kFalse:
        if (dtype_ != DataType::kBool) return FailInvalid("expected a " + TypeName(dtype_) + " value, got a boolean");
        if (size_ + 1 > capacity_ && !Grow(1)) return false;
        data_[size_++] = std::byte{element.kind == RawKind::kTrue ? uint8_t{1} : uint8_t{0}};
        break;
    }
  }
  return true;
}

StatusOr<Tensor> JsonTensorBuilder::Finish(std::string name, DataType dtype, const Shape* declared) {
  if (!error_.ok()) return error_;
  if (b64_ != B64State::kNone || level_ != (options_.rows ? 1 : 0)) return Internal(label_ + ": incomplete value");
  if (options_.rows && !EndArray()) return error_;
  if (!saw_value_ && !options_.rows) return InvalidArgument(label_ + ": no value");

  if (dtype_ == DataType::kInvalid) {
    if (dtype == DataType::kInvalid) return Internal(label_ + ": element type unknown");
    dtype_ = dtype;
    if (!ReplayRaw()) return error_;
  } else if (dtype != DataType::kInvalid && dtype != dtype_) {
    return Internal(label_ + ": element type changed while decoding");
  }

  Shape shape;
  if (options_.shaping == Shaping::kInfer) {
    const int rank = leaf_level_ != -1 ? leaf_level_ : closed_rank_;
    shape.assign(dims_.begin(), dims_.begin() + rank);
  } else {
    if (declared == nullptr) return Internal(label_ + ": no declared shape");
    if (is_preallocated_ && *declared == preallocated_.shape() && element_count_ == preallocated_.element_count()) {
      preallocated_.set_name(std::move(name));  // the usual KServe input: no shape copy
      return std::move(preallocated_);
    }
    shape = *declared;
  }
  SERVAL_ASSIGN_OR_RETURN(int64_t count, ElementCount(shape, name));
  if (count != element_count_) {
    return InvalidArgument(label_ + ": the data has " + std::to_string(element_count_) + " elements but shape " +
                           ShapeToString(shape) + " needs " + std::to_string(count));
  }
  if (dtype_ == DataType::kString) return Tensor::FromStrings(std::move(name), std::move(shape), std::move(strings_));
  if (is_preallocated_ && shape == preallocated_.shape()) {
    preallocated_.set_name(std::move(name));
    return std::move(preallocated_);
  }
  if (scratch_ != nullptr && static_cast<size_t>(count) * element_size_ == size_) {
    // The scratch buffer (charged to the request as it grew) becomes the tensor's: no copy.
    return Tensor::Borrow(std::move(name), dtype_, std::move(shape), {data_, size_}, std::move(scratch_));
  }
  SERVAL_ASSIGN_OR_RETURN(Tensor tensor,
                          Tensor::Allocate(std::move(name), dtype_, std::move(shape), limits_.max_tensor_bytes));
  std::span<std::byte> bytes = tensor.mutable_bytes();
  if (bytes.size() != size_) return Internal(label_ + ": decoded byte count does not match the shape");
  if (size_ != 0) std::memcpy(bytes.data(), data_, size_);
  return tensor;
}

// ---------------------------------------------------------------------------------------------------------
// JsonValueRouter

void JsonValueRouter::RouteNextValue(JsonTensorBuilder* builder) {
  routing_ = true;
  builder_ = builder;
  open_ = 0;
}

bool JsonValueRouter::RouteThisArray(JsonTensorBuilder* builder, JsonArrayBody& body) {
  routing_ = true;
  builder_ = builder;
  open_ = 1;
  if (builder == nullptr) return true;
  if (!builder->StartArray() || !builder->ScanArrayBody(body, depth())) return FailFrom(*builder);
  return true;
}

void JsonValueRouter::RouteOpenValue(JsonTensorBuilder* builder, int open) {
  routing_ = true;
  builder_ = builder;
  open_ = open;
}

bool JsonValueRouter::AfterRoutedEvent(bool ok) {
  if (!ok) return FailFrom(*builder_);
  if (open_ != 0) return true;
  routing_ = false;
  builder_ = nullptr;
  return OnRoutedValueEnd();
}

bool JsonValueRouter::Null() {
  if (!routing_) return OnNull();
  return AfterRoutedEvent(builder_ == nullptr || builder_->Null());
}

bool JsonValueRouter::Bool(bool value) {
  if (!routing_) return OnBool(value);
  return AfterRoutedEvent(builder_ == nullptr || builder_->Bool(value));
}

bool JsonValueRouter::Number(std::string_view text) {
  if (!routing_) return OnNumber(text);
  return AfterRoutedEvent(builder_ == nullptr || builder_->Number(text));
}

bool JsonValueRouter::String(std::string_view value) {
  if (!routing_) return OnString(value);
  return AfterRoutedEvent(builder_ == nullptr || builder_->String(value));
}

bool JsonValueRouter::StartObject() {
  if (!routing_) return OnStartObject();
  ++open_;
  return AfterRoutedEvent(builder_ == nullptr || builder_->StartObject());
}

bool JsonValueRouter::Key(std::string_view key) {
  if (!routing_) return OnKey(key);
  return AfterRoutedEvent(builder_ == nullptr || builder_->Key(key));
}

bool JsonValueRouter::EndObject() {
  if (!routing_) return OnEndObject();
  --open_;
  return AfterRoutedEvent(builder_ == nullptr || builder_->EndObject());
}

bool JsonValueRouter::StartArray(JsonArrayBody& body) {
  if (!routing_) return OnStartArray(body);
  ++open_;
  if (builder_ == nullptr) return true;
  if (!builder_->StartArray() || !builder_->ScanArrayBody(body, depth())) return FailFrom(*builder_);
  return true;
}

bool JsonValueRouter::EndArray() {
  if (!routing_) return OnEndArray();
  --open_;
  return AfterRoutedEvent(builder_ == nullptr || builder_->EndArray());
}

}  // namespace serval

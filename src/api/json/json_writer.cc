#include "api/json/json_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include "api/json/base64.h"
#include "api/json/float16.h"

namespace serval {
namespace {

// Longest spellings: float "-1.17549435e-38" (15), double "-2.2250738585072014e-308" (24), int64 (20),
// plus ".0" and a separator.
constexpr size_t kMaxNumberChars = 32;

// Length of the valid UTF-8 sequence starting at p (1..4), or 0 when it is not one.
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  size_t left = static_cast<size_t>(end - p);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (left < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0;   // overlong
    if (c == 0xed && p[1] >= 0xa0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (left < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
    if (c == 0xf0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xf4 && p[1] >= 0x90) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

char* WriteFloatChars(char* p, float value) {
  if (!std::isfinite(value)) {
    const char* token = std::isnan(value) ? "NaN" : value < 0 ? "-Infinity" : "Infinity";
    size_t n = std::strlen(token);
    std::memcpy(p, token, n);
    return p + n;
  }
  char* start = p;
  p = std::to_chars(p, p + kMaxNumberChars, value).ptr;
  if (std::find_if(start, p, [](char c) { return c == '.' || c == 'e'; }) == p) {
    *p++ = '.';
    *p++ = '0';
  }
  return p;
}

char* WriteDoubleChars(char* p, double value) {
  if (!std::isfinite(value)) {
    const char* token = std::isnan(value) ? "NaN" : value < 0 ? "-Infinity" : "Infinity";
    size_t n = std::strlen(token);
    std::memcpy(p, token, n);
    return p + n;
  }
  char* start = p;
  p = std::to_chars(p, p + kMaxNumberChars, value).ptr;
  if (std::find_if(start, p, [](char c) { return c == '.' || c == 'e'; }) == p) {
    *p++ = '.';
    *p++ = '0';
  }
  return p;
}

template <typename T>
T Load(const std::byte* data, int64_t index) {
  T value;
  std::memcpy(&value, data + static_cast<size_t>(index) * sizeof(T), sizeof(T));
  return value;
}

void WriteEmptyNested(JsonOut& out, std::span<const int64_t> dims);

// Writes the nested-list skeleton of `dims` and calls write(i) for each element index i in [0, count).
// The odometer closes and reopens exactly the lists whose index wrapped. Dims with a zero write empty lists.
template <typename WriteElement>
void WriteNested(JsonOut& out, std::span<const int64_t> dims, WriteElement&& write) {
  const size_t rank = dims.size();
  if (rank == 0) {
    write(int64_t{0});
    return;
  }
  int64_t count = 1;
  for (int64_t dim : dims) count *= dim;
  if (count == 0) {
    WriteEmptyNested(out, dims);
    return;
  }
  std::vector<int64_t> index(rank, 0);
  char* p = out.Reserve(rank);
  std::memset(p, '[', rank);
  out.Commit(p + rank);
  for (int64_t i = 0; i < count; ++i) {
    if (i != 0) {
      size_t wrapped = 0;
      size_t k = rank - 1;
      while (++index[k] == dims[k]) {
        index[k] = 0;
        ++wrapped;
        --k;
      }
      p = out.Reserve(2 * wrapped + 1);
      std::memset(p, ']', wrapped);
      p += wrapped;
      *p++ = ',';
      std::memset(p, '[', wrapped);
      out.Commit(p + wrapped);
    }
    write(i);
  }
  p = out.Reserve(rank);
  std::memset(p, ']', rank);
  out.Commit(p + rank);
}

struct EmptyListLeaf {
  JsonOut* out;
  void operator()(int64_t) const { out->Append("[]"); }
};

// A shape with a zero dim: the lists down to the first zero dim, each ending in an empty list.
void WriteEmptyNested(JsonOut& out, std::span<const int64_t> dims) {
  size_t zero = static_cast<size_t>(std::find(dims.begin(), dims.end(), int64_t{0}) - dims.begin());
  WriteNested(out, dims.first(zero), EmptyListLeaf{&out});
}

void WriteB64Object(JsonOut& out, std::string_view bytes) {
  std::string encoded;
  encoded.reserve((bytes.size() + 2) / 3 * 4 + 16);
  encoded = "{\"b64\":\"";
  AppendBase64(bytes, &encoded);
  encoded += "\"}";
  out.Append(encoded);
}

}  // namespace

void JsonOut::Grow(size_t n) {
  size_t wanted = std::max({size_ + n, out_->size() * 2, static_cast<size_t>(256)});
  out_->resize(wanted);
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p != end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    size_t n = Utf8SequenceLength(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

void WriteJsonString(JsonOut& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Worst case: every byte becomes a 6-byte escape.
  char* p = out.Reserve(text.size() * 6 + 2);
  *p++ = '"';
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = s + text.size();
  while (s != end) {
    unsigned char c = *s;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *p++ = static_cast<char>(c);
      ++s;
      continue;
    }
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, end);
      if (n == 0) {
        std::memcpy(p, "\\ufffd", 6);
        p += 6;
        ++s;
      } else {
        std::memcpy(p, s, n);
        p += n;
        s += n;
      }
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"':
        *p++ = '"';
        break;
      case '\\':
        *p++ = '\\';
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\r':
        *p++ = 'r';
        break;
      case '\t':
        *p++ = 't';
        break;
      case '\b':
        *p++ = 'b';
        break;
      case '\f':
        *p++ = 'f';
        break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
    }
    ++s;
  }
  *p++ = '"';
  out.Commit(p);
}

void AppendJsonString(std::string* out, std::string_view text) {
  JsonOut json(out);
  WriteJsonString(json, text);
}

void WriteJsonFloat(JsonOut& out, float value) { out.Commit(WriteFloatChars(out.Reserve(kMaxNumberChars), value)); }
void WriteJsonDouble(JsonOut& out, double value) { out.Commit(WriteDoubleChars(out.Reserve(kMaxNumberChars), value)); }
void WriteJsonInt(JsonOut& out, int64_t value) {
  char* p = out.Reserve(kMaxNumberChars);
  out.Commit(std::to_chars(p, p + kMaxNumberChars, value).ptr);
}
void WriteJsonUint(JsonOut& out, uint64_t value) {
  char* p = out.Reserve(kMaxNumberChars);
  out.Commit(std::to_chars(p, p + kMaxNumberChars, value).ptr);
}

void WriteTensorJson(JsonOut& out, const Tensor& tensor, std::span<const int64_t> dims, int64_t first,
                     JsonStringStyle string_style) {
  const std::byte* data = tensor.bytes().data();
  auto integers = [&]<typename T>(T*) {
    WriteNested(out, dims, [&](int64_t i) {
      char* p = out.Reserve(kMaxNumberChars);
      out.Commit(std::to_chars(p, p + kMaxNumberChars, Load<T>(data, first + i)).ptr);
    });
  };
  switch (tensor.dtype()) {
    case DataType::kBool:
      WriteNested(out, dims, [&](int64_t i) {
        out.Append(std::to_integer<uint8_t>(data[first + i]) != 0 ? std::string_view("true")
                                                                  : std::string_view("false"));
      });
      break;
    case DataType::kUint8:
      integers(static_cast<uint8_t*>(nullptr));
      break;
    case DataType::kUint16:
      integers(static_cast<uint16_t*>(nullptr));
      break;
    case DataType::kUint32:
      integers(static_cast<uint32_t*>(nullptr));
      break;
    case DataType::kUint64:
      integers(static_cast<uint64_t*>(nullptr));
      break;
    case DataType::kInt8:
      integers(static_cast<int8_t*>(nullptr));
      break;
    case DataType::kInt16:
      integers(static_cast<int16_t*>(nullptr));
      break;
    case DataType::kInt32:
      integers(static_cast<int32_t*>(nullptr));
      break;
    case DataType::kInt64:
      integers(static_cast<int64_t*>(nullptr));
      break;
    case DataType::kFp16:
      WriteNested(out, dims, [&](int64_t i) {
        out.Commit(WriteFloatChars(out.Reserve(kMaxNumberChars), HalfBitsToFloat(Load<uint16_t>(data, first + i))));
      });
      break;
    case DataType::kBf16:
      WriteNested(out, dims, [&](int64_t i) {
        out.Commit(WriteFloatChars(out.Reserve(kMaxNumberChars), Bfloat16BitsToFloat(Load<uint16_t>(data, first + i))));
      });
      break;
    case DataType::kFp32:
      WriteNested(out, dims, [&](int64_t i) {
        out.Commit(WriteFloatChars(out.Reserve(kMaxNumberChars), Load<float>(data, first + i)));
      });
      break;
    case DataType::kFp64:
      WriteNested(out, dims, [&](int64_t i) {
        out.Commit(WriteDoubleChars(out.Reserve(kMaxNumberChars), Load<double>(data, first + i)));
      });
      break;
    case DataType::kString: {
      const std::vector<std::string>& strings = tensor.strings();
      WriteNested(out, dims, [&](int64_t i) {
        const std::string& value = strings[static_cast<size_t>(first + i)];
        if (string_style == JsonStringStyle::kB64Object ||
            (string_style == JsonStringStyle::kStringOrB64 && !IsValidUtf8(value))) {
          WriteB64Object(out, value);
        } else {
          WriteJsonString(out, value);
        }
      });
      break;
    }
    case DataType::kInvalid:
      out.Append("null");
      break;
  }
}

}  // namespace serval

// ParseJsonFast against ParseJson: the same events, results and errors, bit-exact tensors; and the fast
// path really is taken for ordinary input (JsonFastFallbacksOnThisThread).
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/json/json_number.h"
#include "api/json/json_reader.h"
#include "api/json/json_tensor_builder.h"
#include "api/json/json_test_router.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

// Records every event; fails on the string "stop".
class TraceHandler : public JsonHandler {
 public:
  std::string trace;

  bool Null() override { return Add("null"); }
  bool Bool(bool value) override { return Add(value ? "true" : "false"); }
  bool Number(std::string_view text) override { return Add("n:" + std::string(text)); }
  bool String(std::string_view value) override {
    if (value == "stop") return Fail(InvalidArgument("handler says no"));
    return Add("s:" + std::string(value));
  }
  bool StartObject() override { return Add("{"); }
  bool Key(std::string_view key) override { return Add("k:" + std::string(key)); }
  bool EndObject() override { return Add("}"); }
  bool StartArray(JsonArrayBody& body) override {
    // The body's text is the rest of the document on both paths.
    return Add("[" + std::to_string(body.available() ? body.text().size() : 0));
  }
  bool EndArray() override { return Add("]"); }

 private:
  bool Add(const std::string& event) {
    trace += event + " ";
    return true;
  }
};

struct Outcome {
  std::string status;
  std::string trace;
  bool fell_back = false;
};

Outcome Slow(std::string_view json) {
  TraceHandler handler;
  Status status = ParseJson(json, handler);
  return {status.ToString(), handler.trace, false};
}

Outcome Fast(std::string_view json) {
  const uint64_t before = JsonFastFallbacksOnThisThread();
  std::optional<TraceHandler> handler;
  Status status = ParseJsonFast(json, [&]() -> JsonHandler& { return handler.emplace(); });
  return {status.ToString(), handler->trace, JsonFastFallbacksOnThisThread() != before};
}

void ExpectSameEvents(std::string_view json, std::optional<bool> fast_path = std::nullopt) {
  Outcome slow = Slow(json);
  Outcome fast = Fast(json);
  EXPECT_EQ(fast.status, slow.status) << json;
  EXPECT_EQ(fast.trace, slow.trace) << json;
  if (fast_path) {
    EXPECT_EQ(fast.fell_back, !*fast_path) << json;
  }
}

TEST(JsonSimdReaderTest, SameEventsAsTheReader) {
  // Taken by simdjson.
  for (const char* json :
       {"{}", "[]", " [ ] ", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", "[1,-2,3.5,-0,0.0,1e5,1E-5,2e+3]",
        "{\"esc\":\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\"}", "{\"k\\ney\":\"v\"}", "[\"\",\"\xc3\xa9\xe2\x82\xac\"]",
        "[[[]],[[],[]]]", "[12345678901234567890123456789]", "[0.000001,1e-300,123e-20]", "[\"stop\",1]",
        "{\"a\":\"stop\",\"b\":}", "[\"stop\",NaN]"}) {
    ExpectSameEvents(json, true);
  }
  // Left to RapidJSON: its verdict, exactly.
  for (const char* json : {"[NaN,Infinity,-Infinity,Inf,-Inf]",
                           "[1e309]",
                           "[0e999999]",
                           "[-0E400]",
                           "[\"\\u00e9\\ud83d\\ude00\"]",
                           "[\"\\udc00\"]",
                           "[\"\\ud800\"]",
                           "{\"\\u0041\":1}",
                           "[\"a\x01\"]",
                           "[\"\xff\xfe\"]",
                           "[\"\xc3\"]",
                           "\xef\xbb\xbf[]",
                           "5",
                           "\"s\"",
                           "null",
                           "",
                           "   ",
                           "[1,]",
                           "[1 2]",
                           "{\"a\" 1}",
                           "{\"a\":1,}",
                           "[01]",
                           "[1.]",
                           "[.5]",
                           "[-]",
                           "[+1]",
                           "[1e]",
                           "[tru]",
                           "[truex]",
                           "[nul]",
                           "{\"a\":1",
                           "[1",
                           "[1]]",
                           "[1] x",
                           "{} {}",
                           "[\"a\\x\"]",
                           "[\"unterminated]",
                           "{\"a\":1}\n\n2",
                           "[1,2,3]\x01"}) {
    ExpectSameEvents(json, false);
  }
  // A NUL after the document is not its end.
  ExpectSameEvents(std::string_view("[1]\0x", 5), false);
  ExpectSameEvents(std::string_view("[\"a\0b\"]", 7), false);
  // Long numbers and big magnitudes RapidJSON accepts stay on the fast path.
  ExpectSameEvents("[" + std::string(250, '1') + "]");
  ExpectSameEvents("[0." + std::string(300, '0') + "1]");
  ExpectSameEvents("[1e200,-1.5e308,1" + std::string(320, '0') + "]");
}

TEST(JsonSimdReaderTest, MutatedDocumentsGetTheReadersVerdict) {
  const std::string seeds[] = {
      R"({"instances":[[1.5,2,-3e-2],[4,5,6]],"signature_name":"serving_default"})",
      R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4.25]}],"id":"q"})",
      R"({"inputs":{"a":[[true,false]],"b":{"b64":"aGk="},"c":["s\"t\\u00e9",null]}})"};
  const std::string alphabet = "[]{},:\"\\ 0123456789.eE-+ntfaulrsNIy\x01\xff";
  std::mt19937 rng(7);
  for (int i = 0; i < 30000; ++i) {
    std::string json = seeds[static_cast<size_t>(i) % 3];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (json.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          json.insert(at, 1, c);
          break;
        case 1:
          if (at < json.size()) json.erase(at, 1);
          break;
        default:
          if (at < json.size()) json[at] = c;
          break;
      }
    }
    ExpectSameEvents(json);
    if (HasFailure()) return;
  }
}

TEST(JsonSimdReaderTest, DepthCapAndManyOpenBrackets) {
  for (int depth : {99, 100, 101, 150}) {
    ExpectSameEvents(std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']'),
                     depth <= 100);
  }
  const std::string brackets(100000, '[');
  const auto start = std::chrono::steady_clock::now();
  Outcome fast = Fast(brackets);
  EXPECT_NE(fast.status.find("nested deeper than 100"), std::string::npos) << fast.status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(JsonSimdReaderTest, TextThatFillsItsBufferExactly) {
  // No spare byte after the text: the fast path reads a padded copy (ASan checks that nothing reads past).
  const std::string json = R"({"a":[1,2.5,"x",true,null,{"b":[]}]})";
  auto buffer = std::make_unique<char[]>(json.size());
  std::memcpy(buffer.get(), json.data(), json.size());
  std::string_view view(buffer.get(), json.size());
  Outcome fast = Fast(view);
  EXPECT_FALSE(fast.fell_back);
  EXPECT_EQ(fast.trace, Slow(view).trace);
  // Cut inside a number and inside a string: the copy's padding ends them, the verdict is RapidJSON's.
  ExpectSameEvents(view.substr(0, 9), false);
  ExpectSameEvents(view.substr(0, 15), false);
}

TEST(JsonSimdReaderTest, InPlaceReadingIgnoresWhatFollowsTheText) {
  // Readable bytes after the text that would continue a token (digits, letters, quotes): the verdict and the
  // events are ParseJson's on the text alone.
  for (const char* json : {"[1,2.5,-3]", "{\"a\":[true,null,\"x\"]}", "[1,2", "[\"ab]", "[1,2]  ", "[tru]", "[1e]",
                           "{\"a\":1} [", "[1] 2"}) {
    for (char filler : {'9', 'e', '"', ' ', ']'}) {
      const std::string text(json);
      std::string buffer = text + std::string(64, filler);
      Outcome slow = Slow(text);
      const uint64_t before = JsonFastFallbacksOnThisThread();
      std::optional<TraceHandler> handler;
      Status status = ParseJsonFast(
          std::string_view(buffer.data(), text.size()), [&]() -> JsonHandler& { return handler.emplace(); },
          buffer.size());
      EXPECT_EQ(status.ToString(), slow.status) << json << " + " << filler;
      EXPECT_EQ(handler->trace, slow.trace) << json << " + " << filler;
      if (slow.status == "OK") {
        EXPECT_EQ(JsonFastFallbacksOnThisThread(), before) << json;
      }
    }
  }
}

// --- Tensors -------------------------------------------------------------------------------------------

struct Decoded {
  StatusOr<Tensor> tensor = Internal("not decoded");
  bool fell_back = false;
};

Decoded DecodeWith(bool fast, std::string_view json, DataType type, const Shape* expected = nullptr) {
  JsonTensorBuilder::Options options;
  if (expected != nullptr) options.shaping = JsonTensorBuilder::Shaping::kCount;
  std::optional<JsonTensorBuilder> builder;
  std::optional<RootRouter> router;
  auto make = [&]() -> JsonHandler& {
    router.reset();
    builder.emplace("input 'x'", type, options, CodecLimits{});
    if (expected != nullptr) builder->ExpectShape(*expected);
    return router.emplace(&*builder);
  };
  Decoded result;
  const uint64_t before = JsonFastFallbacksOnThisThread();
  Status status = fast ? ParseJsonFast(json, make) : ParseJson(json, make());
  result.fell_back = JsonFastFallbacksOnThisThread() != before;
  result.tensor = status.ok() ? builder->Finish("x", DataType::kInvalid, expected) : StatusOr<Tensor>(status);
  return result;
}

// Both paths give the same status, shape and bytes; returns whether the fast one fell back.
bool ExpectSameTensor(const std::string& json, DataType type, const Shape* expected = nullptr) {
  Decoded slow = DecodeWith(false, json, type, expected);
  Decoded fast = DecodeWith(true, json, type, expected);
  EXPECT_EQ(fast.tensor.status().ToString(), slow.tensor.status().ToString()) << json.substr(0, 200);
  if (slow.tensor.ok() && fast.tensor.ok()) {
    EXPECT_EQ(fast.tensor->shape(), slow.tensor->shape());
    const auto a = fast.tensor->bytes();
    const auto b = slow.tensor->bytes();
    EXPECT_TRUE(a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0) << json.substr(0, 200);
  }
  return fast.fell_back;
}

std::string Shortest(double value) {
  char buffer[64];
  return {buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr};
}
std::string Shortest(float value) {
  char buffer[64];
  return {buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr};
}

// Each number alone as a tensor through both paths, and through the lexer (StoreJsonNumber).
template <typename T, DataType Type>
void ExpectElementAgrees(const std::string& text) {
  Decoded fast = DecodeWith(true, "[" + text + "]", Type);
  JsonNumber number;
  ASSERT_TRUE(LexJsonNumberText(text, &number)) << text;
  std::byte bytes[8] = {};
  const NumberError error = StoreJsonNumber<Type>(number, bytes);
  ASSERT_EQ(fast.tensor.ok(), error == NumberError::kOk) << text;
  if (error != NumberError::kOk) return;
  ASSERT_EQ(fast.tensor->bytes().size(), sizeof(T));
  // Bitwise (-0 included): the fast path stores exactly what the general path stores.
  EXPECT_EQ(std::memcmp(fast.tensor->bytes().data(), bytes, sizeof(T)), 0) << text;
}

TEST(JsonSimdReaderTest, FloatsAreBitExactIncludingMidpointsAndSubnormals) {
  for (const char* text : {"1.000000059604644775390625",
                           "1.000000059604644776",
                           "1.00000005960464477539062499",
                           "1e-45",
                           "1.4e-45",
                           "7e-46",
                           "7.006492321624085e-46",
                           "1.1754942e-38",
                           "1.1754943e-38",
                           "1.1754943508222875e-38",
                           "3.4028235e38",
                           "3.4028236e38",
                           "3.40282356779733661637539395458e38",
                           "-0",
                           "0.0",
                           "0",
                           "-0.0",
                           "1e-50",
                           "123456789",
                           "0.1",
                           "-2.5e-3",
                           "16777217",
                           "1e-320",
                           "2.2250738585072014e-308",
                           "4.9e-324"}) {
    ExpectElementAgrees<float, DataType::kFp32>(text);
    ExpectElementAgrees<double, DataType::kFp64>(text);
  }
  std::mt19937_64 rng(11);
  for (DataType type : {DataType::kFp32, DataType::kFp64, DataType::kFp16, DataType::kBf16}) {
    std::string json = "[";
    for (int i = 0; i < 40000; ++i) {
      std::string text;
      const uint32_t bits = static_cast<uint32_t>(rng());
      float value;
      std::memcpy(&value, &bits, 4);
      if (!std::isfinite(value) || (type != DataType::kFp32 && type != DataType::kFp64 && std::fabs(value) > 6e4f)) {
        continue;
      }
      const double midpoint = (static_cast<double>(value) + static_cast<double>(std::nextafter(value, INFINITY))) / 2;
      switch (i % 5) {
        case 0:
          text = Shortest(value);  // shortest float text
          break;
        case 1:
          text = Shortest(static_cast<double>(value));  // numpy → Python float → json.dumps
          break;
        case 2:
          text = Shortest(midpoint);  // exactly halfway: ties to even
          break;
        case 3: {
          // Near halfway, with more digits than a double holds.
          char buffer[64];
          std::snprintf(buffer, sizeof buffer, "%.25e", midpoint);
          text = buffer;
          text.insert(text.find('e'), rng() % 2 == 0 ? "1" : "");
          if (rng() % 2 == 0) {
            const size_t e = text.find('e');
            text.insert(e, "0000000000000000000000001");
            text[e - 1] = text[e - 1] == '0' ? '0' : static_cast<char>(text[e - 1] - 1);
          }
          break;
        }
        default: {
          // Subnormal floats, as float text and as an arbitrary decimal in that range.
          const float subnormal = std::ldexp(static_cast<float>(rng() % (1u << 23)), -149);
          text = i % 2 == 0 ? Shortest(subnormal) : Shortest(static_cast<double>(subnormal) * 1.3);
          break;
        }
      }
      if (json.size() > 1) json += ',';
      json += text;
      if (type == DataType::kFp32 && i < 4000) ExpectElementAgrees<float, DataType::kFp32>(text);
      if (type == DataType::kFp64 && i < 4000) ExpectElementAgrees<double, DataType::kFp64>(text);
    }
    json += ']';
    EXPECT_FALSE(ExpectSameTensor(json, type)) << "ordinary floats took the fallback for " << KServeName(type);
  }
}

TEST(JsonSimdReaderTest, NanAndInfinityGoThroughTheFallback) {
  Decoded fast = DecodeWith(true, "[1.5,NaN,-Infinity,Infinity,-Inf]", DataType::kFp32);
  ASSERT_TRUE(fast.tensor.ok()) << fast.tensor.status().ToString();
  EXPECT_TRUE(fast.fell_back);
  std::vector<float> values(5);
  std::memcpy(values.data(), fast.tensor->bytes().data(), 20);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_TRUE(std::isnan(values[1]));
  EXPECT_EQ(values[2], -INFINITY);
  EXPECT_EQ(values[3], INFINITY);
  EXPECT_EQ(values[4], -INFINITY);
  for (DataType type : {DataType::kFp32, DataType::kFp64, DataType::kFp16, DataType::kBf16, DataType::kInt32}) {
    EXPECT_TRUE(ExpectSameTensor("[[1,2],[NaN,-Infinity]]", type));
    EXPECT_TRUE(ExpectSameTensor("[1e309]", type));
    EXPECT_TRUE(ExpectSameTensor("[0e999999]", type));
    EXPECT_TRUE(ExpectSameTensor("[1,\"a\"]", type));
    EXPECT_FALSE(ExpectSameTensor("[1,[2]]", type));  // ragged: reported by the fast path itself
  }
  EXPECT_TRUE(ExpectSameTensor("[3.5e38]", DataType::kFp32));
  EXPECT_TRUE(ExpectSameTensor("[65520]", DataType::kFp16));
  EXPECT_FALSE(ExpectSameTensor("[65504,-65504]", DataType::kFp16));
}

template <typename T>
void ExpectIntegerEdges(DataType type) {
  using Limits = std::numeric_limits<T>;
  const std::string min = std::to_string(Limits::min());
  const std::string max = std::to_string(Limits::max());
  // In range, written as integers: the fast path.
  EXPECT_FALSE(ExpectSameTensor("[" + min + "," + max + ",0,1,-0]", type) && Limits::is_signed) << KServeName(type);
  EXPECT_FALSE(ExpectSameTensor("[" + min + "," + max + ",0,1]", type)) << KServeName(type);
  // One past each end, fractions and integers written as floats: the fallback's verdict.
  const __int128 below = static_cast<__int128>(Limits::min()) - 1;
  const unsigned __int128 above = static_cast<unsigned __int128>(Limits::max()) + 1;
  auto text = [](auto v) {
    std::string out;
    const bool negative = v < 0;
    unsigned __int128 m = negative ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
    do {
      out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
      m /= 10;
    } while (m != 0);
    return negative ? "-" + out : out;
  };
  for (const std::string& json :
       {"[" + text(below) + "]", "[" + text(above) + "]", std::string("[2.0]"), std::string("[1e3]"),
        std::string("[1.5]"), std::string("[-1]"), std::string("[99999999999999999999999]"), std::string("[-0]")}) {
    ExpectSameTensor(json, type);
  }
}

TEST(JsonSimdReaderTest, EveryIntegerTypesRangeEdges) {
  ExpectIntegerEdges<int8_t>(DataType::kInt8);
  ExpectIntegerEdges<int16_t>(DataType::kInt16);
  ExpectIntegerEdges<int32_t>(DataType::kInt32);
  ExpectIntegerEdges<int64_t>(DataType::kInt64);
  ExpectIntegerEdges<uint8_t>(DataType::kUint8);
  ExpectIntegerEdges<uint16_t>(DataType::kUint16);
  ExpectIntegerEdges<uint32_t>(DataType::kUint32);
  ExpectIntegerEdges<uint64_t>(DataType::kUint64);
  EXPECT_FALSE(ExpectSameTensor("[[true,false],[false,true]]", DataType::kBool));
  EXPECT_TRUE(ExpectSameTensor("[true,1]", DataType::kBool));
}

TEST(JsonSimdReaderTest, StructuralErrorsAndShapesMatch) {
  const Shape shape{2, 2};
  EXPECT_FALSE(ExpectSameTensor("[[1,2],[3,4]]", DataType::kFp32, &shape));
  ExpectSameTensor("[1,2,3,4,5]", DataType::kFp32, &shape);
  ExpectSameTensor("[1,2,3]", DataType::kFp32, &shape);
  const Shape huge{1000000, 1000};
  ExpectSameTensor("[1,2,3]", DataType::kFp32, &huge);
  ExpectSameTensor("[[1,2],[3]]", DataType::kFp32);
  ExpectSameTensor("[[1,2],3]", DataType::kFp32);
  ExpectSameTensor(std::string(101, '[') + "1" + std::string(101, ']'), DataType::kFp32);
  EXPECT_FALSE(ExpectSameTensor(std::string(100, '[') + "1" + std::string(100, ']'), DataType::kFp32));
}

TEST(JsonSimdReaderTest, AFailedAttemptsMemoryIsRefunded) {
  // A long list that falls back at its last element: the request ends up charged what ParseJson alone
  // charges, and the simdjson parser's charge is gone.
  std::string json = "[";
  for (int i = 0; i < 200000; ++i) json += "0.5,";
  json += "NaN]";
  MemoryBudget budget(size_t{1} << 30, size_t{1} << 30);
  size_t slow_charged = 0;
  {
    RequestMemoryScope scope(&budget);
    ASSERT_TRUE(DecodeWith(false, json, DataType::kFp32).tensor.ok());
    slow_charged = scope.charged();
  }
  {
    RequestMemoryScope scope(&budget);
    Decoded fast = DecodeWith(true, json, DataType::kFp32);
    ASSERT_TRUE(fast.tensor.ok());
    EXPECT_TRUE(fast.fell_back);
    EXPECT_EQ(scope.charged(), slow_charged);
  }
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST(JsonSimdReaderTest, ARequestThatCannotPayForTheParserIsReadByRapidJsonSilently) {
  std::string json = "[";
  for (int i = 0; i < 100000; ++i) json += "0.25,";
  json += "1]";
  // Enough for the tensor (and the builder's first step), not for simdjson's buffers (~7 bytes per byte).
  MemoryBudget budget(size_t{1} << 30, json.size() * 4);
  RequestMemoryScope scope(&budget);
  Decoded fast = DecodeWith(true, json, DataType::kFp32);
  ASSERT_TRUE(fast.tensor.ok()) << fast.tensor.status().ToString();
  EXPECT_TRUE(fast.fell_back);
  EXPECT_EQ(budget.refused_per_request(), 0u);
  EXPECT_EQ(budget.refused_total(), 0u);
}

}  // namespace
}  // namespace serval

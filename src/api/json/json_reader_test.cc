#include "api/json/json_reader.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace serval {
namespace {

// Records events as a compact trace; optionally consumes the body of arrays itself.
class TraceHandler : public JsonHandler {
 public:
  std::string trace;
  bool consume_arrays = false;
  int max_depth_seen = 0;

  bool Null() override { return Add("null"); }
  bool Bool(bool value) override { return Add(value ? "true" : "false"); }
  bool Number(std::string_view text) override { return Add("n:" + std::string(text)); }
  bool String(std::string_view value) override { return Add("s:" + std::string(value)); }
  bool StartObject() override { return Add("{"); }
  bool Key(std::string_view key) override { return Add("k:" + std::string(key)); }
  bool EndObject() override { return Add("}"); }
  bool StartArray(JsonArrayBody& body) override {
    max_depth_seen = std::max(max_depth_seen, depth());
    if (consume_arrays && body.available()) {
      // Consume up to the first ']' (flat arrays only in these tests).
      size_t close = body.text().find(']');
      Add("[body:" + std::string(body.text().substr(0, close)) + "]");
      body.Consume(close);
      return true;
    }
    return Add("[");
  }
  bool EndArray() override { return Add("]"); }
  bool FailHere() { return Fail(InvalidArgument("handler says no")); }

 private:
  bool Add(const std::string& event) {
    if (event == "s:stop") return FailHere();
    trace += event + " ";
    return true;
  }
};

TEST(JsonReaderTest, DeliversEventsWithNumbersAsText) {
  TraceHandler handler;
  ASSERT_TRUE(ParseJson(R"({"a":[1,-2.5e3,true,null,"x"],"b":{}})", handler).ok());
  EXPECT_EQ(handler.trace, "{ k:a [ n:1 n:-2.5e3 true null s:x ] k:b { } } ");
}

TEST(JsonReaderTest, AcceptsNanAndInfinityTokens) {
  TraceHandler handler;
  ASSERT_TRUE(ParseJson("[NaN,Infinity,-Infinity,-Inf]", handler).ok());
  EXPECT_EQ(handler.trace, "[ n:NaN n:Infinity n:-Infinity n:-Inf ] ");
}

TEST(JsonReaderTest, MalformedJsonNamesTheOffset) {
  TraceHandler handler;
  Status status = ParseJson(R"({"a":[1,2,]})", handler);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("offset"), std::string::npos);
  EXPECT_FALSE(ParseJson("", handler).ok());
  EXPECT_FALSE(ParseJson("[1] [2]", handler).ok());
  EXPECT_FALSE(ParseJson(std::string("[\"a\0b\"]", 7), handler).ok());
}

TEST(JsonReaderTest, NulAfterTheDocumentIsNotTheEnd) {
  TraceHandler handler;
  Status status = ParseJson(std::string("{}\0garbage", 10), handler);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("after the document"), std::string::npos) << status.message();
  EXPECT_FALSE(ParseJson(std::string("[1]\0", 4), handler).ok());
  EXPECT_TRUE(ParseJson("[1] \n", handler).ok());
}

TEST(JsonReaderTest, ReaderAcceptsNumberMatchesTheReader) {
  for (const char* token : {"0e999999", "1e309", "0.5e400", "-1E+999"}) {
    EXPECT_FALSE(ReaderAcceptsNumber(token)) << token;
    TraceHandler handler;
    EXPECT_FALSE(ParseJson(std::string("[") + token + "]", handler).ok()) << token;
  }
  for (const char* token : {"0", "1e308", "0e-999999", "-2.5E+3", "NaN", "-Infinity"}) {
    EXPECT_TRUE(ReaderAcceptsNumber(token)) << token;
    TraceHandler handler;
    EXPECT_TRUE(ParseJson(std::string("[") + token + "]", handler).ok()) << token;
  }
  EXPECT_FALSE(ReaderAcceptsNumber("1 2"));
}

TEST(JsonReaderTest, HandlerErrorIsReturned) {
  TraceHandler handler;
  Status status = ParseJson(R"(["stop"])", handler);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "handler says no");
}

TEST(JsonReaderTest, DepthIsCappedAtOneHundred) {
  TraceHandler handler;
  std::string ok = std::string(100, '[') + std::string(100, ']');
  ASSERT_TRUE(ParseJson(ok, handler).ok());
  EXPECT_EQ(handler.max_depth_seen, 100);
  std::string deep = std::string(101, '[') + std::string(101, ']');
  Status status = ParseJson(deep, handler);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("nested deeper than 100"), std::string::npos);
  std::string objects;
  for (int i = 0; i < 101; ++i) objects += "{\"a\":";
  objects += "1" + std::string(101, '}');
  EXPECT_FALSE(ParseJson(objects, handler).ok());
}

TEST(JsonReaderTest, HundredThousandOpenBracketsFailFast) {
  TraceHandler handler;
  std::string hostile(100000, '[');
  auto start = std::chrono::steady_clock::now();
  Status status = ParseJson(hostile, handler);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("nested deeper than 100"), std::string::npos);
  std::cout << "[ measure ] 100000 '[' rejected in "
            << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() << " us\n";
}

TEST(JsonReaderTest, HandlerMayConsumeAnArrayBody) {
  TraceHandler handler;
  handler.consume_arrays = true;
  ASSERT_TRUE(ParseJson(R"({"a":[1, 2,3 ],"b":[ ],"c":["x"]})", handler).ok());
  EXPECT_EQ(handler.trace, "{ k:a [body:1, 2,3 ] ] k:b [body: ] ] k:c [body:\"x\"] ] } ");
}

}  // namespace
}  // namespace serval

#include "core/client_message.h"

#include <string>

#include <gtest/gtest.h>

namespace serval {
namespace {

TEST(ClientMessageTest, AbsolutePathsKeepOnlyTheirLastTwoComponents) {
  EXPECT_EQ(ClientMessage("cannot read '/srv/models/add/3/model.onnx': denied"),
            "cannot read '.../3/model.onnx': denied");
  EXPECT_EQ(ClientMessage("base path /srv/models/add is empty"), "base path .../models/add is empty");
  EXPECT_EQ(ClientMessage("model_root=/a/b"), "model_root=.../a/b");
}

TEST(ClientMessageTest, SourceLocationsAreDropped) {
  const std::string ort =
      "Load model from /tmp/m/1/model.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:180 "
      "onnxruntime::Model::Model() Unsupported model IR version: 11";
  const std::string out = ClientMessage(ort);
  EXPECT_EQ(out.find("/tmp"), std::string::npos) << out;
  EXPECT_EQ(out.find("onnxruntime_src"), std::string::npos) << out;
  EXPECT_EQ(out.find("model.cc"), std::string::npos) << out;
  EXPECT_NE(out.find("Unsupported model IR version: 11"), std::string::npos) << out;
  EXPECT_NE(out.find(".../1/model.onnx"), std::string::npos) << out;
}

TEST(ClientMessageTest, RoutesAndShortTextAreKept) {
  for (const char* text : {"unknown route '/v2/repository/whatever'", "POST /v1/models/a:predict failed", "a/b is fine",
                           "/metrics", "plain words", ""}) {
    EXPECT_EQ(ClientMessage(text), text);
  }
}

TEST(ClientMessageTest, LongRunsAreCut) {
  const std::string name(1 << 20, 'n');
  const std::string out = ClientMessage("Servable not found for request: Latest(" + name + ")");
  EXPECT_EQ(out, "Servable not found for request: " + std::string("Latest(") + std::string(249, 'n') + "...");
  // never inside a UTF-8 sequence
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";
  const std::string cut = ClientMessage(accents);
  EXPECT_EQ(cut.size(), 256u + 3);
  EXPECT_EQ(cut.substr(254, 2), "\xc3\xa9");
  // and the whole text is bounded
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "word ";
  EXPECT_LE(ClientMessage(many).size(), kMaxClientMessageBytes + 3);
}

}  // namespace
}  // namespace serval

#include "api/kserve/kserve_model_config.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace serval {
namespace {

TritonModelConfig Sample() {
  StatusOr<TritonModelConfig> config = ParseTritonModelConfig(R"pb(
                                                                name: "m"
                                                                backend: "onnxruntime"
                                                                max_batch_size: 8 input
                                                                [ {
                                                                  name: "IN"
                                                                  data_type: TYPE_FP32
                                                                  dims: [ 4, 4 ]
                                                                  reshape: { shape: [ 16 ] }
                                                                }] output
                                                                [ {
                                                                  name: "OUT"
                                                                  data_type: TYPE_STRING
                                                                  dims: [ -1 ]
                                                                  label_filename: "labels.txt"
                                                                }]
                                                                dynamic_batching {
                                                                  preferred_batch_size: [ 2, 4 ]
                                                                  max_queue_delay_microseconds: 50
                                                                }
                                                                parameters {
                                                                  key: "enable_mem_arena"
                                                                  value: { string_value: "0" }
                                                                }
                                                              )pb",
                                                              "m");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return *config;
}

TEST(KServeModelConfigTest, JsonHasTritonsFieldsWithNumericDims) {
  std::string json = EncodeTritonModelConfigJson(Sample());
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(json.c_str()).HasParseError()) << json;
  EXPECT_STREQ(doc["name"].GetString(), "m");
  EXPECT_EQ(doc["max_batch_size"].GetInt(), 8);
  EXPECT_STREQ(doc["backend"].GetString(), "onnxruntime");
  EXPECT_EQ(doc["version_policy"]["latest"]["num_versions"].GetInt(), 1);
  const auto& input = doc["input"][0];
  EXPECT_STREQ(input["data_type"].GetString(), "TYPE_FP32");
  EXPECT_EQ(input["dims"].Size(), 2u);
  EXPECT_EQ(input["dims"][0].GetInt(), 4);
  EXPECT_EQ(input["reshape"]["shape"][0].GetInt(), 16);
  const auto& output = doc["output"][0];
  EXPECT_STREQ(output["data_type"].GetString(), "TYPE_STRING");
  EXPECT_EQ(output["dims"][0].GetInt(), -1);
  EXPECT_STREQ(output["label_filename"].GetString(), "labels.txt");
  EXPECT_EQ(doc["dynamic_batching"]["preferred_batch_size"][1].GetInt(), 4);
  EXPECT_EQ(doc["dynamic_batching"]["max_queue_delay_microseconds"].GetInt(), 50);
  EXPECT_STREQ(doc["parameters"]["enable_mem_arena"]["string_value"].GetString(), "0");
}

TEST(KServeModelConfigTest, ProtoMatchesTheConfig) {
  inference::ModelConfig proto = TritonModelConfigProto(Sample());
  EXPECT_EQ(proto.name(), "m");
  EXPECT_EQ(proto.max_batch_size(), 8);
  ASSERT_EQ(proto.input_size(), 1);
  EXPECT_EQ(proto.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(proto.input(0).reshape().shape(0), 16);
  EXPECT_EQ(proto.output(0).data_type(), inference::TYPE_STRING);
  EXPECT_EQ(proto.output(0).label_filename(), "labels.txt");
  EXPECT_EQ(proto.dynamic_batching().preferred_batch_size_size(), 2);
  EXPECT_EQ(proto.parameters().at("enable_mem_arena").string_value(), "0");
}

}  // namespace
}  // namespace serval

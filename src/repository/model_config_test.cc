#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace serval {
namespace {

TEST(ModelConfigTest, ParsesTfServingConfigAsIs) {
  auto configs = ParseModelServerConfig(R"(
model_config_list {
  config { name: 'm' base_path: '/models/m/' model_platform: 'onnx'
    model_version_policy { specific { versions: 42 versions: 43 } }
    version_labels { key: 'stable' value: 42 } version_labels { key: 'canary' value: 43 } }
  config { name: "n" base_path: "/models/n" model_version_policy { latest { num_versions: 2 } } }
  config { name: "o" base_path: "/models/o" model_version_policy { all {} } }
})");
  ASSERT_TRUE(configs.ok()) << configs.status().ToString();
  ASSERT_EQ(configs->size(), 3u);
  const ModelConfig& m = (*configs)[0];
  EXPECT_EQ(m.base_path, "/models/m");
  EXPECT_EQ(m.policy.kind, VersionPolicy::Kind::kSpecific);
  EXPECT_EQ(m.policy.specific, (std::vector<int64_t>{42, 43}));
  EXPECT_EQ(m.version_labels.at("stable"), 42);
  EXPECT_EQ((*configs)[1].policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ((*configs)[1].policy.latest_count, 2u);
  EXPECT_EQ((*configs)[2].policy.kind, VersionPolicy::Kind::kAll);
}

TEST(ModelConfigTest, DefaultsToLatestOne) {
  auto configs = ParseModelServerConfig("model_config_list { config { name: 'a' base_path: '/x' } }");
  ASSERT_TRUE(configs.ok());
  EXPECT_EQ((*configs)[0].policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ((*configs)[0].policy.latest_count, 1u);
}

TEST(ModelConfigTest, RejectsBadConfigsWithReasons) {
  auto relative = ParseModelServerConfig("model_config_list { config { name: 'a' base_path: 'rel/x' } }");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("absolute"), std::string::npos);

  auto tensorflow =
      ParseModelServerConfig("model_config_list { config { name: 'a' base_path: '/x' model_platform: 'tensorflow' } }");
  ASSERT_FALSE(tensorflow.ok());
  EXPECT_NE(tensorflow.status().message().find("tf2onnx"), std::string::npos);

  auto garbage = ParseModelServerConfig("model_config_list { config { nme: 'a' } }");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("line 1"), std::string::npos);

  auto duplicate = ParseModelServerConfig(
      "model_config_list { config { name: 'a' base_path: '/x' } config { name: 'a' base_path: '/y' } }");
  EXPECT_FALSE(duplicate.ok());

  auto traversal = ParseModelServerConfig("model_config_list { config { name: '../a' base_path: '/x' } }");
  EXPECT_FALSE(traversal.ok());
}

TEST(ModelConfigTest, ValidatesModelNames) {
  EXPECT_TRUE(ValidateModelName("resnet50_v1.2-b").ok());
  EXPECT_FALSE(ValidateModelName("").ok());
  EXPECT_FALSE(ValidateModelName(".").ok());
  EXPECT_FALSE(ValidateModelName("..").ok());
  EXPECT_FALSE(ValidateModelName("a/b").ok());
  EXPECT_FALSE(ValidateModelName("a\nb").ok());
  EXPECT_FALSE(ValidateModelName(std::string(256, 'a')).ok());
}

TEST(ModelConfigTest, UnreadableFileSaysInvalidProtobufFile) {
  auto configs = ReadModelServerConfigFile("/nonexistent/config");
  EXPECT_FALSE(configs.ok());
}

}  // namespace
}  // namespace serval

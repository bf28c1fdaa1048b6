#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "repository/fake_model_session.h"
#include "repository/model_manager.h"

namespace serval {
namespace {
namespace fs = std::filesystem;

class ModelManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("serval_mm_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override { fs::remove_all(base_); }
  void Publish(int64_t version, const std::string& content) {
    fs::create_directories(base_ / std::to_string(version));
    std::ofstream(base_ / std::to_string(version) / "model.onnx") << content;
  }
  ModelConfig Config() {
    ModelConfig config;
    config.name = "m";
    config.base_path = base_.string();
    return config;
  }

  fs::path base_;
  FakeEngine engine_;
};

TEST_F(ModelManagerTest, ServesHighestVersionByDefault) {
  Publish(1, "ok");
  Publish(3, "ok");
  Publish(2, "ok");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  ASSERT_TRUE(manager.SetConfig({Config()}).ok());
  auto handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->version(), 3);
  auto old = manager.Acquire("m", {.number = 1, .label = ""});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().message(), "Servable not found for request: Specific(m, 1)");
  auto missing = manager.Acquire("nope", {});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "Servable not found for request: Latest(nope)");
  EXPECT_TRUE(manager.AllModelsReady());
}

TEST_F(ModelManagerTest, BrokenNewestVersionNeverReplacesWorkingOne) {
  Publish(1, "ok");
  Publish(2, "garbage");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  EXPECT_TRUE(manager.SetConfig({Config()}).ok());
  auto handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->version(), 1);
  auto statuses = manager.GetVersionStatus("m", {});
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 2u);
  EXPECT_EQ((*statuses)[0].version, 2);
  EXPECT_EQ((*statuses)[0].state, VersionState::kEnd);
  EXPECT_NE((*statuses)[0].status.message().find("2/model.onnx"), std::string::npos);
  EXPECT_EQ((*statuses)[1].state, VersionState::kAvailable);
}

TEST_F(ModelManagerTest, PolicyAllAndSpecificAndLabels) {
  Publish(1, "ok");
  Publish(2, "ok");
  Publish(3, "ok");
  ModelConfig config = Config();
  config.policy.kind = VersionPolicy::Kind::kSpecific;
  config.policy.specific = {1, 2};
  config.version_labels = {{"stable", 1}, {"canary", 2}};
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  ASSERT_TRUE(manager.SetConfig({config}).ok());
  EXPECT_EQ(manager.Acquire("m", {}).value().version(), 2);
  EXPECT_EQ(manager.Acquire("m", {.number = {}, .label = "stable"}).value().version(), 1);
  EXPECT_FALSE(manager.Acquire("m", {.number = 3, .label = ""}).ok());
  EXPECT_FALSE(manager.Acquire("m", {.number = {}, .label = "nope"}).ok());
}

TEST_F(ModelManagerTest, HandleKeepsUnloadedVersionAlive) {
  Publish(1, "ok");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  ASSERT_TRUE(manager.SetConfig({Config()}).ok());
  auto handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(manager.SetConfig({}).ok());  // model removed while a request holds it
  EXPECT_FALSE(manager.Acquire("m", {}).ok());
  InferenceRequest request;
  request.inputs.push_back(*Tensor::Allocate("x", DataType::kFp32, {2}));
  InferenceResponse response;
  EXPECT_TRUE(handle->Run(request, &response).ok());
  EXPECT_EQ(response.model_version, 1);
}

TEST_F(ModelManagerTest, PollingPicksUpStableNewVersionOnly) {
  Publish(1, "ok");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 1});
  ASSERT_TRUE(manager.SetConfig({Config()}).ok());
  manager.StartPolling();
  Publish(2, "ok");
  // Stable across two polls (1 s apart) → loaded within ~3 s.
  for (int i = 0; i < 60 && manager.Acquire("m", {}).value().version() != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(manager.Acquire("m", {}).value().version(), 2);
  auto statuses = manager.GetVersionStatus("m", {.number = 1, .label = ""});
  ASSERT_TRUE(statuses.ok());
  EXPECT_EQ((*statuses)[0].state, VersionState::kEnd);
}

}  // namespace
}  // namespace serval

#include "batching/batching_hook.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "repository/fake_model_session.h"

namespace serval {
namespace {

std::string MakeVersionDir(const std::string& name) {
  std::string dir = testing::TempDir() + "/batching_hook_test/" + name + "/3";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
}

BatchingOptions Global() {
  BatchingOptions options;
  options.max_batch_size = 16;
  return options;
}

TEST(BatchingHookTest, GlobalParametersUnlessPerModelFileIsOnAndPresent) {
  const std::string dir = MakeVersionDir("m1");
  WriteFile(dir + "/batching_params.pbtxt", "max_batch_size { value: 4 }\n");

  StatusOr<BatchingOptions> off = BatchingOptionsForVersion(Global(), dir, /*per_model=*/false);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->max_batch_size, 16);

  StatusOr<BatchingOptions> on = BatchingOptionsForVersion(Global(), dir, /*per_model=*/true);
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_EQ(on->max_batch_size, 4);

  StatusOr<BatchingOptions> absent = BatchingOptionsForVersion(Global(), MakeVersionDir("m2"), true);
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->max_batch_size, 16);
}

TEST(BatchingHookTest, BadPerModelFileFailsTheLoad) {
  const std::string dir = MakeVersionDir("m3");
  WriteFile(dir + "/batching_params.pbtxt", "max_batch_size { value: 4 }\nallowed_batch_sizes: 8\n");
  StatusOr<BatchingOptions> options = BatchingOptionsForVersion(Global(), dir, true);
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(options.status().message().find("allowed_batch_sizes"), std::string::npos);

  auto hook = MakeBatchingHook(BatchScheduler::Create({1, nullptr}), Global(), true);
  ModelConfig config;
  config.name = "m3";
  StatusOr<std::unique_ptr<ModelSession>> wrapped = hook(config, dir, std::make_unique<FakeModelSession>());
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(wrapped.status().code(), StatusCode::kInvalidArgument);
}

TEST(BatchingHookTest, WrapsABatchableSessionThatStillAnswers) {
  auto hook = MakeBatchingHook(BatchScheduler::Create({1, nullptr}), Global(), false);
  ModelConfig config;
  config.name = "m4";
  StatusOr<std::unique_ptr<ModelSession>> wrapped =
      hook(config, MakeVersionDir("m4"), std::make_unique<FakeModelSession>());
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  auto* batching = dynamic_cast<BatchingSession*>(wrapped->get());
  ASSERT_NE(batching, nullptr);
  EXPECT_EQ(batching->options().max_batch_size, 16);

  StatusOr<Tensor> x = Tensor::Allocate("x", DataType::kFp32, {3});
  ASSERT_TRUE(x.ok());
  const float values[3] = {1.5f, -2.0f, 7.0f};
  std::memcpy(x->mutable_bytes().data(), values, sizeof(values));
  std::vector<Tensor> outputs;
  Status status = (*wrapped)->Run({*x}, {}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name(), "y");
  ASSERT_EQ(outputs[0].bytes().size(), sizeof(values));
  EXPECT_EQ(std::memcmp(outputs[0].bytes().data(), values, sizeof(values)), 0);
  EXPECT_EQ(batching->stats().batches.load(), 1u);
}

}  // namespace
}  // namespace serval

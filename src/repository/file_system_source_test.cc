#include "repository/file_system_source.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace serval {
namespace {
namespace fs = std::filesystem;

TEST(ParseVersionDirNameTest, DigitsOnly) {
  int64_t version = -1;
  EXPECT_TRUE(ParseVersionDirName("0007", &version));
  EXPECT_EQ(version, 7);
  EXPECT_FALSE(ParseVersionDirName("-1", &version));
  EXPECT_FALSE(ParseVersionDirName("+1", &version));
  EXPECT_FALSE(ParseVersionDirName("1a", &version));
  EXPECT_FALSE(ParseVersionDirName("", &version));
  EXPECT_FALSE(ParseVersionDirName("1234567890123456789", &version));
}

class ObserveBasePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("serval_fss_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override { fs::remove_all(base_); }
  void Write(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  fs::path base_;
};

TEST_F(ObserveBasePathTest, FindsOnnxAndSavedModelVersions) {
  Write(base_ / "1" / "model.onnx", "abc");
  Write(base_ / "2" / "saved_model.pb", "ab");
  Write(base_ / "2" / "variables" / "variables.index", "xyz");
  Write(base_ / "notaversion" / "model.onnx", "a");
  fs::create_directories(base_ / "3");  // empty: not a version
  BasePathObservation observed = ObserveBasePath(base_.string(), "");
  ASSERT_EQ(observed.versions.size(), 2u);
  EXPECT_TRUE(observed.missing_reason.empty());
  EXPECT_EQ(observed.versions[1].platform, kOnnxPlatform);
  EXPECT_EQ(observed.versions[1].size, 3);
  EXPECT_EQ(observed.versions[2].platform, kTensorFlowPlatform);
  EXPECT_EQ(observed.versions[2].size, 5);  // saved_model.pb + variables/
}

TEST_F(ObserveBasePathTest, ShorterNameWinsForTheSameVersion) {
  Write(base_ / "0001" / "model.onnx", "a");
  Write(base_ / "1" / "model.onnx", "b");
  BasePathObservation observed = ObserveBasePath(base_.string(), "");
  ASSERT_EQ(observed.versions.size(), 1u);
  EXPECT_EQ(observed.versions[1].dir, (base_ / "1").string());
}

TEST_F(ObserveBasePathTest, SaysWhyNothingIsThere) {
  EXPECT_NE(ObserveBasePath(base_.string(), "").missing_reason.find("no version"), std::string::npos);
  EXPECT_NE(ObserveBasePath((base_ / "absent").string(), "").missing_reason.find("cannot be read"), std::string::npos);
}

TEST_F(ObserveBasePathTest, PlatformBreaksATie) {
  Write(base_ / "1" / "model.onnx", "a");
  Write(base_ / "1" / "saved_model.pb", "b");
  EXPECT_EQ(ObserveBasePath(base_.string(), "").versions[1].platform, kOnnxPlatform);
  EXPECT_EQ(ObserveBasePath(base_.string(), kTensorFlowPlatform).versions[1].platform, kTensorFlowPlatform);
}

}  // namespace
}  // namespace serval

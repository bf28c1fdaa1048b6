#include "api/model_control.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "repository/fake_model_session.h"

namespace serval {
namespace {
namespace fs = std::filesystem;

class ModelControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("serval_mc_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "root");
    fs::create_directories(dir_ / "outside");
    root_ = fs::canonical(dir_ / "root").string();
    outside_ = fs::canonical(dir_ / "outside").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void Publish(const fs::path& base, int64_t version, const std::string& content) {
    fs::create_directories(base / std::to_string(version));
    std::ofstream(base / std::to_string(version) / "model.onnx") << content;
  }
  ModelControlPolicy Policy(std::string token = "") const { return {true, root_, std::move(token)}; }

  fs::path dir_;
  std::string root_;
  std::string outside_;
  FakeEngine engine_;
  ModelManager models_{engine_, {0}};
};

TEST_F(ModelControlTest, DisabledRefusesEveryCredential) {
  ModelControl control(models_, {false, root_, "secret"});
  EXPECT_FALSE(control.enabled());
  for (std::optional<std::string_view> credential :
       {std::optional<std::string_view>(), std::optional<std::string_view>("Bearer secret")}) {
    Status status = control.Authorize(credential);
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
    EXPECT_NE(status.message().find("--enable_model_control"), std::string::npos) << status.message();
  }
}

TEST_F(ModelControlTest, EnabledWithoutTokenAcceptsAnyCaller) {
  ModelControl control(models_, Policy());
  EXPECT_TRUE(control.Authorize(std::nullopt).ok());
  EXPECT_TRUE(control.Authorize("Bearer anything").ok());
}

TEST_F(ModelControlTest, TokenMustMatchExactly) {
  ModelControl control(models_, Policy("s3cret-token"));
  EXPECT_EQ(control.Authorize(std::nullopt).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(control.Authorize("").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(control.Authorize("s3cret-token").code(), StatusCode::kUnauthenticated);  // no scheme
  EXPECT_EQ(control.Authorize("Basic s3cret-token").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(control.Authorize("Bearer s3cret-toke").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(control.Authorize("Bearer s3cret-token2").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(control.Authorize("Bearer S3cret-token").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(control.Authorize("Bearer ").code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(control.Authorize("Bearer s3cret-token").ok());
  EXPECT_TRUE(control.Authorize("bearer   s3cret-token ").ok());
}

TEST(BearerTokenTest, ParsesTheScheme) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER\tabc"), "abc");
  EXPECT_EQ(BearerToken("Bearerabc"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer    "), std::nullopt);
  EXPECT_EQ(BearerToken("Token abc"), std::nullopt);
}

TEST_F(ModelControlTest, BasePathMustLieUnderTheRoot) {
  ModelControl control(models_, Policy());
  fs::create_directories(dir_ / "root" / "m");
  StatusOr<std::string> inside = control.CheckBasePath(root_ + "/m/");
  ASSERT_TRUE(inside.ok()) << inside.status().message();
  EXPECT_EQ(*inside, root_ + "/m");
  EXPECT_TRUE(control.CheckBasePath(root_ + "/not_yet_there").ok());
  EXPECT_TRUE(control.CheckBasePath(root_).ok());

  Status sibling = control.CheckBasePath(root_ + "2/m").status();  // a prefix, not a parent
  EXPECT_EQ(sibling.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(sibling.message().find(root_ + "2/m"), std::string::npos) << sibling.message();
  EXPECT_EQ(control.CheckBasePath(root_ + "/../outside").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(control.CheckBasePath(root_ + "/m/../../outside/x").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(control.CheckBasePath("/").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(control.CheckBasePath("relative/m").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(control.CheckBasePath("").status().code(), StatusCode::kInvalidArgument);

  fs::create_directory_symlink(outside_, dir_ / "root" / "escape");
  EXPECT_EQ(control.CheckBasePath(root_ + "/escape").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(control.CheckBasePath(root_ + "/escape/m").status().code(), StatusCode::kPermissionDenied);
}

TEST_F(ModelControlTest, LoadInferUnloadAndIndex) {
  ModelControl control(models_, Policy());
  Publish(dir_ / "root" / "m", 1, "ok");
  Publish(dir_ / "root" / "m", 2, "ok");
  fs::create_directories(dir_ / "root" / "other");
  fs::create_directories(dir_ / "root" / "bad name");  // not a model name: not listed
  std::ofstream(dir_ / "root" / "a_file") << "x";      // not a directory: not listed

  std::vector<RepositoryIndexEntry> before = control.Index(false);
  EXPECT_EQ(before, (std::vector<RepositoryIndexEntry>{{"m", "", "UNAVAILABLE", "unloaded"},
                                                       {"other", "", "UNAVAILABLE", "unloaded"}}));
  EXPECT_TRUE(control.Index(true).empty());

  ASSERT_TRUE(control.Load("m").ok());
  StatusOr<ServableHandle> handle = models_.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->version(), 2);  // the default policy: latest 1
  EXPECT_EQ(control.Index(true), (std::vector<RepositoryIndexEntry>{{"m", "2", "READY", ""}}));

  ASSERT_TRUE(control.Unload("m").ok());
  EXPECT_EQ(models_.Acquire("m", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(handle->version(), 2);  // a handle taken before the unload keeps its version
  EXPECT_EQ(control.Unload("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(control.Index(false).front(), (RepositoryIndexEntry{"m", "", "UNAVAILABLE", "unloaded"}));
}

TEST_F(ModelControlTest, LoadRefusesBadNamesMissingDirsEscapesAndBrokenModels) {
  ModelControl control(models_, Policy());
  EXPECT_EQ(control.Load("..").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(control.Load("a/b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(control.Load("").code(), StatusCode::kInvalidArgument);
  Status missing = control.Load("missing");
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("failed to load 'missing'"), std::string::npos) << missing.message();

  Publish(dir_ / "outside" / "m", 1, "ok");
  fs::create_directory_symlink(dir_ / "outside" / "m", dir_ / "root" / "linked");
  EXPECT_EQ(control.Load("linked").code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(models_.ModelNames().empty());

  Publish(dir_ / "root" / "broken", 1, "garbage");
  Status broken = control.Load("broken");
  EXPECT_EQ(broken.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(broken.message().find("not a model"), std::string::npos) << broken.message();
  std::vector<RepositoryIndexEntry> index = control.Index(false);
  ASSERT_FALSE(index.empty());
  EXPECT_EQ(index.front().name, "broken");
  EXPECT_EQ(index.front().state, "UNAVAILABLE");
  EXPECT_NE(index.front().reason.find("not a model"), std::string::npos) << index.front().reason;
}

TEST_F(ModelControlTest, ReloadWithOneBadEntryChangesNothing) {
  ModelControl control(models_, Policy());
  Publish(dir_ / "root" / "a", 1, "ok");
  Publish(dir_ / "root" / "b", 1, "ok");
  Publish(dir_ / "outside" / "c", 1, "ok");
  ASSERT_TRUE(control.Load("a").ok());

  ModelConfig b;
  b.name = "b";
  b.base_path = root_ + "/b";
  ModelConfig c;
  c.name = "c";
  c.base_path = outside_ + "/c";
  Status refused = control.ReloadConfig({b, c});
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.message().find("model 'c'"), std::string::npos) << refused.message();
  EXPECT_EQ(models_.ModelNames(), std::vector<std::string>{"a"});

  ASSERT_TRUE(control.ReloadConfig({b}).ok());
  EXPECT_EQ(models_.ModelNames(), std::vector<std::string>{"b"});  // exactly the new list
  EXPECT_TRUE(models_.Acquire("b", {}).ok());
}

TEST(RepositoryBodyTest, DecodesReadyAndParameters) {
  StatusOr<RepositoryRequestBody> empty = DecodeRepositoryRequestBody(" \n");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->ready);
  StatusOr<RepositoryRequestBody> ready = DecodeRepositoryRequestBody(R"({"other":[1,{"ready":false}],"ready":true})");
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_TRUE(ready->ready);
  StatusOr<RepositoryRequestBody> params =
      DecodeRepositoryRequestBody(R"({"parameters":{"unload_dependents":false,"x":{"config":1}}})");
  ASSERT_TRUE(params.ok()) << params.status().message();
  EXPECT_EQ(params->parameter_names, (std::vector<std::string>{"unload_dependents", "x"}));
  EXPECT_TRUE(CheckLoadParameters(params->parameter_names).ok());
}

TEST(RepositoryBodyTest, RefusesWrongShapes) {
  for (const char* body : {"[]", "true", "\"x\"", R"({"ready":"yes"})", R"({"ready":[true]})", R"({"ready":{}})",
                           R"({"parameters":[]})", R"({"parameters":1})", "{", R"({"ready":true)"}) {
    EXPECT_EQ(DecodeRepositoryRequestBody(body).status().code(), StatusCode::kInvalidArgument) << body;
  }
  std::string deep(500000, '[');
  EXPECT_EQ(DecodeRepositoryRequestBody(deep).status().code(), StatusCode::kInvalidArgument);
  std::string deep_in_key = R"({"x":)" + deep;
  EXPECT_EQ(DecodeRepositoryRequestBody(deep_in_key).status().code(), StatusCode::kInvalidArgument);
  std::string big = R"({"x":")" + std::string(kMaxRepositoryBodyBytes, 'a') + "\"}";
  EXPECT_EQ(DecodeRepositoryRequestBody(big).status().code(), StatusCode::kResourceExhausted);
}

TEST(RepositoryBodyTest, LoadParametersThatOverrideFilesAreRefused) {
  StatusOr<RepositoryRequestBody> body =
      DecodeRepositoryRequestBody(R"({"parameters":{"config":"{}","file:1/model.onnx":"AAAA"}})");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(CheckLoadParameters(body->parameter_names).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckLoadParameters({"file:1/model.onnx"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckLoadParameters({"config"}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckLoadParameters({}).ok());
}

}  // namespace
}  // namespace serval

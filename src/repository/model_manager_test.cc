#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "repository/fake_model_session.h"
#include "repository/model_manager.h"
#include "repository/triton_repository.h"

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
  // Version 1 unloads in the same sync, just after version 2 became AVAILABLE: wait for it (bounded).
  StatusOr<std::vector<VersionStatus>> statuses = manager.GetVersionStatus("m", {.number = 1, .label = ""});
  for (int i = 0; i < 50 && statuses.ok() && (*statuses)[0].state != VersionState::kEnd; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    statuses = manager.GetVersionStatus("m", {.number = 1, .label = ""});
  }
  ASSERT_TRUE(statuses.ok());
  EXPECT_EQ((*statuses)[0].state, VersionState::kEnd);
}

// Publishes version 2 under a running manager and reports what a request could reach while it was loading.
TEST_F(ModelManagerTest, ResourcePreservingUnloadsTheOldVersionBeforeLoading) {
  for (bool resource : {false, true}) {
    fs::remove_all(base_);
    Publish(1, "ok");
    ModelManager* current = nullptr;
    bool v1_reachable_during_v2_load = false;
    ModelManagerOptions options{.file_system_poll_wait_seconds = 0};
    options.resource_preserving = resource;
    options.warmup = [&](const std::string& dir, const ModelSession&) -> StatusOr<int> {
      if (dir.ends_with("/2")) v1_reachable_during_v2_load = current->Acquire("m", {.number = 1, .label = ""}).ok();
      return 0;
    };
    ModelManager manager(engine_, options);
    current = &manager;
    ASSERT_TRUE(manager.SetConfig({Config()}).ok());
    Publish(2, "ok");
    // Each LoadModel is one sync: the first sees version 2, the second sees it unchanged and loads it.
    ASSERT_TRUE(manager.LoadModel(Config()).ok());
    ASSERT_TRUE(manager.LoadModel(Config()).ok());
    EXPECT_EQ(manager.Acquire("m", {}).value().version(), 2);
    EXPECT_EQ(v1_reachable_during_v2_load, !resource) << (resource ? "resource" : "availability");
    auto v1 = manager.GetVersionStatus("m", {.number = 1, .label = ""});
    ASSERT_TRUE(v1.ok());
    EXPECT_EQ((*v1)[0].state, VersionState::kEnd);
  }
}

TEST_F(ModelManagerTest, TransientLoadFailuresAreRetried) {
  Publish(1, "ok");
  for (int retries : {2, 1}) {
    int attempts = 0;
    ModelManagerOptions options{.file_system_poll_wait_seconds = 0};
    options.max_num_load_retries = retries;
    options.load_retry_interval_micros = 1000;
    options.wrap_session = [&](const ModelConfig&, const std::string&,
                               std::unique_ptr<ModelSession> session) -> StatusOr<std::unique_ptr<ModelSession>> {
      if (++attempts <= 2) return Unavailable("disk not ready");
      return session;
    };
    ModelManager manager(engine_, options);
    Status loaded = manager.SetConfig({Config()});
    if (retries == 2) {
      EXPECT_TRUE(loaded.ok()) << loaded.message();
      EXPECT_EQ(attempts, 3);
    } else {
      EXPECT_EQ(loaded.code(), StatusCode::kUnavailable);
      EXPECT_EQ(attempts, 2);
      EXPECT_EQ(manager.GetVersionStatus("m", {}).value()[0].state, VersionState::kEnd);
    }
  }
}

TEST_F(ModelManagerTest, DeterministicLoadFailuresAreNotRetried) {
  Publish(1, "garbage");
  int loads = 0;
  ModelManagerOptions options{.file_system_poll_wait_seconds = 0};
  options.load_retry_interval_micros = 1000;
  options.on_load_finished = [&](const std::string&, int64_t, double, bool) { ++loads; };
  ModelManager manager(engine_, options);
  EXPECT_EQ(manager.SetConfig({Config()}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(loads, 1);
}

TEST_F(ModelManagerTest, LoadThreadsLoadModelsInParallel) {
  Publish(1, "ok");
  std::mutex mutex;
  std::condition_variable both;
  int loading = 0;
  bool overlapped = false;
  ModelManagerOptions options{.file_system_poll_wait_seconds = 0};
  options.num_load_threads = 2;
  options.warmup = [&](const std::string&, const ModelSession&) -> StatusOr<int> {
    std::unique_lock lock(mutex);
    ++loading;
    both.notify_all();
    overlapped = both.wait_for(lock, std::chrono::seconds(5), [&] { return loading == 2; });
    return 0;
  };
  ModelManager manager(engine_, options);
  ModelConfig a = Config();
  ModelConfig b = Config();
  b.name = "m2";
  ASSERT_TRUE(manager.SetConfig({a, b}).ok());
  EXPECT_TRUE(overlapped) << "the two models did not load at the same time";
  EXPECT_TRUE(manager.AllModelsReady());
}

TEST_F(ModelManagerTest, LabelMayOnlyPointAtAvailableVersion) {
  Publish(1, "ok");
  ModelConfig config = Config();
  config.policy.kind = VersionPolicy::Kind::kAll;
  config.version_labels = {{"stable", 1}};
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  ASSERT_TRUE(manager.SetConfig({config}).ok());
  config.version_labels = {{"stable", 5}};
  Status refused = manager.SetConfig({config});
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager.Acquire("m", {.number = {}, .label = "stable"}).value().version(), 1);  // kept
  config.version_labels = {{"stable", 1}, {"next", 5}};
  ModelManagerOptions allow{.file_system_poll_wait_seconds = 0};
  allow.allow_version_labels_for_unavailable_models = true;
  ModelManager lenient(engine_, allow);
  EXPECT_TRUE(lenient.SetConfig({config}).ok());  // a new label may name a version not loaded yet
  config.version_labels = {{"stable", 5}, {"next", 5}};
  EXPECT_FALSE(lenient.SetConfig({config}).ok());  // an existing label may not move to one
}

}  // namespace
}  // namespace serval

namespace serval {
namespace {

// A version converted with one graph per signature (signatures.json): every graph loads into one session,
// and the version is AVAILABLE only when all of them do.
TEST_F(ModelManagerTest, SignatureFileVersionServesEveryGraph) {
  auto publish = [&](int64_t version, const std::string& second_graph) {
    const fs::path dir = base_ / std::to_string(version);
    fs::create_directories(dir);
    std::ofstream(dir / "first.onnx") << "ok";
    std::ofstream(dir / "second.onnx") << second_graph;
    std::ofstream(dir / "signatures.json") << R"({"format": "serval.signatures.v1", "signatures": {
      "predict_it": {"method_name": "tensorflow/serving/predict", "graph": "first.onnx",
        "inputs": {"in": {"onnx_name": "x", "dtype": "DT_FLOAT", "shape": [-1]}},
        "outputs": {"out": {"onnx_name": "y", "dtype": "DT_FLOAT", "shape": [-1]}}},
      "regress_it": {"method_name": "tensorflow/serving/regress", "graph": "second.onnx",
        "inputs": {"in2": {"onnx_name": "x", "dtype": "DT_FLOAT", "shape": [-1]}},
        "outputs": {"out2": {"onnx_name": "y", "dtype": "DT_FLOAT", "shape": [-1]}}}}})";
  };
  publish(1, "ok");       // no model.onnx: the signature file alone makes it a version
  publish(2, "garbage");  // one graph fails: the whole version fails
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  EXPECT_TRUE(manager.SetConfig({Config()}).ok());
  auto statuses = manager.GetVersionStatus("m", {});
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 2u);
  EXPECT_EQ((*statuses)[0].state, VersionState::kEnd);
  EXPECT_NE((*statuses)[0].status.message().find("signature 'regress_it': cannot load"), std::string::npos)
      << (*statuses)[0].status.message();
  auto handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->version(), 1);
  ASSERT_EQ(handle->signature_defs().size(), 2u);
  EXPECT_EQ(handle->signature_defs()[1].method_name, "tensorflow/serving/regress");
  InferenceRequest request;
  request.signature_name = "regress_it";
  Tensor in = *Tensor::Allocate("in2", DataType::kFp32, {1});
  std::memset(in.mutable_bytes().data(), 0, 4);
  request.inputs.push_back(in);
  InferenceResponse response;
  Status status = handle->Run(request, &response);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(response.outputs.size(), 1u);
  EXPECT_EQ(response.outputs[0].name(), "out2");
  request.signature_name.clear();  // no serving_default in this version
  EXPECT_EQ(handle->Run(request, &response).code(), StatusCode::kFailedPrecondition);

  // A hostile signature file fails its version with a message naming the file.
  const fs::path dir = base_ / "3";
  fs::create_directories(dir);
  std::ofstream(dir / "signatures.json") << R"({"format": "serval.signatures.v1", "signatures": {"s": {
      "method_name": "m", "graph": "../1/first.onnx", "inputs": {}, "outputs": {}}}})";
  ModelManager second(engine_, {.file_system_poll_wait_seconds = 0});
  EXPECT_TRUE(second.SetConfig({Config()}).ok());
  auto third = second.GetVersionStatus("m", {.number = 3, .label = ""});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)[0].state, VersionState::kEnd);
  EXPECT_NE((*third)[0].status.message().find("signatures.json: signature 's': graph '../1/first.onnx' must not leave"),
            std::string::npos)
      << (*third)[0].status.message();
}

// Models of a Triton model repository: the config is read, checked against the model and enforced.
class TritonModelManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = fs::temp_directory_path() / ("serval_mm_triton_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(repo_);
    fs::create_directories(repo_ / "m" / "1");
    std::ofstream(repo_ / "m" / "1" / "model.onnx") << "ok";
  }
  void TearDown() override { fs::remove_all(repo_); }
  void WriteConfig(const std::string& text) { std::ofstream(repo_ / "m" / "config.pbtxt") << text; }
  static InferenceRequest Rows(int64_t rows) {
    InferenceRequest request;
    StatusOr<Tensor> x = Tensor::Allocate("x", DataType::kFp32, {rows});
    EXPECT_TRUE(x.ok());
    request.inputs.push_back(std::move(x).value());
    return request;
  }

  fs::path repo_;
  FakeEngine engine_;
};

TEST_F(TritonModelManagerTest, MaxBatchSizeIsEnforcedAndStatisticsCount) {
  WriteConfig("max_batch_size: 2\ninput [ { name: \"x\" data_type: TYPE_FP32 dims: [ ] } ]\n");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  ASSERT_TRUE(manager.SetConfig({ReadRepositoryModel(repo_.string(), "m")}).ok());
  StatusOr<ServableHandle> handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok()) << handle.status().message();
  ASSERT_NE(handle->triton(), nullptr);
  EXPECT_EQ(handle->triton()->config.max_batch_size, 2);
  EXPECT_EQ(handle->signature().inputs[0].shape, (Shape{-1}));
  InferenceResponse response;
  EXPECT_TRUE(handle->Run(Rows(2), &response).ok());
  EXPECT_TRUE(handle->Run(Rows(1), &response).ok());
  Status over = handle->Run(Rows(3), &response);
  EXPECT_EQ(over.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(over.message(), "inference request batch-size must be <= 2 for 'm'");
  std::optional<TritonStatisticsSnapshot> stats = handle->triton_statistics();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->inference_count, 3u);
  EXPECT_EQ(stats->execution_count, 2u);
  EXPECT_EQ(stats->success_count, 2u);
  EXPECT_EQ(stats->fail_count, 1u);
  EXPECT_GT(stats->last_inference_ms, 0u);
}

TEST_F(TritonModelManagerTest, NoConfigIsCompletedFromTheModel) {
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  ASSERT_TRUE(manager.SetConfig({ReadRepositoryModel(repo_.string(), "m")}).ok());
  StatusOr<ServableHandle> handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  ASSERT_NE(handle->triton(), nullptr);
  EXPECT_TRUE(handle->triton()->auto_completed);
  EXPECT_EQ(handle->triton()->config.max_batch_size, kTritonDefaultMaxBatchSize);
  EXPECT_TRUE(handle->triton()->config.inputs[0].dims.empty());
}

TEST_F(TritonModelManagerTest, RefusedConfigFailsTheLoadNamingTheField) {
  WriteConfig("max_batch_size: 2\nensemble_scheduling { }\n");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  Status status = manager.SetConfig({ReadRepositoryModel(repo_.string(), "m")});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("ensemble_scheduling"), std::string::npos) << status.message();
  EXPECT_FALSE(manager.Acquire("m", {}).ok());
}

TEST_F(TritonModelManagerTest, ConfigThatDoesNotMatchTheModelFailsTheLoad) {
  WriteConfig("max_batch_size: 0\ninput [ { name: \"x\" data_type: TYPE_INT32 dims: [ -1 ] } ]\n");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  Status status = manager.SetConfig({ReadRepositoryModel(repo_.string(), "m")});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("TYPE_INT32"), std::string::npos) << status.message();
}

TEST_F(TritonModelManagerTest, DynamicBatchingWithoutABatcherIsRefused) {
  WriteConfig("max_batch_size: 4\ndynamic_batching { }\n");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  Status status = manager.SetConfig({ReadRepositoryModel(repo_.string(), "m")});
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
}

TEST_F(TritonModelManagerTest, ParametersNeedAnEngineThatAppliesThem) {
  // The fake engine cannot apply session settings: it must refuse, not ignore them.
  WriteConfig("parameters { key: \"intra_op_thread_count\" value: { string_value: \"2\" } }\n");
  ModelManager manager(engine_, {.file_system_poll_wait_seconds = 0});
  Status status = manager.SetConfig({ReadRepositoryModel(repo_.string(), "m")});
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace serval

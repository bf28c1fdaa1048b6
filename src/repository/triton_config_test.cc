#include "repository/triton_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "repository/triton_repository.h"
#include "repository/triton_session.h"

namespace serval {
namespace {
namespace fs = std::filesystem;

TensorSpec Spec(std::string name, DataType dtype, Shape shape) {
  TensorSpec spec;
  spec.name = std::move(name);
  spec.dtype = dtype;
  spec.shape = std::move(shape);
  return spec;
}

TritonTensorConfig Io(std::string name, DataType dtype, std::vector<int64_t> dims,
                      std::optional<std::vector<int64_t>> reshape = std::nullopt, std::string label = "") {
  TritonTensorConfig tensor;
  tensor.name = std::move(name);
  tensor.dtype = dtype;
  tensor.dims = std::move(dims);
  tensor.reshape = std::move(reshape);
  tensor.label_filename = std::move(label);
  return tensor;
}

ModelSignature AddSub(const Shape& shape) {
  ModelSignature signature;
  signature.inputs = {Spec("INPUT0", DataType::kFp32, shape), Spec("INPUT1", DataType::kFp32, shape)};
  signature.outputs = {Spec("OUTPUT0", DataType::kFp32, shape), Spec("OUTPUT1", DataType::kFp32, shape)};
  return signature;
}

constexpr const char* kFullConfig = R"pb(
  name: "add_sub"
  platform: "onnxruntime_onnx"
  max_batch_size: 8
  version_policy: { latest { num_versions: 2 } } input
  [ {
    name: "INPUT0"
    data_type: TYPE_FP32
    dims: [ 16 ]
  }
    , {
      name: "INPUT1"
      data_type: TYPE_FP32
      dims: [ 4, 4 ]
      reshape: { shape: [ 16 ] }
      optional: false
    }] output
  [ {
    name: "OUTPUT0"
    data_type: TYPE_FP32
    dims: [ 16 ]
    label_filename: "labels.txt"
  }]
  dynamic_batching {
    preferred_batch_size: [ 4, 8 ]
    max_queue_delay_microseconds: 100
  } instance_group
  [ { count: 2 kind: KIND_CPU }]
  parameters {
    key: "intra_op_thread_count"
    value: { string_value: "2" }
  }
  parameters {
    key: "execution_mode"
    value: { string_value: "1" }
  }
)pb";

TEST(TritonConfigTest, ParsesEveryFieldServalReads) {
  StatusOr<TritonModelConfig> config = ParseTritonModelConfig(kFullConfig, "add_sub");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->max_batch_size, 8);
  EXPECT_EQ(ServalPlatform(*config), "onnx");
  EXPECT_EQ(config->version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(config->version_policy.latest_count, 2u);
  ASSERT_EQ(config->inputs.size(), 2u);
  EXPECT_EQ(config->inputs[1].dims, (std::vector<int64_t>{4, 4}));
  ASSERT_TRUE(config->inputs[1].reshape.has_value());
  EXPECT_EQ(*config->inputs[1].reshape, (std::vector<int64_t>{16}));
  EXPECT_EQ(config->outputs[0].label_filename, "labels.txt");
  EXPECT_TRUE(config->dynamic_batching);
  EXPECT_EQ(config->preferred_batch_sizes, (std::vector<int32_t>{4, 8}));
  EXPECT_EQ(config->max_queue_delay_microseconds, 100u);
  ASSERT_EQ(config->instance_groups.size(), 1u);
  EXPECT_EQ(config->instance_groups[0].count, 2);
  EXPECT_EQ(config->instance_groups[0].kind, "KIND_CPU");
  EXPECT_EQ(config->ort.intra_op_threads, 2);
  EXPECT_EQ(config->ort.parallel_execution, true);
  EXPECT_FALSE(config->ort.inter_op_threads.has_value());
}

TEST(TritonConfigTest, UnknownFieldIsRefusedByName) {
  StatusOr<TritonModelConfig> config =
      ParseTritonModelConfig("name: \"m\"\nmax_batch_size: 1\nsequence_batching { }\n", "m");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("sequence_batching"), std::string::npos) << config.status().message();
  StatusOr<TritonModelConfig> nested = ParseTritonModelConfig("input [ { name: \"a\" bogus_field: 1 } ]", "m");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("bogus_field"), std::string::npos) << nested.status().message();
}

TEST(TritonConfigTest, RefusesWhatServalCannotHonour) {
  for (const char* text : {
           "name: \"other\"",
           "platform: \"tensorrt_plan\"",
           "max_batch_size: -1",
           "max_batch_size: 0 dynamic_batching { }",
           "max_batch_size: 4 dynamic_batching { preferred_batch_size: 5 }",
           "max_batch_size: 2 model_warmup [ { name: \"w\" batch_size: 3 } ]",
           "model_warmup [ { name: \"w\" inputs { key: \"a\" value: { data_type: TYPE_FP32 dims: [ 1 ] } } } ]",
           "model_warmup [{name:\"w\" inputs {key:\"a\" value:{data_type:TYPE_FP32 input_data_file:\"../x\"}}}]",
           "optimization { execution_accelerators { gpu_execution_accelerator [ { name: \"tensorrt\" } ] } }",
           "parameters { key: \"unknown\" value: { string_value: \"1\" } }",
           "parameters { key: \"intra_op_thread_count\" value: { string_value: \"x\" } }",
           "input [ { name: \"a\" data_type: TYPE_FP32 dims: [ 0 ] } ]",
           "output [ { name: \"a\" data_type: TYPE_FP32 dims: [ 1 ] label_filename: \"../x\" } ]",
       }) {
    StatusOr<TritonModelConfig> config = ParseTritonModelConfig(text, "m");
    EXPECT_FALSE(config.ok()) << text;
    if (!config.ok()) {
      EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(TritonConfigTest, WarmupSamplesAndAcceleratorsNamedInTheError) {
  StatusOr<TritonModelConfig> config = ParseTritonModelConfig(
      "max_batch_size: 4 model_warmup [ { name: \"w\" batch_size: 2 count: 3 inputs [ { key: \"b\" value: { "
      "data_type: TYPE_INT32 dims: [ 16 ] random_data: true } }, { key: \"a\" value: { data_type: TYPE_FP32 "
      "dims: [ 16 ] zero_data: true } } ] } ]",
      "m");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->warmups.size(), 1u);
  EXPECT_EQ(config->warmups[0].batch_size, 2u);
  EXPECT_EQ(config->warmups[0].count, 3u);
  ASSERT_EQ(config->warmups[0].inputs.size(), 2u);
  EXPECT_EQ(config->warmups[0].inputs[0].name, "a");  // by name
  EXPECT_EQ(config->warmups[0].inputs[0].data, TritonWarmupInput::Data::kZero);
  EXPECT_EQ(config->warmups[0].inputs[1].data, TritonWarmupInput::Data::kRandom);
  StatusOr<TritonModelConfig> accelerated = ParseTritonModelConfig(
      "optimization { execution_accelerators { cpu_execution_accelerator [ { name: \"openvino\" } ] } }", "m");
  ASSERT_FALSE(accelerated.ok());
  EXPECT_NE(accelerated.status().message().find("optimization.execution_accelerators.cpu_execution_accelerator "
                                                "'openvino' is not available"),
            std::string::npos)
      << accelerated.status().message();
}

TEST(TritonConfigTest, AutoCompleteBatchesWhenEveryFirstDimIsVariable) {
  TritonModelConfig config = AutoCompleteTritonConfig("m", "onnx", AddSub({-1, 16}), 4);
  EXPECT_EQ(config.max_batch_size, 4);
  EXPECT_EQ(config.platform, "onnxruntime_onnx");
  EXPECT_EQ(config.inputs[0].dims, (std::vector<int64_t>{16}));
  EXPECT_EQ(config.outputs[1].dims, (std::vector<int64_t>{16}));
}

TEST(TritonConfigTest, AutoCompleteDoesNotBatchAFixedOrOnlyDim) {
  TritonModelConfig fixed = AutoCompleteTritonConfig("m", "onnx", AddSub({16}), 4);
  EXPECT_EQ(fixed.max_batch_size, 0);
  EXPECT_EQ(fixed.inputs[0].dims, (std::vector<int64_t>{16}));
  ModelSignature mixed = AddSub({-1, 16});
  mixed.outputs[0].shape = {16};
  EXPECT_EQ(AutoCompleteTritonConfig("m", "onnx", mixed, 4).max_batch_size, 0);
  // A model whose only dim is variable: Triton batches it ([-1] → dims []).
  TritonModelConfig only = AutoCompleteTritonConfig("m", "onnx", AddSub({-1}), 4);
  EXPECT_EQ(only.max_batch_size, 4);
  EXPECT_TRUE(only.inputs[0].dims.empty());
}

TEST(TritonConfigTest, CheckAgainstModel) {
  TritonModelConfig config;
  config.name = "m";
  config.max_batch_size = 8;
  EXPECT_TRUE(CheckTritonConfigAgainstModel(config, AddSub({-1, 16})).ok());
  StatusOr<TritonModelConfig> completed = CheckTritonConfigAgainstModel(config, AddSub({-1, 16}));
  ASSERT_TRUE(completed.ok());
  EXPECT_EQ(completed->inputs.size(), 2u);
  EXPECT_EQ(completed->inputs[0].dims, (std::vector<int64_t>{16}));

  StatusOr<TritonModelConfig> fixed = CheckTritonConfigAgainstModel(config, AddSub({16}));
  ASSERT_FALSE(fixed.ok());
  EXPECT_NE(fixed.status().message().find("max_batch_size"), std::string::npos);

  config.inputs = {Io("INPUT0", DataType::kInt32, {16})};
  StatusOr<TritonModelConfig> dtype = CheckTritonConfigAgainstModel(config, AddSub({-1, 16}));
  ASSERT_FALSE(dtype.ok());
  EXPECT_NE(dtype.status().message().find("TYPE_INT32"), std::string::npos) << dtype.status().message();

  config.inputs = {Io("INPUT0", DataType::kFp32, {8})};
  EXPECT_FALSE(CheckTritonConfigAgainstModel(config, AddSub({-1, 16})).ok());

  config.inputs = {Io("NOPE", DataType::kFp32, {16})};
  EXPECT_FALSE(CheckTritonConfigAgainstModel(config, AddSub({-1, 16})).ok());

  // A config that lists only one of two inputs.
  config.inputs = {Io("INPUT0", DataType::kFp32, {16})};
  EXPECT_FALSE(CheckTritonConfigAgainstModel(config, AddSub({-1, 16})).ok());

  config.inputs = {Io("INPUT0", DataType::kFp32, {4, 4}, std::vector<int64_t>{16}),
                   Io("INPUT1", DataType::kFp32, {16})};
  EXPECT_TRUE(CheckTritonConfigAgainstModel(config, AddSub({-1, 16})).ok());
}

TEST(TritonConfigTest, SignatureHasTheBatchDimInFront) {
  TritonModelConfig config = AutoCompleteTritonConfig("m", "onnx", AddSub({-1, 16}), 4);
  ModelSignature signature = TritonSignature(config);
  EXPECT_EQ(signature.inputs[0].shape, (Shape{-1, 16}));
  config.max_batch_size = 0;
  EXPECT_EQ(TritonSignature(config).inputs[0].shape, (Shape{16}));
}

TEST(TritonConfigTest, TypeNames) {
  EXPECT_EQ(TritonTypeName(DataType::kFp32), "TYPE_FP32");
  EXPECT_EQ(TritonTypeName(DataType::kString), "TYPE_STRING");
  EXPECT_EQ(DataTypeFromTritonName("TYPE_STRING"), DataType::kString);
  EXPECT_EQ(DataTypeFromTritonName("TYPE_BOOL"), DataType::kBool);
  EXPECT_EQ(DataTypeFromTritonName("TYPE_BYTES"), DataType::kInvalid);
  EXPECT_EQ(DataTypeFromTritonName("FP32"), DataType::kInvalid);
}

TEST(TritonConfigTest, ReshapeTensor) {
  StatusOr<Tensor> tensor = Tensor::Allocate("x", DataType::kFp32, {2, 4, 4});
  ASSERT_TRUE(tensor.ok());
  StatusOr<Tensor> flat = ReshapeTensor(*tensor, {16}, /*batch=*/true);
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->shape(), (Shape{2, 16}));
  StatusOr<Tensor> variable = ReshapeTensor(*tensor, {-1, 2}, /*batch=*/true);
  ASSERT_TRUE(variable.ok());
  EXPECT_EQ(variable->shape(), (Shape{2, 8, 2}));
  EXPECT_FALSE(ReshapeTensor(*tensor, {15}, true).ok());
}

class TritonRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = fs::temp_directory_path() / ("serval_repo_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(repo_);
    fs::create_directories(repo_);
  }
  void TearDown() override { fs::remove_all(repo_); }
  void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  fs::path repo_;
};

TEST_F(TritonRepositoryTest, ReadsEveryModelDirectory) {
  Write(repo_ / "a" / "config.pbtxt", "max_batch_size: 2\nversion_policy { all { } }\n");
  Write(repo_ / "b" / "1" / "model.onnx", "x");
  Write(repo_ / "bad" / "config.pbtxt", "nonsense_field: 3\n");
  Write(repo_ / "a file", "not a model");
  fs::create_directories(repo_ / "bad name!");
  StatusOr<std::vector<ModelConfig>> models = ReadRepository(repo_.string());
  ASSERT_TRUE(models.ok()) << models.status().message();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].name, "a");
  EXPECT_TRUE((*models)[0].triton);
  ASSERT_TRUE((*models)[0].triton_config.has_value());
  EXPECT_EQ((*models)[0].policy.kind, VersionPolicy::Kind::kAll);
  EXPECT_EQ((*models)[1].name, "b");
  EXPECT_FALSE((*models)[1].triton_config.has_value());
  EXPECT_EQ((*models)[1].base_path, (repo_ / "b").string());
  EXPECT_EQ((*models)[2].name, "bad");
  EXPECT_NE((*models)[2].triton_config_error.message().find("nonsense_field"), std::string::npos);

  StatusOr<std::vector<ModelConfig>> only = ReadRepository(repo_.string(), {"b"});
  ASSERT_TRUE(only.ok());
  ASSERT_EQ(only->size(), 1u);
  EXPECT_FALSE(ReadRepository(repo_.string(), {"absent"}).ok());
  EXPECT_FALSE(ReadRepository((repo_ / "nope").string()).ok());
}

TEST_F(TritonRepositoryTest, LabelsAreReadFromTheModelDirectory) {
  Write(repo_ / "c" / "labels.txt", "cat\ndog\r\n");
  TritonModelConfig config;
  config.name = "c";
  config.outputs = {Io("OUT", DataType::kFp32, {2}, std::nullopt, "labels.txt")};
  auto labels = ReadTritonLabels(config, (repo_ / "c").string());
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ((*labels)["OUT"], (std::vector<std::string>{"cat", "dog"}));
  config.outputs[0].label_filename = "missing.txt";
  EXPECT_FALSE(ReadTritonLabels(config, (repo_ / "c").string()).ok());
}

}  // namespace
}  // namespace serval

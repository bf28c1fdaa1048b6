#include "repository/model_file_check.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "onnx/onnx_external_data.pb.h"
#include "repository/fake_model_session.h"
#include "repository/model_manager.h"

namespace serval {
namespace {
namespace fs = std::filesystem;

// Models are written with our own generated classes for the ONNX subset (same field numbers as
// onnx.proto), so these tests need neither Python nor ONNX Runtime.
onnx::TensorProto ExternalTensor(const std::string& location, std::optional<std::string> offset = std::nullopt,
                                 std::optional<std::string> length = std::nullopt) {
  onnx::TensorProto tensor;
  tensor.set_name("w");
  tensor.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* entry = tensor.add_external_data();
  entry->set_key("location");
  entry->set_value(location);
  if (offset) {
    entry = tensor.add_external_data();
    entry->set_key("offset");
    entry->set_value(*offset);
  }
  if (length) {
    entry = tensor.add_external_data();
    entry->set_key("length");
    entry->set_value(*length);
  }
  return tensor;
}

onnx::ModelProto ModelWithInitializer(const onnx::TensorProto& tensor) {
  onnx::ModelProto model;
  *model.mutable_graph()->add_initializer() = tensor;
  return model;
}

class ModelFileCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("serval_mfc_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    version_dir_ = root_ / "base" / "1";
    fs::create_directories(version_dir_);
    model_path_ = (version_dir_ / "model.onnx").string();
    WriteBytes(version_dir_ / "weights.bin", std::string(100, 'w'));
    WriteBytes(root_ / "outside.bin", std::string(100, 's'));
  }
  void TearDown() override { fs::remove_all(root_); }

  static void WriteBytes(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  void WriteModel(const onnx::ModelProto& model) {
    std::string bytes;
    ASSERT_TRUE(model.SerializeToString(&bytes));
    WriteBytes(model_path_, bytes);
  }
  Status Check() { return CheckModelFile(model_path_, version_dir_.string()); }
  Status CheckInitializer(const onnx::TensorProto& tensor) {
    WriteModel(ModelWithInitializer(tensor));
    return Check();
  }
  // Asserts INVALID_ARGUMENT "model file '<path>': external data '<location>' ...<reason>...".
  void ExpectRejected(const Status& status, const std::string& location, const std::string& reason) {
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.message();
    std::string prefix = "model file '" + model_path_ + "': external data '" + location + "' ";
    EXPECT_EQ(status.message().rfind(prefix, 0), 0u) << status.message();
    EXPECT_NE(status.message().find(reason), std::string::npos) << status.message();
  }

  fs::path root_;
  fs::path version_dir_;
  std::string model_path_;
};

TEST_F(ModelFileCheckTest, ModelWithoutExternalDataPasses) {
  onnx::ModelProto model;
  onnx::GraphProto* graph = model.mutable_graph();
  graph->add_initializer()->set_name("inline");
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type("Constant");
  node->add_attribute()->mutable_t()->set_name("c");
  WriteModel(model);
  EXPECT_TRUE(Check().ok()) << Check().message();
}

TEST_F(ModelFileCheckTest, ValidExternalDataPasses) {
  WriteBytes(version_dir_ / "sub" / "more.bin", std::string(64, 'm'));
  onnx::ModelProto model = ModelWithInitializer(ExternalTensor("weights.bin", "0", "100"));
  *model.mutable_graph()->add_initializer() = ExternalTensor("./weights.bin", "40", "60");
  *model.mutable_graph()->add_initializer() = ExternalTensor("sub/more.bin", "10");
  *model.mutable_graph()->add_initializer() = ExternalTensor("sub/more.bin", "64", "0");
  *model.mutable_graph()->add_initializer() = ExternalTensor("weights.bin");
  WriteModel(model);
  Status status = Check();
  EXPECT_TRUE(status.ok()) << status.message();
}

TEST_F(ModelFileCheckTest, ParentTraversalRejected) {
  ExpectRejected(CheckInitializer(ExternalTensor("../../etc/passwd")), "../../etc/passwd", "'..' component");
  ExpectRejected(CheckInitializer(ExternalTensor("sub/../../x")), "sub/../../x", "'..' component");
  ExpectRejected(CheckInitializer(ExternalTensor("../1/weights.bin")), "../1/weights.bin", "'..' component");
}

TEST_F(ModelFileCheckTest, AbsolutePathRejected) {
  ExpectRejected(CheckInitializer(ExternalTensor("/etc/passwd")), "/etc/passwd", "absolute path");
  std::string inside = (version_dir_ / "weights.bin").string();  // absolute even when it points inside
  ExpectRejected(CheckInitializer(ExternalTensor(inside)), inside, "absolute path");
}

TEST_F(ModelFileCheckTest, SymlinkFileRejected) {
  fs::create_symlink(root_ / "outside.bin", version_dir_ / "link.bin");
  ExpectRejected(CheckInitializer(ExternalTensor("link.bin", "0", "10")), "link.bin", "is a symlink");
  fs::create_symlink("weights.bin", version_dir_ / "inner_link.bin");  // even one that stays inside
  ExpectRejected(CheckInitializer(ExternalTensor("inner_link.bin")), "inner_link.bin", "is a symlink");
}

TEST_F(ModelFileCheckTest, SymlinkedParentDirectoryRejected) {
  WriteBytes(root_ / "elsewhere" / "w.bin", std::string(10, 'e'));
  fs::create_directory_symlink(root_ / "elsewhere", version_dir_ / "sub");
  ExpectRejected(CheckInitializer(ExternalTensor("sub/w.bin")), "sub/w.bin", "symlinked directory 'sub'");
}

TEST_F(ModelFileCheckTest, HardLinkRejected) {
  fs::create_hard_link(root_ / "outside.bin", version_dir_ / "hard.bin");
  ExpectRejected(CheckInitializer(ExternalTensor("hard.bin")), "hard.bin", "hard link");
}

TEST_F(ModelFileCheckTest, OrtMemAddrMarkerRejected) {
  ExpectRejected(CheckInitializer(ExternalTensor("*/_ORT_MEM_ADDR_/*", "140737488355328", "16")), "*/_ORT_MEM_ADDR_/*",
                 "_ORT_MEM_ADDR_");
  ExpectRejected(CheckInitializer(ExternalTensor("_ORT_MEM_ADDR_")), "_ORT_MEM_ADDR_", "_ORT_MEM_ADDR_");
}

TEST_F(ModelFileCheckTest, MissingOrNonRegularFileRejected) {
  ExpectRejected(CheckInitializer(ExternalTensor("nope.bin")), "nope.bin", "cannot be opened");
  fs::create_directory(version_dir_ / "dir");
  ExpectRejected(CheckInitializer(ExternalTensor("dir")), "dir", "not a regular file");
  ExpectRejected(CheckInitializer(ExternalTensor("weights.bin/x")), "weights.bin/x", "not a directory");
  onnx::TensorProto no_location;
  no_location.set_data_location(onnx::TensorProto::EXTERNAL);
  ExpectRejected(CheckInitializer(no_location), "", "has no location");
  onnx::TensorProto duplicate = ExternalTensor("weights.bin");
  auto* entry = duplicate.add_external_data();
  entry->set_key("location");
  entry->set_value("/etc/passwd");
  ExpectRejected(CheckInitializer(duplicate), "weights.bin", "duplicate 'location'");
}

TEST_F(ModelFileCheckTest, OffsetPlusLengthPastEndRejected) {
  ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", "50", "51")), "weights.bin", "past the end");
  ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", "0", "101")), "weights.bin", "past the end");
  ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", "101")), "weights.bin", "past the end");
  // Would wrap around in unchecked int64/uint64 arithmetic.
  ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", "9", "9223372036854775807")), "weights.bin",
                 "past the end");
  ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", "99", "18446744073709551615")), "weights.bin",
                 "not a non-negative decimal integer");
}

TEST_F(ModelFileCheckTest, NegativeOrNonNumericOffsetOrLengthRejected) {
  for (const std::string bad : {"-1", "abc", "1e3", "", " 1", "0x10", "+5", "99999999999999999999"}) {
    ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", bad)), "weights.bin",
                   "offset '" + bad + "', which is not a non-negative decimal integer");
    ExpectRejected(CheckInitializer(ExternalTensor("weights.bin", "0", bad)), "weights.bin",
                   "length '" + bad + "', which is not a non-negative decimal integer");
  }
}

TEST_F(ModelFileCheckTest, ExternalDataInIfSubgraphRejected) {
  onnx::ModelProto model;
  onnx::NodeProto* if_node = model.mutable_graph()->add_node();
  if_node->set_op_type("If");
  onnx::AttributeProto* then_branch = if_node->add_attribute();
  then_branch->set_name("then_branch");
  then_branch->mutable_g()->add_initializer()->set_name("fine");
  onnx::AttributeProto* else_branch = if_node->add_attribute();
  else_branch->set_name("else_branch");
  // else_branch holds a Loop whose body holds the bad initializer: two levels down.
  onnx::NodeProto* loop = else_branch->mutable_g()->add_node();
  loop->set_op_type("Loop");
  onnx::AttributeProto* body = loop->add_attribute();
  body->set_name("body");
  *body->mutable_g()->add_initializer() = ExternalTensor("../../etc/passwd");
  WriteModel(model);
  ExpectRejected(Check(), "../../etc/passwd", "'..' component");

  onnx::ModelProto scan;  // the `graphs` (repeated) attribute form, with a sparse initializer
  onnx::AttributeProto* graphs = scan.mutable_graph()->add_node()->add_attribute();
  graphs->add_graphs();
  *graphs->add_graphs()->add_sparse_initializer()->mutable_values() = ExternalTensor("/etc/shadow");
  WriteModel(scan);
  ExpectRejected(Check(), "/etc/shadow", "absolute path");
}

TEST_F(ModelFileCheckTest, ExternalDataInConstantAttributeRejected) {
  onnx::ModelProto model;
  onnx::NodeProto* constant = model.mutable_graph()->add_node();
  constant->set_op_type("Constant");
  onnx::AttributeProto* value = constant->add_attribute();
  value->set_name("value");
  *value->mutable_t() = ExternalTensor("../secret.bin", "0", "4");
  WriteModel(model);
  ExpectRejected(Check(), "../secret.bin", "'..' component");

  value->clear_t();
  *value->mutable_sparse_tensor()->mutable_indices() = ExternalTensor("link_to_nowhere");
  WriteModel(model);
  ExpectRejected(Check(), "link_to_nowhere", "cannot be opened");

  value->clear_sparse_tensor();
  value->add_tensors();
  *value->add_tensors() = ExternalTensor("weights.bin", "-4");
  WriteModel(model);
  ExpectRejected(Check(), "weights.bin", "offset '-4'");
}

TEST_F(ModelFileCheckTest, ExternalDataInLocalFunctionRejected) {
  onnx::ModelProto model;
  model.mutable_graph();
  onnx::FunctionProto* function = model.add_functions();
  function->set_name("f");
  onnx::NodeProto* constant = function->add_node();
  constant->set_op_type("Constant");
  *constant->add_attribute()->mutable_t() = ExternalTensor("/etc/passwd");
  WriteModel(model);
  ExpectRejected(Check(), "/etc/passwd", "absolute path");
}

TEST_F(ModelFileCheckTest, RandomBytesAreLeftToTheEngine) {
  // Decision: bytes that do not parse as a ModelProto cannot carry an external-data reference ORT would
  // follow, so the check passes and the engine rejects the file with its own error (see the header).
  std::mt19937 rng(12345);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  onnx::ModelProto probe;
  ASSERT_FALSE(probe.ParseFromString(bytes));
  WriteBytes(model_path_, bytes);
  EXPECT_TRUE(Check().ok());
  WriteBytes(model_path_, "ok");  // the existing manager tests' fake model
  EXPECT_TRUE(Check().ok());
}

TEST_F(ModelFileCheckTest, UnparsableFileThatMentionsLocationRejected) {
  std::string bytes;
  ASSERT_TRUE(ModelWithInitializer(ExternalTensor("../../etc/passwd")).SerializeToString(&bytes));
  bytes.pop_back();  // truncated
  WriteBytes(model_path_, bytes);
  Status status = Check();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("model file '" + model_path_ + "': not a valid ONNX protobuf"), std::string::npos)
      << status.message();
}

TEST_F(ModelFileCheckTest, DeepNestingIsRejectedWithoutRecursion) {
  // 60 nested If subgraphs: past protobuf's parse depth limit, so the file fails to parse here; as it
  // carries external data ("location") it is rejected rather than left to the engine.
  onnx::ModelProto model;
  onnx::GraphProto* graph = model.mutable_graph();
  for (int i = 0; i < 60; ++i) graph = graph->add_node()->add_attribute()->mutable_g();
  *graph->add_initializer() = ExternalTensor("../../etc/passwd");
  WriteModel(model);
  Status status = Check();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(model_path_), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, SubgraphsDeeperThanTheCapRejected) {
  onnx::ModelProto model;
  onnx::GraphProto* graph = model.mutable_graph();
  for (int i = 0; i < 100; ++i) graph = graph->add_node()->add_attribute()->mutable_g();
  WriteModel(model);
  Status status = Check();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("subgraphs nested deeper than 64"), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, OverlongExternalDataValueRejected) {
  Status status = CheckInitializer(ExternalTensor("weights.bin", std::string(70 * 1024, '1')));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("external_data entry of 71680 bytes"), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, FieldWithAnotherWireTypeIsSkippedAsProtobufDoes) {
  // external_data (13) sent as a varint: protobuf (and so ONNX Runtime) keeps it as an unknown field.
  onnx::ModelProto model;
  onnx::TensorProto* tensor = model.mutable_graph()->add_initializer();
  tensor->set_name("w");
  tensor->mutable_unknown_fields()->AddVarint(13, 7);
  WriteModel(model);
  EXPECT_TRUE(Check().ok());
}

// Peak RSS of this process since the last reset, in KiB (/proc/self/status VmHWM).
long PeakRssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_F(ModelFileCheckTest, TensorDataIsStreamedNotHeld) {
  // A 96 MiB initializer held inline (raw_data, field 9) next to a valid external one: the check reads
  // the file through a bounded buffer, so its peak memory does not grow with the model.
  constexpr size_t kInlineBytes = size_t{96} << 20;
  {
    onnx::ModelProto model = ModelWithInitializer(ExternalTensor("weights.bin", "0", "100"));
    onnx::TensorProto* big = model.mutable_graph()->add_initializer();
    big->set_name("big");
    big->mutable_unknown_fields()->AddLengthDelimited(9, std::string(kInlineBytes, 'x'));
    WriteModel(model);
  }
  ASSERT_GT(fs::file_size(model_path_), kInlineBytes);
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  const long before = PeakRssKib();
  ASSERT_GT(before, 0);
  Status status = Check();
  const long growth_kib = PeakRssKib() - before;
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_LT(growth_kib, 16 * 1024) << "peak RSS grew by " << growth_kib << " KiB checking a 96 MiB model";
}

TEST_F(ModelFileCheckTest, MissingModelFileRejected) {
  Status status = Check();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("model file '" + model_path_ + "'"), std::string::npos) << status.message();
}

// Through ModelManager: the traversal version ends END with the check's message, the engine never sees
// it, and the good version keeps serving.
class RecordingEngine : public Engine {
 public:
  StatusOr<std::unique_ptr<ModelSession>> Load(const std::string& path) const override {
    loaded_paths.push_back(path);
    return std::unique_ptr<ModelSession>(std::make_unique<FakeModelSession>());
  }
  const EngineOptions& options() const override { return options_; }
  std::string runtime_version() const override { return "fake"; }
  int intra_op_threads() const override { return 1; }

  mutable std::vector<std::string> loaded_paths;

 private:
  EngineOptions options_;
};

TEST_F(ModelFileCheckTest, ManagerEndsTraversalVersionAndKeepsServingTheOther) {
  fs::path base = root_ / "base";
  WriteModel(ModelWithInitializer(ExternalTensor("weights.bin", "0", "100")));  // version 1: valid
  std::string bad;
  ASSERT_TRUE(ModelWithInitializer(ExternalTensor("../../../etc/passwd")).SerializeToString(&bad));
  WriteBytes(base / "2" / "model.onnx", bad);

  RecordingEngine engine;
  ModelManager manager(engine, {.file_system_poll_wait_seconds = 0});
  ModelConfig config;
  config.name = "m";
  config.base_path = base.string();
  EXPECT_TRUE(manager.SetConfig({config}).ok());  // version 1 is AVAILABLE

  auto handle = manager.Acquire("m", {});
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->version(), 1);
  auto statuses = manager.GetVersionStatus("m", {});
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 2u);
  EXPECT_EQ((*statuses)[0].version, 2);
  EXPECT_EQ((*statuses)[0].state, VersionState::kEnd);
  EXPECT_EQ((*statuses)[0].status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE((*statuses)[0].status.message().find("2/model.onnx': external data '../../../etc/passwd' has a '..'"),
            std::string::npos)
      << (*statuses)[0].status.message();
  EXPECT_EQ((*statuses)[1].state, VersionState::kAvailable);
  ASSERT_EQ(engine.loaded_paths.size(), 1u);  // the engine never saw version 2
  EXPECT_NE(engine.loaded_paths[0].find("1/model.onnx"), std::string::npos);

  InferenceRequest request;
  request.inputs.push_back(*Tensor::Allocate("x", DataType::kFp32, {2}));
  InferenceResponse response;
  EXPECT_TRUE(handle->Run(request, &response).ok());
  EXPECT_EQ(response.model_version, 1);
}

}  // namespace
}  // namespace serval

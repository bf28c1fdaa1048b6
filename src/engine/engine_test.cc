#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

namespace serval {
namespace {

const std::string kTestData = SERVAL_ENGINE_TESTDATA_DIR;

std::string ModelPath(const std::string& file) { return kTestData + "/" + file; }

// One engine for the whole binary: ORT keeps one environment per process anyway.
Engine& SharedEngine() {
  static std::unique_ptr<Engine> engine = [] {
    EngineOptions options;
    options.intra_op_threads = 2;
    StatusOr<std::unique_ptr<Engine>> created = Engine::Create(options);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return std::move(created).value();
  }();
  return *engine;
}

std::unique_ptr<ModelSession> LoadOrDie(const std::string& file, const Engine& engine = SharedEngine()) {
  StatusOr<std::unique_ptr<ModelSession>> session = engine.Load(ModelPath(file));
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  return session.ok() ? std::move(session).value() : nullptr;
}

template <typename T>
Tensor MakeTensor(const std::string& name, DataType type, Shape shape, const std::vector<T>& values) {
  StatusOr<Tensor> tensor = Tensor::Allocate(name, type, std::move(shape));
  EXPECT_TRUE(tensor.ok()) << tensor.status().ToString();
  EXPECT_EQ(tensor->mutable_bytes().size(), values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(tensor->mutable_bytes().data(), values.data(), values.size() * sizeof(T));
  return std::move(tensor).value();
}

Tensor Floats(const std::string& name, Shape shape, const std::vector<float>& values) {
  return MakeTensor(name, DataType::kFp32, std::move(shape), values);
}

std::vector<float> ReadFloats(const Tensor& tensor) {
  EXPECT_EQ(tensor.dtype(), DataType::kFp32);
  std::vector<float> values(tensor.bytes().size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), tensor.bytes().data(), tensor.bytes().size());
  return values;
}

std::vector<float> Iota(size_t n, float start) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = start + static_cast<float>(i);
  return values;
}

std::vector<float> Sum(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> sum(a.size());
  for (size_t i = 0; i < a.size(); ++i) sum[i] = a[i] + b[i];
  return sum;
}

// The identity_all model's types, in its input order.
struct TypeCase {
  std::string suffix;
  DataType dtype;
};
const std::vector<TypeCase> kAllTypes = {
    {"bool", DataType::kBool},     {"uint8", DataType::kUint8},   {"uint16", DataType::kUint16},
    {"uint32", DataType::kUint32}, {"uint64", DataType::kUint64}, {"int8", DataType::kInt8},
    {"int16", DataType::kInt16},   {"int32", DataType::kInt32},   {"int64", DataType::kInt64},
    {"fp16", DataType::kFp16},     {"bf16", DataType::kBf16},     {"fp32", DataType::kFp32},
    {"fp64", DataType::kFp64},     {"string", DataType::kString},
};

// Inputs for identity_all with shape `shape`: random bit patterns (NaNs and all) for numeric types,
// 0/1 for BOOL, and strings with a NUL, an empty string and non-UTF-8 bytes.
std::vector<Tensor> IdentityInputs(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  std::vector<Tensor> inputs;
  for (const TypeCase& type : kAllTypes) {
    std::string name = "in_" + type.suffix;
    if (type.dtype == DataType::kString) {
      std::vector<std::string> strings;
      for (int64_t i = 0; i < count; ++i) {
        switch (i % 4) {
          case 0:
            strings.push_back(std::string("nul\0inside", 10));
            break;
          case 1:
            strings.push_back("");
            break;
          case 2:
            strings.push_back("\xff\xfe binary " + std::to_string(rng()));
            break;
          default:
            strings.push_back(std::string(100, static_cast<char>('a' + i % 26)));
            break;
        }
      }
      inputs.push_back(Tensor::FromStrings(name, shape, std::move(strings)));
      continue;
    }
    StatusOr<Tensor> tensor = Tensor::Allocate(name, type.dtype, shape);
    EXPECT_TRUE(tensor.ok());
    for (std::byte& byte : tensor->mutable_bytes()) {
      byte = static_cast<std::byte>(type.dtype == DataType::kBool ? rng() % 2 : rng() % 256);
    }
    inputs.push_back(std::move(tensor).value());
  }
  return inputs;
}

void ExpectSameContent(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.dtype(), want.dtype()) << got.name();
  EXPECT_EQ(got.shape(), want.shape()) << got.name();
  EXPECT_EQ(got.element_count(), want.element_count()) << got.name();
  if (want.dtype() == DataType::kString) {
    EXPECT_EQ(got.strings(), want.strings()) << got.name();
  } else {
    ASSERT_EQ(got.bytes().size(), want.bytes().size()) << got.name();
    if (!want.bytes().empty()) {  // memcmp forbids null even for zero bytes
      EXPECT_EQ(0, std::memcmp(got.bytes().data(), want.bytes().data(), want.bytes().size())) << got.name();
    }
  }
}

// ---- options --------------------------------------------------------------------------------------------

TEST(EngineOptionsTest, ParsesGraphOptimizationLevels) {
  EXPECT_EQ(*ParseGraphOptimizationLevel("disable"), GraphOptimizationLevel::kDisable);
  EXPECT_EQ(*ParseGraphOptimizationLevel("basic"), GraphOptimizationLevel::kBasic);
  EXPECT_EQ(*ParseGraphOptimizationLevel("extended"), GraphOptimizationLevel::kExtended);
  EXPECT_EQ(*ParseGraphOptimizationLevel("all"), GraphOptimizationLevel::kAll);
  StatusOr<GraphOptimizationLevel> bad = ParseGraphOptimizationLevel("max");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("max"), std::string::npos);
}

TEST(EngineOptionsTest, ParsesExecutionProviderLists) {
  StatusOr<std::vector<std::string>> parsed = ParseExecutionProviders("cuda, cpu");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, (std::vector<std::string>{"cuda", "cpu"}));
  EXPECT_EQ(*ParseExecutionProviders("tensorrt,cuda,openvino,dnnl,cpu"),
            (std::vector<std::string>{"tensorrt", "cuda", "openvino", "dnnl", "cpu"}));
  EXPECT_EQ(ParseExecutionProviders("gpu,cpu").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseExecutionProviders("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseExecutionProviders("cuda,,cpu").status().code(), StatusCode::kInvalidArgument);
}

TEST(EngineCreateTest, RejectsUnknownProviderName) {
  EngineOptions options;
  options.execution_providers = {"cuda", "gpu", "cpu"};
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("'gpu'"), std::string::npos) << engine.status().message();
}

TEST(EngineCreateTest, RejectsNegativeThreadCounts) {
  EngineOptions options;
  options.intra_op_threads = -1;
  EXPECT_EQ(Engine::Create(options).status().code(), StatusCode::kInvalidArgument);
}

TEST(EngineCreateTest, ResolvesThreadsAndVersion) {
  Engine& engine = SharedEngine();
  EXPECT_EQ(engine.intra_op_threads(), 2);
  EXPECT_EQ(engine.runtime_version().rfind("1.", 0), 0u) << engine.runtime_version();
  // --version's list: ONNX Runtime first, with the version the loaded library reports.
  std::vector<RuntimeVersion> runtimes = RuntimeVersions();
  ASSERT_FALSE(runtimes.empty());
  EXPECT_EQ(runtimes[0].name, "ONNX Runtime");
  EXPECT_EQ(runtimes[0].version, engine.runtime_version());

  EngineOptions options;  // intra_op_threads = 0: the cores this process may use
  StatusOr<std::unique_ptr<Engine>> automatic = Engine::Create(options);
  ASSERT_TRUE(automatic.ok()) << automatic.status().ToString();
  EXPECT_GE((*automatic)->intra_op_threads(), 1);
  EXPECT_LE((*automatic)->intra_op_threads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(EngineCreateTest, CudaFallsBackToCpu) {
  EngineOptions options;
  options.execution_providers = {"cuda", "cpu"};
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  testing::internal::CaptureStderr();
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx", **engine);
  std::unique_ptr<ModelSession> again = LoadOrDie("add.onnx", **engine);
  std::string log = testing::internal::GetCapturedStderr();
  ASSERT_NE(session, nullptr);
  ASSERT_NE(again, nullptr);
  // This ORT tree carries no CUDA provider library, so CUDA cannot be set up here.
  EXPECT_EQ(session->execution_provider(), "cpu");
  EXPECT_EQ(again->execution_provider(), "cpu");
  // One line per model says what it got and why; ORT's own complaint comes once per process at most,
  // because the engine remembers that CUDA cannot be appended.
  auto count = [&log](const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("[engine] model " + ModelPath("add.onnx") + ": execution provider cpu (cuda unavailable: "), 2u)
      << log;
  EXPECT_LE(count("[ort]"), 1u) << log;
  std::vector<Tensor> outputs;
  std::vector<float> a = Iota(16, 1), b = Iota(16, 100);
  ASSERT_TRUE(session->Run({Floats("a", {1, 16}, a), Floats("b", {1, 16}, b)}, {}, &outputs).ok());
  EXPECT_EQ(ReadFloats(outputs.at(0)), Sum(a, b));
}

TEST(EngineCreateTest, EveryProviderFallsBackToCpu) {
  EngineOptions options;
  options.execution_providers = {"tensorrt", "cuda", "openvino", "dnnl"};  // no "cpu": it is implied
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx", **engine);
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->execution_provider(), "cpu");
}

TEST(EngineCreateTest, NonDefaultSessionSettingsWork) {
  EngineOptions options;
  options.graph_optimization_level = GraphOptimizationLevel::kDisable;
  options.enable_cpu_mem_arena = false;
  options.allow_spinning = true;
  options.intra_op_threads = 1;
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx", **engine);
  ASSERT_NE(session, nullptr);
  std::vector<Tensor> outputs;
  std::vector<float> a = Iota(32, -5), b = Iota(32, 0.5f);
  ASSERT_TRUE(session->Run({Floats("a", {2, 16}, a), Floats("b", {2, 16}, b)}, {}, &outputs).ok());
  EXPECT_EQ(ReadFloats(outputs.at(0)), Sum(a, b));
}

// ---- load ---------------------------------------------------------------------------------------------------

TEST(EngineLoadTest, ReadsAddSignature) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  const ModelSignature& signature = session->signature();
  ASSERT_EQ(signature.inputs.size(), 2u);
  EXPECT_EQ(signature.inputs[0].name, "a");
  EXPECT_EQ(signature.inputs[1].name, "b");
  for (const TensorSpec& spec : signature.inputs) {
    EXPECT_EQ(spec.dtype, DataType::kFp32);
    EXPECT_EQ(spec.shape, (Shape{-1, 16}));
  }
  ASSERT_EQ(signature.outputs.size(), 1u);
  EXPECT_EQ(signature.outputs[0].name, "sum");
  EXPECT_EQ(signature.outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(signature.outputs[0].shape, (Shape{-1, 16}));
  EXPECT_EQ(session->execution_provider(), "cpu");
}

TEST(EngineLoadTest, ReadsEveryDataTypeAndUnknownDims) {
  std::unique_ptr<ModelSession> session = LoadOrDie("identity_all.onnx");
  ASSERT_NE(session, nullptr);
  const ModelSignature& signature = session->signature();
  ASSERT_EQ(signature.inputs.size(), kAllTypes.size());
  ASSERT_EQ(signature.outputs.size(), kAllTypes.size());
  for (size_t i = 0; i < kAllTypes.size(); ++i) {
    EXPECT_EQ(signature.inputs[i].name, "in_" + kAllTypes[i].suffix);
    EXPECT_EQ(signature.inputs[i].dtype, kAllTypes[i].dtype) << signature.inputs[i].name;
    EXPECT_EQ(signature.inputs[i].shape, (Shape{-1, -1})) << signature.inputs[i].name;  // symbolic, unknown
    EXPECT_EQ(signature.outputs[i].name, "out_" + kAllTypes[i].suffix);
    EXPECT_EQ(signature.outputs[i].dtype, kAllTypes[i].dtype) << signature.outputs[i].name;
  }
}

TEST(EngineLoadTest, RejectsUnsupportedElementTypeNamingTheTensor) {
  StatusOr<std::unique_ptr<ModelSession>> session = SharedEngine().Load(ModelPath("float8.onnx"));
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = session.status().message();
  EXPECT_NE(message.find("'f'"), std::string::npos) << message;
  EXPECT_NE(message.find("FLOAT8E4M3FN"), std::string::npos) << message;
  EXPECT_NE(message.find("float8.onnx"), std::string::npos) << message;
}

TEST(EngineLoadTest, ModelOrtCannotLoadFailsCleanly) {
  // ORT itself has no complex64 tensor type: load fails inside ORT, still as a Status.
  StatusOr<std::unique_ptr<ModelSession>> session = SharedEngine().Load(ModelPath("complex.onnx"));
  ASSERT_FALSE(session.ok());
  EXPECT_NE(session.status().message().find("complex.onnx"), std::string::npos) << session.status().message();
}

TEST(EngineLoadTest, RandomBytesFailNamingTheFile) {
  StatusOr<std::unique_ptr<ModelSession>> session = SharedEngine().Load(ModelPath("bad.onnx"));
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kInvalidArgument) << session.status().ToString();
  EXPECT_NE(session.status().message().find(ModelPath("bad.onnx")), std::string::npos) << session.status().message();
  EXPECT_EQ(session.status().message().find('\n'), std::string::npos);
}

TEST(EngineLoadTest, MissingFileIsNotFound) {
  StatusOr<std::unique_ptr<ModelSession>> session = SharedEngine().Load(ModelPath("no_such_model.onnx"));
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kNotFound) << session.status().ToString();
  EXPECT_NE(session.status().message().find("no_such_model.onnx"), std::string::npos);
}

// ---- run ------------------------------------------------------------------------------------------------------

TEST(EngineRunTest, AddComputesSum) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<float> a = Iota(48, 0.25f), b = Iota(48, -7);
  std::vector<Tensor> outputs;
  Status status = session->Run({Floats("a", {3, 16}, a), Floats("b", {3, 16}, b)}, {}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name(), "sum");
  EXPECT_EQ(outputs[0].shape(), (Shape{3, 16}));
  EXPECT_EQ(outputs[0].element_count(), 48);
  EXPECT_EQ(ReadFloats(outputs[0]), Sum(a, b));
}

TEST(EngineRunTest, EveryDataTypeRoundTripsBitwise) {
  std::unique_ptr<ModelSession> session = LoadOrDie("identity_all.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<Tensor> inputs = IdentityInputs({3, 5}, 42);
  std::vector<Tensor> outputs;
  Status status = session->Run(inputs, {}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(outputs[i].name(), "out_" + kAllTypes[i].suffix);
    ExpectSameContent(outputs[i], inputs[i]);
  }
}

// Outputs must own their bytes (through ORT's values), never point into the caller's input buffers,
// which the caller may free as soon as Run returns.
TEST(EngineRunTest, OutputsDoNotAliasInputs) {
  std::unique_ptr<ModelSession> session = LoadOrDie("identity_all.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<Tensor> inputs = IdentityInputs({4, 4}, 3);
  std::vector<Tensor> expected = IdentityInputs({4, 4}, 3);  // same seed: same content, other buffers
  std::vector<Tensor> outputs;
  ASSERT_TRUE(session->Run(inputs, {}, &outputs).ok());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype() != DataType::kString) {
      EXPECT_NE(outputs[i].bytes().data(), inputs[i].bytes().data()) << outputs[i].name();
    }
  }
  inputs.clear();  // frees the input buffers
  for (size_t i = 0; i < expected.size(); ++i) ExpectSameContent(outputs[i], expected[i]);
}

TEST(EngineRunTest, InputsInAnyOrder) {
  std::unique_ptr<ModelSession> session = LoadOrDie("identity_all.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<Tensor> inputs = IdentityInputs({2, 2}, 7);
  std::vector<Tensor> reversed(inputs.rbegin(), inputs.rend());
  std::vector<Tensor> outputs;
  ASSERT_TRUE(session->Run(reversed, {}, &outputs).ok());
  ASSERT_EQ(outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) ExpectSameContent(outputs[i], inputs[i]);
}

TEST(EngineRunTest, RequestedOutputsSubsetInRequestedOrder) {
  std::unique_ptr<ModelSession> session = LoadOrDie("identity_all.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<Tensor> inputs = IdentityInputs({1, 4}, 9);
  std::vector<Tensor> outputs;
  Status status = session->Run(inputs, {"out_string", "out_int32", "out_bool"}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].name(), "out_string");
  EXPECT_EQ(outputs[1].name(), "out_int32");
  EXPECT_EQ(outputs[2].name(), "out_bool");
  ExpectSameContent(outputs[0], inputs[13]);
  ExpectSameContent(outputs[1], inputs[7]);
  ExpectSameContent(outputs[2], inputs[0]);
}

TEST(EngineRunTest, UnalignedInputBuffer) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<float> a = Iota(32, 3), b = Iota(32, 1000);
  const size_t size = a.size() * sizeof(float);
  // Two buffers whose payload starts one byte past an aligned address, like a field inside a request body.
  auto buffer = std::make_shared<std::vector<std::byte>>(2 * size + 2);
  std::byte* a_bytes = buffer->data() + 1;
  std::byte* b_bytes = buffer->data() + size + 2;
  std::memcpy(a_bytes, a.data(), size);
  std::memcpy(b_bytes, b.data(), size);
  ASSERT_NE(reinterpret_cast<uintptr_t>(a_bytes) % alignof(float), 0u);
  std::vector<Tensor> inputs = {Tensor::Borrow("a", DataType::kFp32, {2, 16}, {a_bytes, size}, buffer),
                                Tensor::Borrow("b", DataType::kFp32, {2, 16}, {b_bytes, size}, buffer)};
  std::vector<Tensor> outputs;
  Status status = session->Run(inputs, {}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ReadFloats(outputs.at(0)), Sum(a, b));
}

TEST(EngineRunTest, ZeroBatch) {
  std::unique_ptr<ModelSession> add = LoadOrDie("add.onnx");
  ASSERT_NE(add, nullptr);
  std::vector<Tensor> outputs;
  Status status = add->Run({Floats("a", {0, 16}, {}), Floats("b", {0, 16}, {})}, {}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].shape(), (Shape{0, 16}));
  EXPECT_EQ(outputs[0].element_count(), 0);
  EXPECT_TRUE(outputs[0].bytes().empty());

  std::unique_ptr<ModelSession> identity = LoadOrDie("identity_all.onnx");
  ASSERT_NE(identity, nullptr);
  std::vector<Tensor> inputs = IdentityInputs({0, 3}, 1);
  status = identity->Run(inputs, {}, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) ExpectSameContent(outputs[i], inputs[i]);
}

TEST(EngineRunTest, BadRequestsAreInvalidArgument) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  std::vector<float> one_row = Iota(16, 0), two_rows = Iota(32, 0), three_rows = Iota(48, 0);
  std::vector<Tensor> outputs;

  // Passes the signature check (both [-1,16]) but the batches cannot broadcast: ORT rejects it at run time.
  Status status = session->Run({Floats("a", {2, 16}, two_rows), Floats("b", {3, 16}, three_rows)}, {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();

  status = session->Run({Floats("a", {1, 16}, one_row)}, {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();

  status = session->Run({Floats("a", {1, 16}, one_row), Floats("c", {1, 16}, one_row)}, {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("'b'"), std::string::npos) << status.message();

  status = session->Run({Floats("a", {1, 16}, one_row), Floats("a", {1, 16}, one_row)}, {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();

  status = session->Run({Floats("a", {1, 16}, one_row), Floats("b", {1, 16}, one_row)}, {"nope"}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();

  // A payload shorter than its shape must not be read past its end.
  Tensor short_a =
      Tensor::Borrow("a", DataType::kFp32, {2, 16}, {reinterpret_cast<const std::byte*>(one_row.data()), 64}, nullptr);
  status = session->Run({short_a, Floats("b", {2, 16}, two_rows)}, {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();

  // Wrong element type for the input.
  status = session->Run(
      {MakeTensor<int32_t>("a", DataType::kInt32, {1, 16}, std::vector<int32_t>(16, 1)), Floats("b", {1, 16}, one_row)},
      {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
}

TEST(EngineRunTest, OutputsOutliveRunSessionAndEngine) {
  EngineOptions options;
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok());
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx", **engine);
  ASSERT_NE(session, nullptr);
  std::vector<float> a = Iota(16, 1), b = Iota(16, 2);
  std::vector<Tensor> first;
  ASSERT_TRUE(session->Run({Floats("a", {1, 16}, a), Floats("b", {1, 16}, b)}, {}, &first).ok());
  std::vector<Tensor> second;
  ASSERT_TRUE(session->Run({Floats("a", {1, 16}, b), Floats("b", {1, 16}, b)}, {}, &second).ok());
  EXPECT_EQ(ReadFloats(first.at(0)), Sum(a, b));
  EXPECT_EQ(ReadFloats(second.at(0)), Sum(b, b));

  // A session keeps the environment alive: it still runs after its engine is gone.
  engine.value().reset();
  std::vector<Tensor> third;
  ASSERT_TRUE(session->Run({Floats("a", {1, 16}, a), Floats("b", {1, 16}, a)}, {}, &third).ok());
  EXPECT_EQ(ReadFloats(third.at(0)), Sum(a, a));

  session.reset();
  EXPECT_EQ(ReadFloats(first.at(0)), Sum(a, b));
  EXPECT_EQ(ReadFloats(third.at(0)), Sum(a, a));
}

TEST(EngineRunTest, ConcurrentRuns) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        int64_t batch = 1 + (t + i) % 3;
        std::vector<float> a = Iota(static_cast<size_t>(batch * 16), static_cast<float>(t * 1000 + i));
        std::vector<float> b = Iota(static_cast<size_t>(batch * 16), static_cast<float>(-i));
        std::vector<Tensor> outputs;
        Status status = session->Run({Floats("b", {batch, 16}, b), Floats("a", {batch, 16}, a)}, {}, &outputs);
        if (!status.ok() || outputs.size() != 1 || outputs[0].shape() != Shape{batch, 16} ||
            ReadFloats(outputs[0]) != Sum(a, b)) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- deadlines and cancellation ------------------------------------------------------------------------

// Runs that would take minutes without run-terminate (~2 µs per Loop round here): a test that fails
// to stop one fails by its bound below instead of passing by luck.
constexpr int64_t kSpinRounds = 50'000'000;
constexpr auto kGenerousBound = std::chrono::seconds(30);

std::vector<Tensor> SpinInputs(int64_t rounds) {
  std::vector<Tensor> inputs = {Floats("x", {1, 16}, Iota(16, 0.0f))};
  inputs.push_back(MakeTensor<int64_t>("n", DataType::kInt64, {}, {rounds}));
  return inputs;
}

struct StatsSnapshot {
  uint64_t started, completed, failed, cancelled_deadline, cancelled_client, expired_before, gone_before;
  static StatsSnapshot Take() {
    const EngineStats& s = GlobalEngineStats();
    return {s.runs_started.load(),
            s.runs_completed.load(),
            s.runs_failed.load(),
            s.runs_cancelled_deadline.load(),
            s.runs_cancelled_client_gone.load(),
            s.expired_before_run.load(),
            s.client_gone_before_run.load()};
  }
};

TEST(EngineCancelTest, PassedDeadlineNeverRuns) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  StatsSnapshot before = StatsSnapshot::Take();
  RunContext context;
  context.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  std::vector<Tensor> outputs;
  Status status =
      session->Run({Floats("a", {1, 16}, Iota(16, 0)), Floats("b", {1, 16}, Iota(16, 0))}, {}, context, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  EXPECT_TRUE(outputs.empty());
  StatsSnapshot after = StatsSnapshot::Take();
  EXPECT_EQ(after.started, before.started);
  EXPECT_EQ(after.expired_before, before.expired_before + 1);
}

TEST(EngineCancelTest, GoneClientNeverRuns) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  StatsSnapshot before = StatsSnapshot::Take();
  RunContext context;
  context.client_gone = [] { return true; };
  std::vector<Tensor> outputs;
  Status status =
      session->Run({Floats("a", {1, 16}, Iota(16, 0)), Floats("b", {1, 16}, Iota(16, 0))}, {}, context, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kCancelled) << status.ToString();
  StatsSnapshot after = StatsSnapshot::Take();
  EXPECT_EQ(after.started, before.started);
  EXPECT_EQ(after.gone_before, before.gone_before + 1);
}

TEST(EngineCancelTest, BoundedRunThatFinishesReturnsOutputs) {
  std::unique_ptr<ModelSession> session = LoadOrDie("add.onnx");
  ASSERT_NE(session, nullptr);
  StatsSnapshot before = StatsSnapshot::Take();
  RunContext context;
  context.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  context.client_gone = [] { return false; };
  std::vector<float> a = Iota(32, 1), b = Iota(32, 5);
  std::vector<Tensor> outputs;
  Status status = session->Run({Floats("a", {2, 16}, a), Floats("b", {2, 16}, b)}, {}, context, &outputs);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ReadFloats(outputs.at(0)), Sum(a, b));
  StatsSnapshot after = StatsSnapshot::Take();
  EXPECT_EQ(after.started, before.started + 1);
  EXPECT_EQ(after.completed, before.completed + 1);
}

TEST(EngineCancelTest, DeadlineStopsARunningModel) {
  std::unique_ptr<ModelSession> session = LoadOrDie("spin.onnx");
  ASSERT_NE(session, nullptr);
  StatsSnapshot before = StatsSnapshot::Take();
  RunContext context;
  context.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Tensor> outputs;
  Status status = session->Run(SpinInputs(kSpinRounds), {}, context, &outputs);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kGenerousBound);
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  StatsSnapshot after = StatsSnapshot::Take();
  EXPECT_EQ(after.started, before.started + 1);
  EXPECT_EQ(after.cancelled_deadline, before.cancelled_deadline + 1);
  EXPECT_EQ(after.completed, before.completed);

  // The session is not left in a terminated state: the next short run completes.
  ASSERT_TRUE(session->Run(SpinInputs(10), {}, &outputs).ok());
  EXPECT_EQ(outputs.at(0).shape(), (Shape{1, 16}));
  // Nor is this thread's RunOptions, which the next bounded run here reuses.
  RunContext later;
  later.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  Status again = session->Run(SpinInputs(10), {}, later, &outputs);
  ASSERT_TRUE(again.ok()) << again.ToString();
  EXPECT_EQ(outputs.at(0).shape(), (Shape{1, 16}));
}

TEST(EngineCancelTest, ClientGoneStopsARunningModelAndSparesOthers) {
  std::unique_ptr<ModelSession> session = LoadOrDie("spin.onnx");
  ASSERT_NE(session, nullptr);
  StatsSnapshot before = StatsSnapshot::Take();
  std::atomic<bool> gone{false};
  RunContext leaving;
  leaving.client_gone = [&gone] { return gone.load(); };
  // A second run with a probe that never fires runs to its end beside the stopped one.
  RunContext staying;
  staying.client_gone = [] { return false; };
  Status staying_status;
  std::vector<Tensor> staying_outputs;
  std::thread other([&] { staying_status = session->Run(SpinInputs(20'000), {}, staying, &staying_outputs); });
  std::thread hang_up([&gone] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gone.store(true);
  });
  const auto start = std::chrono::steady_clock::now();
  std::vector<Tensor> outputs;
  Status status = session->Run(SpinInputs(kSpinRounds), {}, leaving, &outputs);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kGenerousBound);
  hang_up.join();
  other.join();
  EXPECT_EQ(status.code(), StatusCode::kCancelled) << status.ToString();
  EXPECT_TRUE(staying_status.ok()) << staying_status.ToString();
  EXPECT_EQ(staying_outputs.size(), 1u);
  StatsSnapshot after = StatsSnapshot::Take();
  EXPECT_EQ(after.cancelled_client, before.cancelled_client + 1);
  EXPECT_EQ(after.started, before.started + 2);
}

}  // namespace
}  // namespace serval

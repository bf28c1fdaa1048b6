#include "repository/signature_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace serval {
namespace {
namespace fs = std::filesystem;

class SignatureFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "serval-sigfile-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "1";
    fs::create_directory(dir_);
    Write(dir_ / "model.onnx", "graph");
    Write(dir_ / "classify.onnx", "graph");
    Write(root_ / "outside.onnx", "graph");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  StatusOr<std::vector<GraphSignatureSpec>> Parse(const std::string& json) {
    return ParseSignatureFile(json, dir_.string());
  }
  // Expects `json` to be refused with INVALID_ARGUMENT and a message containing `text`.
  void ExpectBad(const std::string& json, const std::string& text) {
    auto parsed = Parse(json);
    ASSERT_FALSE(parsed.ok()) << json;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().rfind("signatures.json: ", 0), 0u) << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(text), std::string::npos) << parsed.status().message();
  }

  fs::path root_;
  fs::path dir_;
};

// The file the converter writes for half_plus_two (two of its signatures).
const char* kGood = R"({
  "format": "serval.signatures.v1",
  "source": {"kind": "saved_model", "tags": ["serve"], "converter": "tf2onnx 1.16.1", "opset": 17},
  "signatures": {
    "serving_default": {
      "method_name": "tensorflow/serving/predict", "graph": "model.onnx",
      "inputs": {"x": {"onnx_name": "x", "tf_name": "serving_default_x:0", "dtype": "DT_FLOAT", "shape": [-1, 1]}},
      "outputs": {"y": {"onnx_name": "y", "tf_name": "StatefulPartitionedCall:0", "dtype": "DT_FLOAT",
                        "shape": [-1, 1]}}
    },
    "classify_x_to_y": {
      "method_name": "tensorflow/serving/classify", "graph": "classify.onnx",
      "inputs": {"inputs": {"tf_name": "tf_example:0", "dtype": "DT_STRING", "shape": [-1],
                 "parse_example": {
                   "x": {"onnx_name": "x", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [1], "default": [0.5]},
                   "ids": {"onnx_name": "ids", "kind": "var_len", "dtype": "DT_INT64", "shape": [-1], "default": null,
                           "onnx_indices": "ids_indices", "onnx_dense_shape": "ids_dense_shape"},
                   "word": {"onnx_name": "word", "kind": "fixed_len", "dtype": "DT_STRING", "shape": [],
                            "default": null}}}},
      "outputs": {"scores": {"onnx_name": "scores", "dtype": "DT_FLOAT", "shape": [-1, 1]},
                  "any": {"onnx_name": "any", "dtype": "DT_DOUBLE", "shape": null}}
    }
  }
})";

TEST_F(SignatureFileTest, ReadsEverySignature) {
  Write(dir_ / "signatures.json", kGood);
  auto specs = ReadSignatureFile(dir_.string());
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  ASSERT_EQ(specs->size(), 2u);
  const GraphSignatureSpec& predict = (*specs)[0];
  EXPECT_EQ(predict.def.name, "serving_default");
  EXPECT_EQ(predict.def.method_name, "tensorflow/serving/predict");
  EXPECT_EQ(predict.graph, (dir_ / "model.onnx").string());
  ASSERT_EQ(predict.def.io.inputs.size(), 1u);
  EXPECT_EQ(predict.def.io.inputs[0].name, "x");
  EXPECT_EQ(predict.def.io.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(predict.def.io.inputs[0].shape, (Shape{-1, 1}));
  EXPECT_EQ(predict.def.io.inputs[0].tensor_name, "serving_default_x:0");
  EXPECT_EQ(predict.input_graph_names, (std::vector<std::string>{"x"}));
  EXPECT_EQ(predict.output_graph_names, (std::vector<std::string>{"y"}));
  EXPECT_FALSE(predict.parse_example.has_value());

  const GraphSignatureSpec& classify = (*specs)[1];
  EXPECT_EQ(classify.def.method_name, "tensorflow/serving/classify");
  EXPECT_EQ(classify.def.io.inputs[0].dtype, DataType::kString);
  EXPECT_EQ(classify.input_graph_names, (std::vector<std::string>{""}));
  EXPECT_TRUE(classify.def.io.outputs[1].unknown_rank);
  EXPECT_EQ(classify.def.io.outputs[1].dtype, DataType::kFp64);
  ASSERT_TRUE(classify.parse_example.has_value());
  EXPECT_EQ(classify.parse_example->input, "inputs");
  const auto& features = classify.parse_example->features;
  ASSERT_EQ(features.size(), 3u);
  EXPECT_EQ(features[0].key, "x");
  EXPECT_EQ(features[0].kind, ExampleFeatureSpec::Kind::kFixedLen);
  EXPECT_TRUE(features[0].has_default);
  EXPECT_EQ(features[0].default_floats, (std::vector<float>{0.5f}));
  EXPECT_EQ(features[1].kind, ExampleFeatureSpec::Kind::kVarLen);
  EXPECT_EQ(features[1].dtype, DataType::kInt64);
  EXPECT_EQ(features[1].indices_name, "ids_indices");
  EXPECT_EQ(features[1].dense_shape_name, "ids_dense_shape");
  EXPECT_FALSE(features[1].has_default);
  EXPECT_EQ(features[2].dtype, DataType::kString);
  EXPECT_TRUE(features[2].shape.empty());
  EXPECT_FALSE(features[2].has_default);
}

TEST_F(SignatureFileTest, DefaultsOfEveryType) {
  auto specs = Parse(R"({"format": "serval.signatures.v1", "signatures": {"s": {
      "method_name": "tensorflow/serving/regress", "graph": "model.onnx",
      "inputs": {"in": {"dtype": "DT_STRING", "shape": [-1], "parse_example": {
        "i": {"onnx_name": "i", "kind": "fixed_len", "dtype": "DT_INT64", "shape": [2, 1], "default": [-3, 9007199254740993]},
        "b": {"onnx_name": "b", "kind": "fixed_len", "dtype": "DT_STRING", "shape": [1], "default": ["a\u0000b"]},
        "f": {"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [2], "default": [1, NaN]}}}},
      "outputs": {"o": {"onnx_name": "o", "dtype": "DT_FLOAT", "shape": [-1]}}}}})");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  const auto& features = (*specs)[0].parse_example->features;
  EXPECT_EQ(features[0].default_int64s, (std::vector<int64_t>{-3, 9007199254740993}));
  EXPECT_EQ(features[1].default_bytes, (std::vector<std::string>{std::string("a\0b", 3)}));
  EXPECT_EQ(features[2].default_floats[0], 1.0f);
  EXPECT_TRUE(std::isnan(features[2].default_floats[1]));
}

// A signature around `body` (the members after "method_name").
std::string One(const std::string& body) {
  return R"({"format": "serval.signatures.v1", "signatures": {"s": {"method_name": "tensorflow/serving/predict", )" +
         body + "}}}";
}
const char* kIo = R"("inputs": {"x": {"onnx_name": "x", "dtype": "DT_FLOAT", "shape": [-1]}},
                     "outputs": {"y": {"onnx_name": "y", "dtype": "DT_FLOAT", "shape": [-1]}})";
std::string WithGraph(const std::string& graph) { return One("\"graph\": " + graph + ", " + kIo); }
std::string WithInput(const std::string& input) {
  return One(R"("graph": "model.onnx", "inputs": {"in": )" + input +
             R"(}, "outputs": {"y": {"onnx_name": "y", "dtype": "DT_FLOAT", "shape": [-1]}})");
}
std::string WithFeature(const std::string& feature) {
  return WithInput(R"({"dtype": "DT_STRING", "shape": [-1], "parse_example": {"f": )" + feature + "}}");
}

TEST_F(SignatureFileTest, RefusesWhatIsNotTheFormat) {
  ExpectBad("", "not valid JSON");
  ExpectBad("{\"format\": ", "not valid JSON");
  ExpectBad("[1]", "top level must be an object");
  ExpectBad(R"({"signatures": {}})", "'format' must be \"serval.signatures.v1\"");
  ExpectBad(R"({"format": "serval.signatures.v2", "signatures": {}})", "'format'");
  ExpectBad(R"({"format": "serval.signatures.v1"})", "'signatures' is missing");
  ExpectBad(R"({"format": "serval.signatures.v1", "signatures": []})", "'signatures' must be an object");
  ExpectBad(R"({"format": "serval.signatures.v1", "signatures": {}})", "'signatures' is empty");
  ExpectBad(R"({"format": "serval.signatures.v1", "signatures": {"s": 1}})", "signature 's': must be an object");
  ExpectBad(R"({"format": "serval.signatures.v1", "signatures": {"": {}}})", "a name must be");
  // Deep nesting is parsed iteratively (no stack exhaustion) and refused as the wrong shape.
  std::string deep = R"({"format": "serval.signatures.v1", "signatures": )" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  ExpectBad(deep, "'signatures' must be an object");
  ExpectBad(std::string(kMaxSignatureFileBytes + 1, ' '), "larger than");
}

TEST_F(SignatureFileTest, RefusesGraphsOutsideTheVersionDirectory) {
  ExpectBad(WithGraph(R"("../outside.onnx")"), "must not leave the version directory");
  ExpectBad(WithGraph(R"("sub/../../outside.onnx")"), "must not leave");
  ExpectBad(WithGraph('"' + (root_ / "outside.onnx").string() + '"'), "must be a path relative");
  ExpectBad(WithGraph(R"("missing.onnx")"), "graph 'missing.onnx' cannot be opened");
  ExpectBad(WithGraph(R"(".")"), "resolves outside the version directory");
  ExpectBad(WithGraph("7"), "'graph' must be a string");
  ExpectBad(WithGraph(R"("")"), "'graph' must be 1 to");
  ExpectBad(One(kIo), "'graph' is missing");
  fs::create_symlink(root_ / "outside.onnx", dir_ / "link.onnx");
  ExpectBad(WithGraph(R"("link.onnx")"), "resolves outside the version directory");
  fs::create_directory(dir_ / "sub");
  ExpectBad(WithGraph(R"("sub")"), "is not a regular file");
  // A symlink that stays inside is followed.
  fs::create_symlink(dir_ / "model.onnx", dir_ / "inside.onnx");
  auto ok = Parse(WithGraph(R"("inside.onnx")"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ((*ok)[0].graph, (dir_ / "inside.onnx").string());
}

TEST_F(SignatureFileTest, RefusesBadTensors) {
  ExpectBad(One(R"("graph": "model.onnx", "outputs": {})"), "'inputs' is missing");
  ExpectBad(One(R"("graph": "model.onnx", "inputs": {}, "outputs": {})"), "has no outputs");
  ExpectBad(WithInput("[]"), "input 'in': must be an object");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": "DT_COMPLEX64", "shape": [1]})"), "dtype 'DT_COMPLEX64'");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": 1, "shape": [1]})"), "'dtype' must be a string");
  ExpectBad(WithInput(R"({"dtype": "DT_FLOAT", "shape": [1]})"), "'onnx_name' is missing");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": "DT_FLOAT", "shape": [-2]})"), "dims must be integers >= -1");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": "DT_FLOAT", "shape": [1.5]})"), "dims must be integers");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": "DT_FLOAT", "shape": "1"})"), "'shape' must be an array");
  std::string rank65 = "[" + std::string(size_t{64} * 2, ' ');
  for (int i = 0; i < 65; ++i) rank65 += (i ? ",1" : "1");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": "DT_FLOAT", "shape": )" + rank65 + "]}"), "at most 64");
  ExpectBad(WithInput(R"({"onnx_name": "x", "dtype": "DT_FLOAT", "shape": [1]}, "in": {"onnx_name": "z",
                         "dtype": "DT_FLOAT", "shape": [1]})"),
            "is given twice");
  ExpectBad(R"({"format": "serval.signatures.v1", "signatures": {"s": {"method_name": "m", "graph": "model.onnx",
    "inputs": {}, "outputs": {"y": {"onnx_name": "y", "dtype": "DT_FLOAT"}}}, "s": {}}})",
            "signature 's' is given twice");
}

TEST_F(SignatureFileTest, RefusesBadFeatures) {
  ExpectBad(WithInput(R"({"dtype": "DT_FLOAT", "shape": [-1], "parse_example": {"f": {}}})"), "must be DT_STRING");
  ExpectBad(WithInput(R"({"dtype": "DT_STRING", "shape": [-1], "parse_example": {}})"),
            "must be an object of features");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "ragged", "dtype": "DT_FLOAT", "shape": [1]})"),
            "'kind' must be fixed_len or var_len");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_INT32", "shape": [1]})"),
            "DT_FLOAT, DT_INT64 or DT_STRING");
  ExpectBad(WithFeature(R"({"kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [1]})"), "'onnx_name' is missing");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT"})"), "'shape' is missing");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [-1]})"),
            "dims must be integers >= 0");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT",
                            "shape": [4294967296, 4294967296, 4294967296]})"),
            "holds more than");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [2],
                            "default": [1]})"),
            "'default' has 1 values but the shape holds 2");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [1],
                            "default": ["a"]})"),
            "must hold numbers");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [1],
                            "default": [1e300]})"),
            "beyond DT_FLOAT's range");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_INT64", "shape": [1],
                            "default": [1.5]})"),
            "must hold 64-bit integers");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_STRING", "shape": [1],
                            "default": [1]})"),
            "must hold strings");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "fixed_len", "dtype": "DT_FLOAT", "shape": [1],
                            "default": 1})"),
            "'default' must be an array or null");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "var_len", "dtype": "DT_FLOAT", "shape": [-1]})"),
            "'onnx_indices' is missing");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "var_len", "dtype": "DT_FLOAT", "shape": [3],
                            "onnx_indices": "i", "onnx_dense_shape": "d"})"),
            "a var_len feature's shape is [-1]");
  ExpectBad(WithFeature(R"({"onnx_name": "f", "kind": "var_len", "dtype": "DT_FLOAT", "shape": [-1],
                            "onnx_indices": "i", "onnx_dense_shape": "d", "default": [1]})"),
            "a var_len feature has no default");
}

TEST_F(SignatureFileTest, MissingOrUnreadableFile) {
  auto missing = ReadSignatureFile(dir_.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("cannot be opened"), std::string::npos);
  fs::create_directory(dir_ / "signatures.json");  // a directory where the file should be
  EXPECT_FALSE(ReadSignatureFile(dir_.string()).ok());
}

}  // namespace
}  // namespace serval

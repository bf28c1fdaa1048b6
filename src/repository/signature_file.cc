#include "repository/signature_file.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace serval {
namespace fs = std::filesystem;

namespace {

using Value = rapidjson::Value;

constexpr size_t kMaxNameBytes = 4096;  // an alias, signature key, feature key, graph or tensor name
constexpr size_t kMaxRank = 64;
constexpr size_t kMaxEntries = 65536;  // signatures, tensors per signature, features per input
// Elements of one fixed_len feature's per-example shape: its default is held in memory per signature, and
// every example of a request gets that many values.
constexpr int64_t kMaxFeatureElements = int64_t{1} << 24;

Status Bad(const std::string& where, const std::string& what) {
  return InvalidArgument("signatures.json: " + where + ": " + what);
}

std::string Cut(std::string_view text) { return std::string(text.substr(0, 256)); }

std::string_view Str(const Value& value) { return {value.GetString(), value.GetStringLength()}; }

// A string member (required unless `optional`), non-empty, at most kMaxNameBytes, no NUL byte.
Status GetName(const Value& object, const char* key, const std::string& where, std::string* out,
               bool optional = false) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) {
    if (optional) return Status::Ok();
    return Bad(where, std::string("'") + key + "' is missing");
  }
  if (!it->value.IsString()) return Bad(where, std::string("'") + key + "' must be a string");
  std::string_view text = Str(it->value);
  if (text.empty() || text.size() > kMaxNameBytes || text.find('\0') != std::string_view::npos) {
    return Bad(where,
               std::string("'") + key + "' must be 1 to " + std::to_string(kMaxNameBytes) + " bytes without NUL");
  }
  out->assign(text);
  return Status::Ok();
}

Status CheckKey(const Value& name, const std::string& where) {
  std::string_view text = Str(name);
  if (text.empty() || text.size() > kMaxNameBytes || text.find('\0') != std::string_view::npos) {
    return Bad(where, "a name must be 1 to " + std::to_string(kMaxNameBytes) + " bytes without NUL");
  }
  return Status::Ok();
}

StatusOr<const Value*> GetObject(const Value& object, const char* key, const std::string& where) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) return Bad(where, std::string("'") + key + "' is missing");
  if (!it->value.IsObject()) return Bad(where, std::string("'") + key + "' must be an object");
  if (it->value.MemberCount() > kMaxEntries) return Bad(where, std::string("'") + key + "' has too many entries");
  return &it->value;
}

// TF DataType enum names (types.proto) Serval has a type for.
DataType FromTfName(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, DataType>, 15> kNames = {{
      {"DT_FLOAT", DataType::kFp32},
      {"DT_DOUBLE", DataType::kFp64},
      {"DT_INT32", DataType::kInt32},
      {"DT_UINT8", DataType::kUint8},
      {"DT_INT16", DataType::kInt16},
      {"DT_INT8", DataType::kInt8},
      {"DT_STRING", DataType::kString},
      {"DT_INT64", DataType::kInt64},
      {"DT_BOOL", DataType::kBool},
      {"DT_BFLOAT16", DataType::kBf16},
      {"DT_UINT16", DataType::kUint16},
      {"DT_HALF", DataType::kFp16},
      {"DT_UINT32", DataType::kUint32},
      {"DT_UINT64", DataType::kUint64},
      {"DT_INVALID", DataType::kInvalid},
  }};
  for (const auto& [text, type] : kNames) {
    if (text == name) return type;
  }
  return DataType::kInvalid;
}

Status GetDtype(const Value& object, const std::string& where, DataType* out) {
  std::string name;
  SERVAL_RETURN_IF_ERROR(GetName(object, "dtype", where, &name));
  *out = FromTfName(name);
  if (*out == DataType::kInvalid) return Bad(where, "dtype '" + Cut(name) + "' is not a TF DataType Serval serves");
  return Status::Ok();
}

// `shape`: an array of integers >= `min_dim` (at most kMaxRank), or null/absent for unknown rank when
// `unknown_ok`.
Status GetShape(const Value& object, const std::string& where, int64_t min_dim, bool unknown_ok, Shape* shape,
                bool* unknown_rank) {
  auto it = object.FindMember("shape");
  if (it == object.MemberEnd() || it->value.IsNull()) {
    if (!unknown_ok) return Bad(where, "'shape' is missing");
    *unknown_rank = true;
    return Status::Ok();
  }
  if (!it->value.IsArray() || it->value.Size() > kMaxRank) {
    return Bad(where, "'shape' must be an array of at most " + std::to_string(kMaxRank) + " integers or null");
  }
  shape->clear();
  for (const Value& dim : it->value.GetArray()) {
    if (!dim.IsInt64() || dim.GetInt64() < min_dim) {
      return Bad(where, "'shape' dims must be integers >= " + std::to_string(min_dim));
    }
    shape->push_back(dim.GetInt64());
  }
  return Status::Ok();
}

// The fixed_len default: null/absent (required feature) or `count` values of the feature's type.
Status GetDefault(const Value& object, const std::string& where, int64_t count, ExampleFeatureSpec* feature) {
  auto it = object.FindMember("default");
  if (it == object.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (feature->kind != ExampleFeatureSpec::Kind::kFixedLen) return Bad(where, "a var_len feature has no default");
  const Value& values = it->value;
  if (!values.IsArray()) return Bad(where, "'default' must be an array or null");
  if (static_cast<int64_t>(values.Size()) != count) {
    return Bad(where, "'default' has " + std::to_string(values.Size()) + " values but the shape holds " +
                          std::to_string(count));
  }
  feature->has_default = true;
  for (const Value& value : values.GetArray()) {
    switch (feature->dtype) {
      case DataType::kFp32:
        if (!value.IsNumber()) return Bad(where, "'default' of a DT_FLOAT feature must hold numbers");
        // A finite double beyond float's range has no float value (the conversion would be undefined).
        if (std::isfinite(value.GetDouble()) && std::fabs(value.GetDouble()) > std::numeric_limits<float>::max()) {
          return Bad(where, "'default' holds a number beyond DT_FLOAT's range");
        }
        feature->default_floats.push_back(static_cast<float>(value.GetDouble()));
        break;
      case DataType::kInt64:
        if (!value.IsInt64()) return Bad(where, "'default' of a DT_INT64 feature must hold 64-bit integers");
        feature->default_int64s.push_back(value.GetInt64());
        break;
      default:
        if (!value.IsString()) return Bad(where, "'default' of a DT_STRING feature must hold strings");
        feature->default_bytes.emplace_back(Str(value));
        break;
    }
  }
  return Status::Ok();
}

StatusOr<ExampleFeatureSpec> ParseFeature(const Value& name, const Value& object, const std::string& where) {
  SERVAL_RETURN_IF_ERROR(CheckKey(name, where));
  if (!object.IsObject()) return Bad(where, "a feature must be an object");
  ExampleFeatureSpec feature;
  feature.key.assign(Str(name));
  std::string kind;
  SERVAL_RETURN_IF_ERROR(GetName(object, "kind", where, &kind));
  if (kind == "fixed_len") {
    feature.kind = ExampleFeatureSpec::Kind::kFixedLen;
  } else if (kind == "var_len") {
    feature.kind = ExampleFeatureSpec::Kind::kVarLen;
  } else {
    return Bad(where, "'kind' must be fixed_len or var_len, not '" + Cut(kind) + "'");
  }
  SERVAL_RETURN_IF_ERROR(GetDtype(object, where, &feature.dtype));
  if (feature.dtype != DataType::kFp32 && feature.dtype != DataType::kInt64 && feature.dtype != DataType::kString) {
    return Bad(where, "a tf.Example feature's dtype is DT_FLOAT, DT_INT64 or DT_STRING");
  }
  SERVAL_RETURN_IF_ERROR(GetName(object, "onnx_name", where, &feature.values_name));
  int64_t count = 0;
  if (feature.kind == ExampleFeatureSpec::Kind::kFixedLen) {
    bool unknown = false;
    SERVAL_RETURN_IF_ERROR(GetShape(object, where, 0, /*unknown_ok=*/false, &feature.shape, &unknown));
    count = 1;
    for (int64_t dim : feature.shape) {
      if (dim != 0 && count > kMaxFeatureElements / dim) {
        return Bad(where, "the shape holds more than " + std::to_string(kMaxFeatureElements) + " values");
      }
      count *= dim;
    }
    if (count > kMaxFeatureElements) {
      return Bad(where, "the shape holds more than " + std::to_string(kMaxFeatureElements) + " values");
    }
  } else {
    Shape shape;
    bool unknown = false;
    SERVAL_RETURN_IF_ERROR(GetShape(object, where, -1, /*unknown_ok=*/true, &shape, &unknown));
    if (!unknown && shape != Shape{-1}) return Bad(where, "a var_len feature's shape is [-1]");
    SERVAL_RETURN_IF_ERROR(GetName(object, "onnx_indices", where, &feature.indices_name));
    SERVAL_RETURN_IF_ERROR(GetName(object, "onnx_dense_shape", where, &feature.dense_shape_name));
  }
  SERVAL_RETURN_IF_ERROR(GetDefault(object, where, count, &feature));
  return feature;
}

// The tensors of one side ("inputs" or "outputs") into `io` and `graph_names`; the tf.Example input, if any,
// into `parse`.
Status ParseTensors(const Value& tensors, const std::string& where, bool inputs, std::vector<TensorSpec>* io,
                    std::vector<std::string>* graph_names, std::optional<ExampleParseSpec>* parse) {
  for (const auto& member : tensors.GetObject()) {
    const std::string at = where + (inputs ? " input '" : " output '") + Cut(Str(member.name)) + "'";
    SERVAL_RETURN_IF_ERROR(CheckKey(member.name, at));
    const Value& object = member.value;
    if (!object.IsObject()) return Bad(at, "must be an object");
    TensorSpec spec;
    spec.name.assign(Str(member.name));
    SERVAL_RETURN_IF_ERROR(GetDtype(object, at, &spec.dtype));
    SERVAL_RETURN_IF_ERROR(GetShape(object, at, -1, /*unknown_ok=*/true, &spec.shape, &spec.unknown_rank));
    SERVAL_RETURN_IF_ERROR(GetName(object, "tf_name", at, &spec.tensor_name, /*optional=*/true));
    std::string graph_name;
    auto features = object.FindMember("parse_example");
    if (inputs && features != object.MemberEnd() && !features->value.IsNull()) {
      if (parse->has_value()) return Bad(at, "only one input of a signature may parse tf.Examples");
      if (spec.dtype != DataType::kString) return Bad(at, "an input with 'parse_example' must be DT_STRING");
      if (!features->value.IsObject() || features->value.MemberCount() == 0 ||
          features->value.MemberCount() > kMaxEntries) {
        return Bad(at, "'parse_example' must be an object of features");
      }
      ExampleParseSpec spec_out;
      spec_out.input = spec.name;
      for (const auto& feature : features->value.GetObject()) {
        StatusOr<ExampleFeatureSpec> parsed =
            ParseFeature(feature.name, feature.value, at + " feature '" + Cut(Str(feature.name)) + "'");
        if (!parsed.ok()) return parsed.status();
        spec_out.features.push_back(std::move(parsed).value());
      }
      *parse = std::move(spec_out);
    } else {
      SERVAL_RETURN_IF_ERROR(GetName(object, "onnx_name", at, &graph_name));
    }
    if (std::any_of(io->begin(), io->end(), [&](const TensorSpec& s) { return s.name == spec.name; })) {
      return Bad(at, "is given twice");
    }
    io->push_back(std::move(spec));
    graph_names->push_back(std::move(graph_name));
  }
  return Status::Ok();
}

// <version_dir>/<graph>, when `graph` is a relative path without '..' naming a regular file inside the
// directory once every symlink is resolved.
StatusOr<std::string> ResolveGraph(const std::string& graph, const std::string& version_dir, const std::string& at) {
  const fs::path relative(graph);
  if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory()) {
    return Bad(at, "graph '" + Cut(graph) + "' must be a path relative to the version directory");
  }
  for (const fs::path& part : relative) {
    if (part == "..") return Bad(at, "graph '" + Cut(graph) + "' must not leave the version directory ('..')");
  }
  std::error_code ec;
  const fs::path dir = fs::canonical(version_dir, ec);
  if (ec) return Bad(at, "cannot resolve the version directory: " + ec.message());
  const fs::path path = fs::path(version_dir) / relative;
  const fs::path resolved = fs::canonical(path, ec);
  if (ec) return Bad(at, "graph '" + Cut(graph) + "' cannot be opened: " + ec.message());
  auto [dir_end, resolved_it] = std::mismatch(dir.begin(), dir.end(), resolved.begin(), resolved.end());
  if (dir_end != dir.end() || resolved_it == resolved.end()) {
    return Bad(at, "graph '" + Cut(graph) + "' resolves outside the version directory");
  }
  if (!fs::is_regular_file(resolved, ec)) return Bad(at, "graph '" + Cut(graph) + "' is not a regular file");
  return path.string();
}

StatusOr<GraphSignatureSpec> ParseSignature(const Value& name, const Value& object, const std::string& version_dir) {
  const std::string at = "signature '" + Cut(Str(name)) + "'";
  SERVAL_RETURN_IF_ERROR(CheckKey(name, at));
  if (!object.IsObject()) return Bad(at, "must be an object");
  GraphSignatureSpec spec;
  spec.def.name.assign(Str(name));
  SERVAL_RETURN_IF_ERROR(GetName(object, "method_name", at, &spec.def.method_name));
  std::string graph;
  SERVAL_RETURN_IF_ERROR(GetName(object, "graph", at, &graph));
  StatusOr<std::string> path = ResolveGraph(graph, version_dir, at);
  if (!path.ok()) return path.status();
  spec.graph = std::move(path).value();
  StatusOr<const Value*> inputs = GetObject(object, "inputs", at);
  if (!inputs.ok()) return inputs.status();
  StatusOr<const Value*> outputs = GetObject(object, "outputs", at);
  if (!outputs.ok()) return outputs.status();
  SERVAL_RETURN_IF_ERROR(
      ParseTensors(**inputs, at, true, &spec.def.io.inputs, &spec.input_graph_names, &spec.parse_example));
  std::optional<ExampleParseSpec> none;
  SERVAL_RETURN_IF_ERROR(ParseTensors(**outputs, at, false, &spec.def.io.outputs, &spec.output_graph_names, &none));
  if (spec.def.io.outputs.empty()) return Bad(at, "has no outputs");
  return spec;
}

}  // namespace

StatusOr<std::vector<GraphSignatureSpec>> ParseSignatureFile(std::string_view json, const std::string& version_dir) {
  if (json.size() > kMaxSignatureFileBytes) {
    return InvalidArgument("signatures.json: larger than " + std::to_string(kMaxSignatureFileBytes) + " bytes");
  }
  rapidjson::Document doc;
  // Iterative: a deeply nested file cannot exhaust the stack. NaN/Infinity: Python's json writes them.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNanAndInfFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return InvalidArgument(std::string("signatures.json: not valid JSON (") +
                           rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                           std::to_string(doc.GetErrorOffset()) + ")");
  }
  if (!doc.IsObject()) return InvalidArgument("signatures.json: the top level must be an object");
  const Value& root = doc;  // const: clang finds the non-const iterators' == ambiguous in C++20
  auto format = root.FindMember("format");
  if (format == root.MemberEnd() || !format->value.IsString() || Str(format->value) != kSignatureFileFormat) {
    return InvalidArgument(std::string("signatures.json: 'format' must be \"") + std::string(kSignatureFileFormat) +
                           "\" (a file written by another version of the converter?)");
  }
  StatusOr<const Value*> signatures = GetObject(doc, "signatures", "the file");
  if (!signatures.ok()) return signatures.status();
  if ((*signatures)->MemberCount() == 0) return InvalidArgument("signatures.json: 'signatures' is empty");
  std::vector<GraphSignatureSpec> specs;
  std::set<std::string_view> names;
  for (const auto& member : (*signatures)->GetObject()) {
    if (!names.insert(Str(member.name)).second) {
      return InvalidArgument("signatures.json: signature '" + Cut(Str(member.name)) + "' is given twice");
    }
    StatusOr<GraphSignatureSpec> spec = ParseSignature(member.name, member.value, version_dir);
    if (!spec.ok()) return spec.status();
    specs.push_back(std::move(spec).value());
  }
  return specs;
}

StatusOr<std::vector<GraphSignatureSpec>> ReadSignatureFile(const std::string& version_dir) {
  const std::string path = version_dir + "/" + std::string(kSignatureFileName);
  std::ifstream file(path, std::ios::binary);
  if (!file) return InvalidArgument("signatures.json: cannot be opened");
  std::string text;
  std::array<char, 65536> chunk{};
  while (file && text.size() <= kMaxSignatureFileBytes) {  // never more than the cap plus one chunk
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    text.append(chunk.data(), static_cast<size_t>(file.gcount()));
  }
  if (file.bad()) return InvalidArgument("signatures.json: cannot be read");
  return ParseSignatureFile(text, version_dir);
}

}  // namespace serval

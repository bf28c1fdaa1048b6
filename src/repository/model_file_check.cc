#include "repository/model_file_check.h"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include "onnx/onnx_external_data.pb.h"

namespace serval {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxModelFileBytes = int64_t{2} * 1024 * 1024 * 1024;  // protobuf's own 2 GiB limit
constexpr int kMaxGraphDepth = 64;
constexpr const char* kOrtMemAddrMarker = "_ORT_MEM_ADDR_";

// Parses a non-negative decimal integer (digits only, no sign, no spaces) that fits int64.
std::optional<int64_t> ParseNonNegative(const std::string& text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(value);
}

// True when `inner` equals `outer` or lies below it, compared component by component.
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  auto in = inner.begin();
  for (auto out = outer.begin(); out != outer.end(); ++out) {
    if (out->empty()) continue;  // a trailing separator
    if (in == inner.end() || *in != *out) return false;
    ++in;
  }
  return true;
}

class Checker {
 public:
  Checker(const std::string& model_path, const std::string& version_dir)
      : model_path_(model_path), version_dir_(version_dir) {}

  Status Run() {
    struct stat info {};
    if (::stat(model_path_.c_str(), &info) != 0) {
      return InvalidArgument("model file '" + model_path_ + "': cannot stat: " + std::strerror(errno));
    }
    if (!S_ISREG(info.st_mode)) return InvalidArgument("model file '" + model_path_ + "': not a regular file");
    if (static_cast<int64_t>(info.st_size) > kMaxModelFileBytes) {
      return InvalidArgument("model file '" + model_path_ + "': " + std::to_string(info.st_size) +
                             " bytes is over the 2 GiB protobuf limit");
    }
    std::ifstream file(model_path_, std::ios::binary);
    if (!file) return InvalidArgument("model file '" + model_path_ + "': cannot open");
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) return InvalidArgument("model file '" + model_path_ + "': read error");

    onnx::ModelProto model;
    if (!model.ParseFromString(bytes)) {
      if (bytes.find("location") != std::string::npos) {
        return InvalidArgument("model file '" + model_path_ +
                               "': not a valid ONNX protobuf, and it may reference external data "
                               "(contains \"location\"); refusing to load it");
      }
      return Status::Ok();  // cannot reference external data; the engine reports its own parse error
    }

    model_dir_ = fs::path(model_path_).parent_path();
    if (model_dir_.empty()) model_dir_ = ".";
    std::error_code ec;
    canonical_version_dir_ = fs::weakly_canonical(fs::absolute(version_dir_, ec), ec);
    if (ec) return InvalidArgument("model file '" + model_path_ + "': cannot resolve version directory '" +
                                   version_dir_ + "': " + ec.message());

    if (model.has_graph()) Push(&model.graph(), 1);
    for (const onnx::TrainingInfoProto& info_proto : model.training_info()) {
      if (info_proto.has_initialization()) Push(&info_proto.initialization(), 1);
      if (info_proto.has_algorithm()) Push(&info_proto.algorithm(), 1);
    }
    for (const onnx::FunctionProto& function : model.functions()) {
      for (const onnx::NodeProto& node : function.node()) SERVAL_RETURN_IF_ERROR(CheckNode(node, 1));
      for (const onnx::AttributeProto& attr : function.attribute_proto()) SERVAL_RETURN_IF_ERROR(CheckAttribute(attr, 1));
    }
    // Iterative walk: no recursion on attacker-controlled nesting.
    while (!pending_.empty()) {
      auto [graph, depth] = pending_.back();
      pending_.pop_back();
      if (depth > kMaxGraphDepth) {
        return InvalidArgument("model file '" + model_path_ + "': subgraphs nested deeper than " +
                               std::to_string(kMaxGraphDepth));
      }
      for (const onnx::TensorProto& tensor : graph->initializer()) SERVAL_RETURN_IF_ERROR(CheckTensor(tensor));
      for (const onnx::SparseTensorProto& sparse : graph->sparse_initializer()) SERVAL_RETURN_IF_ERROR(CheckSparse(sparse));
      for (const onnx::NodeProto& node : graph->node()) SERVAL_RETURN_IF_ERROR(CheckNode(node, depth));
    }
    return Status::Ok();
  }

 private:
  void Push(const onnx::GraphProto* graph, int depth) { pending_.emplace_back(graph, depth); }

  Status CheckNode(const onnx::NodeProto& node, int depth) {
    for (const onnx::AttributeProto& attr : node.attribute()) SERVAL_RETURN_IF_ERROR(CheckAttribute(attr, depth));
    return Status::Ok();
  }

  Status CheckAttribute(const onnx::AttributeProto& attr, int depth) {
    if (attr.has_t()) SERVAL_RETURN_IF_ERROR(CheckTensor(attr.t()));
    for (const onnx::TensorProto& tensor : attr.tensors()) SERVAL_RETURN_IF_ERROR(CheckTensor(tensor));
    if (attr.has_sparse_tensor()) SERVAL_RETURN_IF_ERROR(CheckSparse(attr.sparse_tensor()));
    for (const onnx::SparseTensorProto& sparse : attr.sparse_tensors()) SERVAL_RETURN_IF_ERROR(CheckSparse(sparse));
    if (attr.has_g()) Push(&attr.g(), depth + 1);
    for (const onnx::GraphProto& graph : attr.graphs()) Push(&graph, depth + 1);
    return Status::Ok();
  }

  Status CheckSparse(const onnx::SparseTensorProto& sparse) {
    if (sparse.has_values()) SERVAL_RETURN_IF_ERROR(CheckTensor(sparse.values()));
    if (sparse.has_indices()) SERVAL_RETURN_IF_ERROR(CheckTensor(sparse.indices()));
    return Status::Ok();
  }

  Status Reject(const std::string& location, const std::string& reason) const {
    return InvalidArgument("model file '" + model_path_ + "': external data '" + location + "' " + reason);
  }

  Status CheckTensor(const onnx::TensorProto& tensor) {
    if (tensor.data_location() != onnx::TensorProto::EXTERNAL && tensor.external_data_size() == 0) {
      return Status::Ok();
    }
    const std::string* location = nullptr;
    const std::string* offset_text = nullptr;
    const std::string* length_text = nullptr;
    for (const onnx::StringStringEntryProto& entry : tensor.external_data()) {
      const std::string** slot = entry.key() == "location" ? &location
                                 : entry.key() == "offset" ? &offset_text
                                 : entry.key() == "length" ? &length_text
                                                           : nullptr;
      if (slot == nullptr) continue;
      if (*slot != nullptr) {
        return Reject(location ? *location : entry.value(), "has a duplicate '" + entry.key() + "' key");
      }
      *slot = &entry.value();
    }
    if (location == nullptr) return Reject("", "has no location (tensor '" + tensor.name() + "')");
    const std::string& loc = *location;
    if (loc.empty()) return Reject(loc, "has an empty location");
    if (loc.find('\0') != std::string::npos) return Reject(loc, "contains a NUL byte");
    if (loc.find(kOrtMemAddrMarker) != std::string::npos) {
      return Reject(loc, "uses the in-memory marker _ORT_MEM_ADDR_, which a model file may not use");
    }
    fs::path relative(loc);
    if (relative.is_absolute() || relative.has_root_directory() || relative.has_root_name()) {
      return Reject(loc, "is an absolute path; it must be relative to the model's directory");
    }
    for (const fs::path& part : relative) {
      if (part == "..") return Reject(loc, "has a '..' component; it must stay inside the version directory");
    }

    // Walk down from the model's directory: no component may be a symlink; all but the last are dirs.
    fs::path current = model_dir_;
    std::vector<fs::path> parts;
    for (const fs::path& part : relative) {
      if (part.empty() || part == ".") continue;
      parts.push_back(part);
    }
    if (parts.empty()) return Reject(loc, "does not name a file");
    struct stat info {};
    for (size_t i = 0; i < parts.size(); ++i) {
      current /= parts[i];
      if (::lstat(current.c_str(), &info) != 0) {
        return Reject(loc, std::string("cannot be opened: ") + std::strerror(errno));
      }
      if (S_ISLNK(info.st_mode)) {
        return Reject(loc, i + 1 == parts.size() ? "is a symlink" : "goes through a symlinked directory '" +
                                                                       parts[i].string() + "'");
      }
      if (i + 1 < parts.size() && !S_ISDIR(info.st_mode)) {
        return Reject(loc, "goes through '" + parts[i].string() + "', which is not a directory");
      }
    }
    if (!S_ISREG(info.st_mode)) return Reject(loc, "is not a regular file");
    if (info.st_nlink != 1) {
      return Reject(loc, "is a hard link (" + std::to_string(info.st_nlink) + " links); copy the file instead");
    }
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(fs::absolute(current, ec), ec);
    if (ec || !IsWithin(canonical, canonical_version_dir_)) {
      return Reject(loc, "resolves outside the version directory '" + version_dir_ + "'");
    }

    const int64_t size = static_cast<int64_t>(info.st_size);
    int64_t offset = 0;
    if (offset_text != nullptr) {
      std::optional<int64_t> parsed = ParseNonNegative(*offset_text);
      if (!parsed) return Reject(loc, "has offset '" + *offset_text + "', which is not a non-negative decimal integer");
      offset = *parsed;
    }
    if (offset > size) {
      return Reject(loc, "has offset " + std::to_string(offset) + " past the end of the file (" +
                             std::to_string(size) + " bytes)");
    }
    if (length_text != nullptr) {
      std::optional<int64_t> length = ParseNonNegative(*length_text);
      if (!length) return Reject(loc, "has length '" + *length_text + "', which is not a non-negative decimal integer");
      if (*length > size - offset) {  // offset <= size, so size - offset cannot overflow
        return Reject(loc, "has offset " + std::to_string(offset) + " + length " + std::to_string(*length) +
                               " past the end of the file (" + std::to_string(size) + " bytes)");
      }
    }
    return Status::Ok();
  }

  const std::string model_path_;
  const std::string version_dir_;
  fs::path model_dir_;
  fs::path canonical_version_dir_;
  std::vector<std::pair<const onnx::GraphProto*, int>> pending_;
};

}  // namespace

Status CheckModelFile(const std::string& model_path, const std::string& version_dir) {
  return Checker(model_path, version_dir).Run();
}

}  // namespace serval

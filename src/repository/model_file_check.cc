#include "repository/model_file_check.h"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/wire_format_lite.h>

namespace serval {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxModelFileBytes = int64_t{2} * 1024 * 1024 * 1024;  // protobuf's own 2 GiB limit
constexpr int kMaxGraphDepth = 64;
constexpr const char* kOrtMemAddrMarker = "_ORT_MEM_ADDR_";
constexpr uint32_t kMaxTextBytes = 64 * 1024;  // a tensor name or external_data key/value

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

// What the walk keeps of one TensorProto: only the fields the check reads.
struct TensorFields {
  std::string name;
  bool external = false;  // data_location == EXTERNAL
  std::vector<std::pair<std::string, std::string>> external_data;
};

// The messages of onnx.proto the walk descends into (field numbers as in onnx.proto; the subset is also
// written out in proto/onnx/onnx_external_data.proto, which the tests use to build models).
enum class Kind { kModel, kTrainingInfo, kFunction, kGraph, kNode, kAttribute, kSparseTensor, kTensor, kEntry };

// The message a length-delimited field of `parent` holds, if the walk must descend into it; `depth` is the
// graph nesting depth, incremented for subgraphs.
std::optional<Kind> ChildKind(Kind parent, int field, int depth, int* child_depth) {
  *child_depth = depth;
  switch (parent) {
    case Kind::kModel:
      *child_depth = 1;
      if (field == 7) return Kind::kGraph;
      if (field == 20) return Kind::kTrainingInfo;
      if (field == 25) return Kind::kFunction;
      return std::nullopt;
    case Kind::kTrainingInfo:
      *child_depth = 1;
      if (field == 1 || field == 2) return Kind::kGraph;
      return std::nullopt;
    case Kind::kFunction:
      *child_depth = 1;
      if (field == 7) return Kind::kNode;
      if (field == 11) return Kind::kAttribute;
      return std::nullopt;
    case Kind::kGraph:
      if (field == 1) return Kind::kNode;
      if (field == 5) return Kind::kTensor;
      if (field == 15) return Kind::kSparseTensor;
      return std::nullopt;
    case Kind::kNode:
      if (field == 5) return Kind::kAttribute;
      return std::nullopt;
    case Kind::kAttribute:
      if (field == 5 || field == 10) return Kind::kTensor;
      if (field == 22 || field == 23) return Kind::kSparseTensor;
      if (field == 6 || field == 11) {
        *child_depth = depth + 1;
        return Kind::kGraph;
      }
      return std::nullopt;
    case Kind::kSparseTensor:
      if (field == 1 || field == 2) return Kind::kTensor;
      return std::nullopt;
    case Kind::kTensor:
      if (field == 13) return Kind::kEntry;
      return std::nullopt;
    case Kind::kEntry:
      return std::nullopt;
  }
  return std::nullopt;
}

// True when the file's bytes contain `needle`; reads in bounded chunks.
bool FileContains(int fd, std::string_view needle) {
  if (::lseek(fd, 0, SEEK_SET) != 0) return true;  // cannot tell: assume the worst
  std::string window;
  std::vector<char> chunk(64 * 1024);
  for (;;) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;
    if (n == 0) return false;
    window.append(chunk.data(), static_cast<size_t>(n));
    if (window.find(needle) != std::string::npos) return true;
    window.erase(0, window.size() - std::min(window.size(), needle.size() - 1));
  }
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
    int fd = ::open(model_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return InvalidArgument("model file '" + model_path_ + "': cannot open: " + std::strerror(errno));
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};

    model_dir_ = fs::path(model_path_).parent_path();
    if (model_dir_.empty()) model_dir_ = ".";
    std::error_code ec;
    canonical_version_dir_ = fs::weakly_canonical(fs::absolute(version_dir_, ec), ec);
    if (ec)
      return InvalidArgument("model file '" + model_path_ + "': cannot resolve version directory '" + version_dir_ +
                             "': " + ec.message());

    bool well_formed = true;
    SERVAL_RETURN_IF_ERROR(Walk(fd, &well_formed));
    if (!well_formed && FileContains(fd, "location")) {
      return InvalidArgument("model file '" + model_path_ +
                             "': not a valid ONNX protobuf, and it may reference external data "
                             "(contains \"location\"); refusing to load it");
    }
    return Status::Ok();  // a file that does not parse cannot reference external data; the engine reports it
  }

 private:
  // Streams the file through protobuf's wire-format reader, descending only into the messages that can
  // hold a TensorProto and skipping every other field (tensor data included) without keeping it: memory
  // stays at the reader's buffer and one tensor's external_data, whatever the model's size. Nesting is an
  // explicit stack (no recursion on attacker-controlled depth), graphs capped at kMaxGraphDepth. Tensors
  // are checked as they end. Sets *well_formed = false (and stops) where protobuf's own parser would
  // refuse the bytes; everything before that point has been checked.
  Status Walk(int fd, bool* well_formed) {
    namespace io = google::protobuf::io;
    using WireFormatLite = google::protobuf::internal::WireFormatLite;
    io::FileInputStream file(fd);
    io::CodedInputStream in(&file);
    in.SetTotalBytesLimit(std::numeric_limits<int>::max());
    struct Frame {
      Kind kind;
      int depth;
      io::CodedInputStream::Limit limit;
    };
    std::vector<Frame> frames{{Kind::kModel, 0, 0}};
    TensorFields tensor;
    std::pair<std::string, std::string> entry;
    auto malformed = [&] {
      *well_formed = false;
      return Status::Ok();
    };
    while (!frames.empty()) {
      const Frame frame = frames.back();
      const uint32_t tag = in.ReadTag();
      if (tag == 0) {  // the end of this message, or bytes that are not a tag
        if (frame.kind == Kind::kModel) {
          if (file.GetErrno() != 0 || !in.ConsumedEntireMessage()) return malformed();
          frames.pop_back();
          continue;
        }
        if (in.BytesUntilLimit() != 0) return malformed();
        in.PopLimit(frame.limit);
        frames.pop_back();
        if (frame.kind == Kind::kTensor) SERVAL_RETURN_IF_ERROR(CheckTensor(tensor));
        if (frame.kind == Kind::kEntry) tensor.external_data.push_back(std::move(entry));
        continue;
      }
      const int field = WireFormatLite::GetTagFieldNumber(tag);
      const auto wire_type = WireFormatLite::GetTagWireType(tag);
      if (wire_type == WireFormatLite::WIRETYPE_END_GROUP) return malformed();
      if (wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        int child_depth = 0;
        std::optional<Kind> child = ChildKind(frame.kind, field, frame.depth, &child_depth);
        std::string* text = nullptr;
        if (frame.kind == Kind::kTensor && field == 8) text = &tensor.name;
        if (frame.kind == Kind::kEntry && field == 1) text = &entry.first;
        if (frame.kind == Kind::kEntry && field == 2) text = &entry.second;
        if (child || text != nullptr) {
          uint32_t length = 0;
          if (!in.ReadVarint32(&length)) return malformed();
          const int room = in.BytesUntilLimit();  // -1 at the top level: the file's end bounds it there
          if (length > static_cast<uint32_t>(std::numeric_limits<int>::max()) ||
              (room >= 0 && static_cast<int64_t>(length) > room)) {
            return malformed();
          }
          if (text != nullptr) {
            if (length > kMaxTextBytes) {
              return InvalidArgument("model file '" + model_path_ + "': a tensor " +
                                     (frame.kind == Kind::kTensor ? "name" : "external_data entry") + " of " +
                                     std::to_string(length) + " bytes (the most accepted is " +
                                     std::to_string(kMaxTextBytes) + ")");
            }
            if (!in.ReadString(text, static_cast<int>(length))) return malformed();  // last one wins, as in protobuf
            continue;
          }
          if (*child == Kind::kGraph && child_depth > kMaxGraphDepth) {
            return InvalidArgument("model file '" + model_path_ + "': subgraphs nested deeper than " +
                                   std::to_string(kMaxGraphDepth));
          }
          if (*child == Kind::kTensor) tensor = TensorFields{};
          if (*child == Kind::kEntry) entry = {};
          frames.push_back({*child, child_depth, in.PushLimit(static_cast<int>(length))});
          continue;
        }
      }
      if (frame.kind == Kind::kTensor && field == 14 && wire_type == WireFormatLite::WIRETYPE_VARINT) {
        uint64_t location = 0;
        if (!in.ReadVarint64(&location)) return malformed();
        if (location <= 1) tensor.external = location == 1;  // other values are unknown enum values, ignored
        continue;
      }
      if (!WireFormatLite::SkipField(&in, tag)) return malformed();
    }
    return Status::Ok();
  }

  Status Reject(const std::string& location, const std::string& reason) const {
    return InvalidArgument("model file '" + model_path_ + "': external data '" + location + "' " + reason);
  }

  Status CheckTensor(const TensorFields& tensor) {
    if (!tensor.external && tensor.external_data.empty()) return Status::Ok();
    const std::string* location = nullptr;
    const std::string* offset_text = nullptr;
    const std::string* length_text = nullptr;
    for (const auto& [key, value] : tensor.external_data) {
      const std::string** slot = key == "location" ? &location
                                 : key == "offset" ? &offset_text
                                 : key == "length" ? &length_text
                                                   : nullptr;
      if (slot == nullptr) continue;
      if (*slot != nullptr) return Reject(location ? *location : value, "has a duplicate '" + key + "' key");
      *slot = &value;
    }
    if (location == nullptr) return Reject("", "has no location (tensor '" + tensor.name + "')");
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
        return Reject(loc, i + 1 == parts.size() ? "is a symlink"
                                                 : "goes through a symlinked directory '" + parts[i].string() + "'");
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
      return Reject(loc, "has offset " + std::to_string(offset) + " past the end of the file (" + std::to_string(size) +
                             " bytes)");
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
};

}  // namespace

Status CheckModelFile(const std::string& model_path, const std::string& version_dir) {
  return Checker(model_path, version_dir).Run();
}

}  // namespace serval

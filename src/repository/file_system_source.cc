#include "repository/file_system_source.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <utility>

#include <sys/stat.h>

#include "repository/signature_file.h"

namespace serval {
namespace fs = std::filesystem;

namespace {

// 18 digits always fit int64 (its maximum has 19); longer names are not versions.
constexpr size_t kMaxVersionDirNameLength = 18;
// Bounds one scan of a SavedModel's variables/ (a hostile directory must not make a poll unbounded).
constexpr int kMaxVariableFiles = 4096;
constexpr int64_t kNanosPerSecond = 1'000'000'000;

int64_t MtimeNanos(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * kNanosPerSecond + st.st_mtim.tv_nsec;
}

bool StatRegular(const std::string& path, struct stat* info) {
  return ::stat(path.c_str(), info) == 0 && S_ISREG(info->st_mode);
}

}  // namespace

bool ParseVersionDirName(std::string_view name, int64_t* version) {
  if (name.empty() || name.size() > kMaxVersionDirNameLength) return false;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data(), end, *version);
  return ec == std::errc() && ptr == end && *version >= 0;
}

std::optional<FileObservation> ObserveVersionDir(const std::string& dir, std::string_view platform) {
  struct stat onnx_info {};
  const bool has_onnx = StatRegular(dir + "/" + std::string(kOnnxModelFileName), &onnx_info);
  struct stat signature_file_info {};
  const bool has_signature_file = StatRegular(dir + "/" + std::string(kSignatureFileName), &signature_file_info);
  struct stat saved_info {};
  bool has_saved = StatRegular(dir + "/saved_model.pb", &saved_info);
  if (!has_saved) has_saved = StatRegular(dir + "/saved_model.pbtxt", &saved_info);
  if (!has_onnx && !has_signature_file && !has_saved) return std::nullopt;
  FileObservation out;
  out.dir = dir;
  if ((has_onnx || has_signature_file) && (!has_saved || platform != kTensorFlowPlatform)) {
    out.platform = kOnnxPlatform;
    if (!has_signature_file) {
      out.size = static_cast<int64_t>(onnx_info.st_size);
      out.mtime_ns = MtimeNanos(onnx_info);
      return out;
    }
    // One graph per signature: the signature file and every .onnx file beside it must be unchanged.
    out.signature_file = true;
    out.size = static_cast<int64_t>(signature_file_info.st_size);
    out.mtime_ns = MtimeNanos(signature_file_info);
    std::error_code ec;
    int entries = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end && entries < kMaxVariableFiles;
         it.increment(ec), ++entries) {
      struct stat info {};
      if (it->path().extension() == ".onnx" && StatRegular(it->path().string(), &info)) {
        out.size += static_cast<int64_t>(info.st_size);
        out.mtime_ns = std::max(out.mtime_ns, MtimeNanos(info));
      }
    }
    return out;
  }
  out.platform = kTensorFlowPlatform;
  out.size = static_cast<int64_t>(saved_info.st_size);
  out.mtime_ns = MtimeNanos(saved_info);
  std::error_code ec;
  int entries = 0;
  for (fs::directory_iterator it(dir + "/variables", ec), end; !ec && it != end && entries < kMaxVariableFiles;
       it.increment(ec), ++entries) {
    struct stat info {};
    if (StatRegular(it->path().string(), &info)) {
      out.size += static_cast<int64_t>(info.st_size);
      out.mtime_ns = std::max(out.mtime_ns, MtimeNanos(info));
    }
  }
  return out;
}

BasePathObservation ObserveBasePath(const std::string& base_path, std::string_view platform) {
  BasePathObservation out;
  std::error_code ec;
  fs::directory_iterator dir(base_path, ec);
  if (ec) {
    out.missing_reason = "base path '" + base_path + "' cannot be read: " + ec.message();
    return out;
  }
  for (const fs::directory_entry& child : dir) {
    int64_t version = 0;
    const std::string dir_name = child.path().filename().string();
    if (!ParseVersionDirName(dir_name, &version)) continue;
    std::optional<FileObservation> observed = ObserveVersionDir(child.path().string(), platform);
    if (!observed) continue;
    auto known = out.versions.find(version);
    if (known != out.versions.end()) {
      const std::string& other = known->second.dir;
      const std::string other_name = other.substr(other.rfind('/') + 1);
      if (std::make_pair(other_name.size(), other_name) <= std::make_pair(dir_name.size(), dir_name)) continue;
    }
    out.versions[version] = std::move(*observed);
  }
  if (out.versions.empty()) {
    out.missing_reason = "no version with a model.onnx or saved_model.pb under base path '" + base_path + "'";
  }
  return out;
}

}  // namespace serval

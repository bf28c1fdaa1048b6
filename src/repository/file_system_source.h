// The file-system source: what one model's base path holds right now. It reads the disk and decides
// nothing; ModelManager plans (version_plan.h) and loads from what it reports.
//
// Layout: <base_path>/<integer version>/model.onnx, or a SavedModel (saved_model.pb or saved_model.pbtxt
// plus variables/) in that directory. Version directory names are decimal digits only; "1" and "0001"
// name the same version, and the shorter (then smaller) name wins whatever the listing order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace serval {

inline constexpr std::string_view kOnnxPlatform = "onnx";
inline constexpr std::string_view kTensorFlowPlatform = "tensorflow";
inline constexpr std::string_view kOnnxModelFileName = "model.onnx";

// What one version directory holds, for the pickup rule (a copy in progress must never be loaded): the model
// file's size and mtime (a SavedModel: saved_model.pb and variables/ summed, newest mtime), the engine that
// serves it, and the directory.
struct FileObservation {
  int64_t size = -1;
  int64_t mtime_ns = -1;
  std::string dir;              // the version directory as found ("<base>/00000123" stays zero-padded)
  std::string platform;         // kOnnxPlatform | kTensorFlowPlatform
  bool signature_file = false;  // ONNX: signatures.json lists one graph per signature
  bool operator==(const FileObservation&) const = default;
};

// One look at a base path.
struct BasePathObservation {
  std::map<int64_t, FileObservation> versions;
  // Why no version is present (unreadable base path, or no version holding a model); empty when
  // `versions` is not empty.
  std::string missing_reason;
};

// A version directory name is a non-negative decimal integer that fits int64, written with digits only
// (no sign: "-0" and "+1" are not versions).
bool ParseVersionDirName(std::string_view name, int64_t* version);

// What `dir` holds; nullopt when it holds neither model.onnx nor a SavedModel. `platform` breaks the tie
// when it holds both (kTensorFlowPlatform picks the SavedModel, anything else model.onnx).
std::optional<FileObservation> ObserveVersionDir(const std::string& dir, std::string_view platform);

// Every version under `base_path`.
BasePathObservation ObserveBasePath(const std::string& base_path, std::string_view platform);

}  // namespace serval

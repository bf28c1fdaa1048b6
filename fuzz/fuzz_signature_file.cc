// signatures.json (operator bytes): the parser of a converted version's signature file, against a version
// directory that holds two graph files (the bytes decide which paths they name).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "repository/signature_file.h"

namespace {

std::string VersionDir() {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("serval-fuzz-sigs-" + std::to_string(::getpid()) + "/1")).string();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/model.onnx") << "graph";
  std::ofstream(dir + "/other.onnx") << "graph";
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kDir = VersionDir();
  (void)serval::ParseSignatureFile(std::string_view(reinterpret_cast<const char*>(data), size), kDir);
  return 0;
}

// The warm-up file reader: a TFRecord file (length, masked CRC-32C, data, masked CRC-32C per record),
// read record by record and each record parsed as a PredictionLog, as the warm-up replay does. The input
// is written to a file of this process's own (the reader reads files) in /dev/shm when it exists.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "api/tfs/tfs_warmup.h"
#include "tensorflow_serving/apis/prediction_log.pb.h"

namespace {

std::string ScratchPath() {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/serval-fuzz-tfrecord-" + std::to_string(getpid());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = ScratchPath();
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  if (size != 0) std::fwrite(data, 1, size, file);
  std::fclose(file);
  auto reader = serval::TfRecordReader::Open(path, /*max_record_bytes=*/1 << 20);
  if (!reader.ok()) return 0;
  std::string record;
  for (int i = 0; i < 64; ++i) {
    auto more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    tensorflow::serving::PredictionLog log;
    (void)log.ParseFromString(record);
  }
  auto again = serval::TfRecordReader::Open(path, 1 << 20);
  if (again.ok()) {
    for (int i = 0; i < 64; ++i) {
      auto more = (*again)->Skip();
      if (!more.ok() || !*more) break;
    }
  }
  return 0;
}

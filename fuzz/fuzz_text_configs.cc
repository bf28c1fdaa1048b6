// The operator's text-format configs: ModelServerConfig (--model_config_file) and BatchingParameters
// (--batching_parameters_file, per-model batching_params.pbtxt). The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "batching/batching_parameters.h"
#include "repository/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    (void)serval::ParseBatchingParameters(text);
  } else {
    (void)serval::ParseModelServerConfig(text);
  }
  return 0;
}

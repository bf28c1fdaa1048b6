// ServerOptions: everything main() learns from the command line and environment, in one value.
// Flag names follow TF Serving's tensorflow_model_server so existing command lines keep working.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "repository/model_config.h"

namespace serval {

struct ServerOptions {
  int grpc_port = 8500;
  std::string grpc_socket_path;
  std::string grpc_channel_arguments;
  int grpc_max_threads = 0;  // 0 = 4 × cores available (at least 8)
  int grpc_max_message_size_bytes = 2147483647;
  bool enable_serialization_as_tensor_content = false;
  int rest_api_port = 8501;
  std::string rest_api_address = "0.0.0.0";
  int rest_api_num_threads = 0;  // 0 = the cores this process may use
  int rest_api_timeout_in_ms = 30000;
  bool rest_api_enable_cors_support = false;
  size_t max_body_bytes = 64u << 20;
  int file_system_poll_wait_seconds = 1;
  std::vector<ModelConfig> models;  // from --model_config_file, or --model_name/--model_base_path
  std::string model_config_file;
  EngineOptions engine;
};

// Reads argv (gflags syntax: --name=value, --name value, --[no]bool) and the TF Serving Docker variables
// MODEL_NAME / MODEL_BASE_PATH. Fails on unknown flags, flags Serval does not implement yet, or bad values.
// REQUIRES: called once, before any other thread starts.
StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv);

// Number of cores this process may run on (sched_getaffinity), at least 1.
int AvailableCores();

}  // namespace serval

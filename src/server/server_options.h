// ServerOptions: everything main() learns from the command line and environment, in one value.
// Flag names follow TF Serving's tensorflow_model_server so existing command lines keep working.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "batching/batching_parameters.h"
#include "core/inline_run.h"
#include "core/status.h"
#include "core/tls_settings.h"
#include "engine/engine.h"
#include "engine/tf/tf_engine.h"
#include "repository/model_config.h"
#include "repository/model_manager.h"
#include "server/flag_help.h"

namespace serval {

// Triton's --model-control-mode.
enum class ModelControlMode { kNone, kPoll, kExplicit };

// Fields are grouped by meaning, not by size: one instance per process.
struct ServerOptions {  // NOLINT(clang-analyzer-optin.performance.Padding)
  // --help, -h or --version: the text main() prints to stdout before it exits 0; nothing else is set then.
  std::string exit_text;
  int grpc_port = 8500;
  std::string grpc_socket_path;
  std::string grpc_channel_arguments;
  int grpc_max_threads = 0;                    // gRPC inference worker threads; 0 = 8 × cores available (at least 32)
  int grpc_max_message_size_bytes = 64 << 20;  // TF Serving: INT32_MAX
  int grpc_max_concurrent_streams = 256;       // 0 = gRPC's default (unbounded)
  // The memory budget (core/memory_budget.h): 0 = half the memory the process may use; per request; the
  // largest encoded response (0 = no limit).
  size_t request_memory_budget_bytes = 0;
  size_t max_request_memory_bytes = size_t{1} << 30;
  size_t max_response_bytes = size_t{256} << 20;
  bool enable_serialization_as_tensor_content = false;
  int rest_api_port = 8501;
  std::string rest_api_address = "0.0.0.0";
  int rest_api_num_threads = 0;  // 0 = the cores this process may use
  int rest_api_timeout_in_ms = 30000;
  // --inline_max_*: which inference calls run on the thread that received them (core/inline_run.h); one gate
  // per surface (gRPC, REST) with this policy. max_run_micros 0 = never.
  InlinePolicy inline_policy;
  bool rest_api_enable_cors_support = false;
  size_t max_body_bytes = 64u << 20;
  int rest_api_max_connections = 4096;                   // 0 = no limit
  size_t rest_api_max_buffered_body_bytes = 1ull << 30;  // 0 = no limit
  TlsSettings tls;                                       // --ssl_config_file; disabled (tls.enabled() false) without it
  // --ssl_config_file and its text as read at start, and how often it is read again for new certificates
  // (--ssl_config_file_poll_wait_seconds; 0 = never).
  std::string ssl_config_file;
  std::string ssl_config_text;
  int ssl_config_file_poll_wait_seconds = 0;
  bool rest_api_tls = false;  // REST over HTTPS with `tls` (--ssl_config_file and --rest_api_ssl)
  int drain_timeout_secs = 30;
  int grpc_lame_duck_secs = 0;     // part of the drain: gRPC listener closed, open connections still served
  bool access_log = false;         // --access_log
  std::string log_level = "info";  // --log_level (spdlog level name)
  // --enable_batching with --batching_parameters_file (TF Serving's BatchingParameters; defaults without it)
  // and --enable_per_model_batching_parameters (<version>/batching_params.pbtxt).
  bool enable_batching = false;
  BatchingOptions batching;
  bool per_model_batching = false;
  // --monitoring_config_file with prometheus_config { enable: true }: Prometheus text at this path (and at
  // /metrics) on the REST port. Empty: not served.
  std::string prometheus_path;  // graceful shutdown: how long accepted requests may take to finish
  int file_system_poll_wait_seconds = 1;
  // Lifecycle knobs (--servable_versions_always_present, --max_num_load_retries, --load_retry_interval_micros,
  // --num_load_threads, --allow_version_labels_for_unavailable_models, --model_load_policy); its
  // file_system_poll_wait_seconds mirrors the field above. The server sets the warm-up and wrap hooks.
  ModelManagerOptions manager;
  bool enable_model_warmup = true;
  int num_request_iterations_for_warmup = 1;
  bool enable_synthetic_warmup = false;
  std::string model_config_text;    // the --model_config_file text the models above came from
  std::vector<ModelConfig> models;  // from --model_config_file, or --model_name/--model_base_path
  std::string model_config_file;
  int model_config_file_poll_wait_seconds = 0;  // 0 = read the config file once
  // --model_repository (Triton's layout; canonical absolute path, empty = none): its models are in `models`
  // (all of them, or in explicit mode the --load_model ones).
  std::string model_repository;
  ModelControlMode model_control_mode = ModelControlMode::kNone;
  std::vector<std::string> load_models;  // "*" = all
  int repository_poll_secs = 15;         // poll mode
  // Model control (Triton repository extension, TF Serving HandleReloadConfigRequest): off by default.
  bool enable_model_control = false;
  std::string model_root;   // with control on: every base_path must lie under it (absolute, normalised)
  std::string admin_token;  // from --admin_token_file; empty = no token demanded
  EngineOptions engine;
  TfEngineOptions tf_engine;  // SavedModel versions (the TensorFlow worker starts with the first one)
};

// Reads argv (gflags syntax: --name=value, --name value, --[no]bool) and the TF Serving Docker variables
// MODEL_NAME / MODEL_BASE_PATH. Fails on unknown flags, flags Serval does not implement yet, or bad values.
// --help lists only Serval's flags, in ServerFlagGroups() order; --version prints VersionText().
// REQUIRES: called once, before any other thread starts.
StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv);

// Parses TF Serving's SSLConfig text format; InvalidArgument for a malformed file, a missing key or
// certificate, or client_verify without custom_ca. The PEM texts are checked when the listeners start.
StatusOr<TlsSettings> ParseSslConfig(std::string_view text);

// Serval's flags under the headings of the README's flag table (the --help text). Every flag defined in
// server_options.cc is in exactly one group (server_options_test checks).
std::span<const FlagGroup> ServerFlagGroups();

// "serval <version>" and one line per inference runtime linked in (name and version), for --version.
std::string VersionText();

}  // namespace serval

#include "server/server_options.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>

#include <gflags/gflags.h>

#include "core/usable_cores.h"
#include "metrics/monitoring_config.h"
#include "proto/text_proto.h"
#include "repository/config_file_watcher.h"
#include "repository/model_config.h"
#include "repository/triton_repository.h"
#include "tensorflow_serving/config/ssl_config.pb.h"

// --- TF Serving flags, same names and meaning -------------------------------------------------------
DEFINE_int32(port, 8500, "gRPC port (TF Serving PredictionService/ModelService, KServe v2, grpc.health.v1)");
DEFINE_string(grpc_socket_path, "", "also serve gRPC on this UNIX socket");
DEFINE_string(grpc_channel_arguments, "", "gRPC server channel arguments, e.g. grpc.max_connection_age_ms=2000,...");
DEFINE_int32(
    grpc_max_threads, 0,
    "gRPC inference worker threads (fixed; 4 x as many calls may queue); 0 = 8 x cores available (at least 32)");
DEFINE_bool(enable_serialization_as_tensor_content, false, "gRPC Predict outputs in tensor_content, not typed fields");
DEFINE_bool(enable_grpc_healthcheck_service, true,
            "grpc.health.v1.Health is always served; accepted for compatibility");
DEFINE_int32(rest_api_port, 8501, "HTTP/REST API port (TF Serving and KServe v2 routes); 0 disables REST");
DEFINE_int32(rest_api_num_threads, 0,
             "REST worker threads that run requests (2 more I/O threads answer health and metrics at once). "
             "0 = cores available");
DEFINE_int64(inline_max_run_micros, 200,
             "run an inference call on the thread that received it (gRPC callback thread, REST io thread) when its "
             "model version is unbatched and its recent run time is at most this; 0 = always hand off to a worker");
DEFINE_int32(inline_max_concurrent, 1,
             "inference calls run inline at once, per surface (gRPC, REST; REST at most 1 of its 2 io threads)");
DEFINE_int64(inline_max_body_bytes, 64 << 10, "largest request body (as received) that may run inline");
DEFINE_int32(rest_api_timeout_in_ms, 30000, "timeout for reading one HTTP request and for idle keep-alive");
DEFINE_bool(rest_api_enable_cors_support, false, "add CORS headers to REST responses");
DEFINE_string(model_name, "", "name of the single model to serve (with --model_base_path)");
DEFINE_string(model_base_path, "",
              "absolute path holding <version>/model.onnx or <version>/saved_model.pb for the single model");
DEFINE_string(model_config_file, "", "TF Serving ModelServerConfig text file (model_config_list)");
DEFINE_string(model_repository, "",
              "Triton model repository: every <dir>/<model>/ with config.pbtxt (optional) and <version>/ directories "
              "(also --model-repository)");
DEFINE_string(model_control_mode, "none",
              "Triton's repository control: none (load all at start), poll (also rescan every "
              "--repository_poll_secs), explicit (load --load_model ones; the repository routes load and unload)");
DEFINE_string(load_model, "",
              "with --model_control_mode=explicit: a repository model to load at start; repeatable; '*' = all");
DEFINE_int32(repository_poll_secs, 15, "with --model_control_mode=poll: seconds between repository scans");
DEFINE_int32(model_config_file_poll_wait_seconds, 0, "seconds between re-reads of --model_config_file; 0 = read once");
DEFINE_int32(file_system_poll_wait_seconds, 1, "seconds between scans of model base paths for new versions; 0 = once");
DEFINE_int32(tensorflow_intra_op_parallelism, 0, "same as --intra_op_threads");
DEFINE_int32(tensorflow_inter_op_parallelism, 0, "same as --inter_op_threads");
DEFINE_string(saved_model_tags, "serve", "comma-separated tags of the SavedModel MetaGraphDef to load");
DEFINE_int32(tensorflow_worker_threads, 0,
             "TensorFlow runs in flight at once in the TensorFlow worker process; 0 = 4 x cores");
DEFINE_bool(enable_batching, false, "merge concurrent requests of a model version into one run (dynamic batching)");
DEFINE_string(batching_parameters_file, "", "TF Serving BatchingParameters text file (defaults without it)");
DEFINE_bool(enable_per_model_batching_parameters, false,
            "read <version>/batching_params.pbtxt for a model version's own batching parameters");
DEFINE_bool(servable_versions_always_present, false,
            "keep serving loaded versions when a base path becomes empty or unreadable");
DEFINE_int32(max_num_load_retries, 5, "retries of a model load that failed with a transient error");
DEFINE_int64(load_retry_interval_micros, 60000000, "microseconds between those retries");
DEFINE_int32(num_load_threads, 0, "threads that load models in parallel; 0 = one model after another");
DEFINE_bool(allow_version_labels_for_unavailable_models, false,
            "let a new version label name a version that is not AVAILABLE yet");
DEFINE_bool(enable_model_warmup, true, "replay <version>/assets.extra/tf_serving_warmup_requests before serving");
DEFINE_int32(num_request_iterations_for_warmup, 1, "times each warm-up record is run");
// --- Serval's own ------------------------------------------------------------------------------------
DEFINE_string(rest_api_address, "0.0.0.0", "address the REST and gRPC APIs bind");
DEFINE_int32(grpc_max_message_size_bytes, 64 << 20,
             "largest gRPC message received (after decompression) or sent; TF Serving's default is INT32_MAX, "
             "Serval's 64 MiB, the same as a REST body");
DEFINE_int32(grpc_max_concurrent_streams, 256,
             "HTTP/2 streams (calls) one gRPC connection may have open at once; 0 = gRPC's default (no limit)");
DEFINE_uint64(request_memory_budget_bytes, 0,
              "memory all requests in flight together may decode into (tensors, strings, responses); a request "
              "that would pass it is refused at once (REST 503, gRPC UNAVAILABLE). 0 = half the memory this "
              "process may use (physical or cgroup limit)");
DEFINE_uint64(max_request_memory_bytes, 1ull << 30,
              "memory one request may decode into; over it: REST 429, gRPC RESOURCE_EXHAUSTED (at most "
              "--request_memory_budget_bytes)");
DEFINE_uint64(max_response_bytes, 256ull << 20,
              "largest encoded response, estimated before encoding; over it: REST 429, gRPC RESOURCE_EXHAUSTED. "
              "0 = no limit");
DEFINE_int32(intra_op_threads, 0,
             "threads of ONNX Runtime's and TensorFlow's process-wide intra-op pools; 0 = cores available");
DEFINE_int32(inter_op_threads, 0, "threads of ONNX Runtime's and TensorFlow's inter-op pools; 0 = 1");
DEFINE_string(graph_optimization_level, "all", "ONNX Runtime graph optimizations: disable|basic|extended|all");
DEFINE_string(execution_providers, "cpu", "ordered execution providers, e.g. cuda,cpu; unavailable ones fall back");
DEFINE_bool(enable_cpu_mem_arena, true, "use ONNX Runtime's CPU memory arena");
DEFINE_bool(ort_allow_spinning, false, "let ONNX Runtime threads spin-wait (burns cores; off on small hosts)");
DEFINE_bool(enable_model_control, false,
            "answer model control requests (KServe/Triton repository load/unload/index, TF Serving "
            "HandleReloadConfigRequest); refused with 403 / PERMISSION_DENIED when off");
DEFINE_string(model_root, "", "with --enable_model_control: the directory every controlled base_path must lie under");
DEFINE_string(admin_token_file, "", "file holding the bearer token every model control request must present");
DEFINE_bool(model_control_without_token_i_understand_the_risk, false,
            "with --enable_model_control and no --admin_token_file: let any client that reaches the ports load "
            "and unload models (without this flag the server refuses to start)");
DEFINE_string(model_load_policy, "availability",
              "availability: a new version loads before the old one unloads (default); resource: the old one "
              "unloads and drains first, for models too large for two copies");
DEFINE_int32(drain_timeout_secs, 30,
             "on SIGTERM/SIGINT: seconds accepted requests may take to finish before the server exits");
DEFINE_int32(grpc_lame_duck_secs, 0,
             "on SIGTERM/SIGINT, within --drain_timeout_secs: seconds the gRPC port keeps serving the connections "
             "already open (new ones refused) before gRPC's shutdown; ends early when none is left. For a fleet "
             "behind nginx with SIGTERM alone (deploy/README.md). Sets grpc.max_connection_age_ms to half of it "
             "unless --grpc_channel_arguments sets it");
DEFINE_bool(access_log, false,
            "log one line per request (REST: method, escaped path, status, time; gRPC: inference calls)");
DEFINE_string(log_level, "info", "least severe log level written: trace, debug, info, warn, error, critical, off");
DEFINE_bool(enable_synthetic_warmup, false,
            "warm up versions that have no warm-up file with one request built from the signature");
DEFINE_uint64(max_request_body_bytes, 64ull << 20, "largest HTTP request body, also after gzip inflation");
DEFINE_int32(rest_api_max_connections, 4096,
             "open REST connections; one more is answered 503 and closed at once. 0 = no limit");
DEFINE_uint64(rest_api_max_buffered_body_bytes, 1ull << 30,
              "bytes all REST connections together may hold in bodies still arriving; a body that would pass "
              "it is answered 503. 0 = no limit");
DEFINE_string(monitoring_config_file, "",
              "TF Serving MonitoringConfig text file; prometheus_config { enable: true } serves Prometheus text at "
              "its path (default /monitoring/prometheus/metrics) and at /metrics on the REST port");
DEFINE_string(ssl_config_file, "",
              "TF Serving SSLConfig text file (server_key, server_cert, custom_ca, client_verify: PEM texts): TLS "
              "on the gRPC port, and HTTPS on the REST port unless --norest_api_ssl; client_verify: mTLS");
DEFINE_int32(ssl_config_file_poll_wait_seconds, 30,
             "how often --ssl_config_file is read again; a changed, usable file gives new connections its key and "
             "certificates on both ports without a restart (open connections keep theirs); 0 = never");
DEFINE_bool(rest_api_ssl, true,
            "with --ssl_config_file: serve REST over HTTPS with the same key and certificates (TF Serving keeps "
            "REST in plain HTTP; --norest_api_ssl does that)");
// --- TF-only flags that have no meaning for ONNX models: accepted and ignored, as documented -----------
DEFINE_bool(prefer_tflite_model, false, "TensorFlow Lite only; ignored");
DEFINE_int32(num_tflite_pools, 1, "TensorFlow Lite only; ignored");
DEFINE_int32(num_tflite_interpreters_per_pool, 1, "TensorFlow Lite only; ignored");
DEFINE_bool(xla_cpu_compilation_enabled, false, "XLA only; ignored");
DEFINE_bool(xla_gpu_compilation_enabled, false, "XLA only; ignored");
DEFINE_bool(skip_initialize_tpu, false, "TPU only; ignored");
DEFINE_bool(enable_profiler, true, "TensorFlow profiler only; ignored");
DEFINE_bool(remove_unused_fields_from_bundle_metagraph, true, "TensorFlow Serving bundle option; ignored");

namespace serval {
namespace {

const FlagGroup kFlagGroups[] = {
    {"Endpoints (REST and gRPC)",
     {"rest_api_port",
      "rest_api_address",
      "port",
      "grpc_socket_path",
      "grpc_max_threads",
      "grpc_max_message_size_bytes",
      "grpc_channel_arguments",
      "enable_serialization_as_tensor_content",
      "enable_grpc_healthcheck_service",
      "rest_api_num_threads",
      "inline_max_run_micros",
      "inline_max_concurrent",
      "inline_max_body_bytes",
      "rest_api_timeout_in_ms",
      "rest_api_enable_cors_support",
      "max_request_body_bytes",
      "rest_api_max_connections",
      "rest_api_max_buffered_body_bytes",
      "ssl_config_file",
      "ssl_config_file_poll_wait_seconds",
      "rest_api_ssl",
      "grpc_max_concurrent_streams",
      "request_memory_budget_bytes",
      "max_request_memory_bytes",
      "max_response_bytes"}},
    {"Models (or the MODEL_NAME and MODEL_BASE_PATH environment variables)",
     {"model_name", "model_base_path", "model_config_file", "file_system_poll_wait_seconds",
      "model_config_file_poll_wait_seconds"}},
    {"Engines (ONNX Runtime, TensorFlow)",
     {"intra_op_threads", "tensorflow_intra_op_parallelism", "inter_op_threads", "tensorflow_inter_op_parallelism",
      "graph_optimization_level", "execution_providers", "enable_cpu_mem_arena", "ort_allow_spinning",
      "saved_model_tags", "tensorflow_worker_threads"}},
    {"Model lifecycle",
     {"servable_versions_always_present", "max_num_load_retries", "load_retry_interval_micros", "num_load_threads",
      "model_load_policy", "allow_version_labels_for_unavailable_models", "enable_model_warmup",
      "num_request_iterations_for_warmup", "enable_synthetic_warmup"}},
    {"Triton model repository", {"model_repository", "model_control_mode", "load_model", "repository_poll_secs"}},
    {"Model control",
     {"enable_model_control", "model_root", "admin_token_file", "model_control_without_token_i_understand_the_risk"}},
    {"Batching", {"enable_batching", "batching_parameters_file", "enable_per_model_batching_parameters"}},
    {"Operations", {"monitoring_config_file", "drain_timeout_secs", "grpc_lame_duck_secs", "access_log", "log_level"}},
    {"TF Lite / XLA / TPU / profiler flags (accepted and ignored)",
     {"prefer_tflite_model", "num_tflite_pools", "num_tflite_interpreters_per_pool", "xla_cpu_compilation_enabled",
      "xla_gpu_compilation_enabled", "skip_initialize_tpu", "enable_profiler",
      "remove_unused_fields_from_bundle_metagraph"}},
};

constexpr std::string_view kUsage =
    "serval: serves models over the TF Serving API and KServe v2 (REST and gRPC).\n"
    "Usage: serval [--flag=value ...]   (--help: this text; --version: versions)\n"
    "Flags take --name=value, --name value, and --name / --noname for booleans.";

// --enable_model_control, --model_root, --admin_token_file. The token file is read once, at start-up.
Status ReadModelControlFlags(ServerOptions* options) {
  // Triton's explicit mode is model control over the repository: the same gate (token) applies.
  const bool explicit_mode = options->model_control_mode == ModelControlMode::kExplicit;
  options->enable_model_control = FLAGS_enable_model_control || explicit_mode;
  if (explicit_mode) {
    if (!FLAGS_model_root.empty()) {
      return InvalidArgument("--model_control_mode=explicit controls --model_repository; drop --model_root");
    }
    options->model_root = options->model_repository;
  }
  if (!FLAGS_model_root.empty() && !explicit_mode) {
    if (FLAGS_model_root.front() != '/') return InvalidArgument("--model_root must be an absolute path");
    std::error_code ec;
    std::filesystem::path root = std::filesystem::weakly_canonical(FLAGS_model_root, ec);
    if (ec) return InvalidArgument("--model_root '" + FLAGS_model_root + "': " + ec.message());
    options->model_root = root.string();
  }
  if (options->enable_model_control && options->model_root.empty()) {
    return InvalidArgument("--enable_model_control needs --model_root (the directory models may be loaded from)");
  }
  if (!FLAGS_admin_token_file.empty()) {
    std::ifstream file(FLAGS_admin_token_file);
    if (!file) return InvalidArgument("--admin_token_file '" + FLAGS_admin_token_file + "' cannot be read");
    std::string token;
    std::getline(file, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) return InvalidArgument("--admin_token_file '" + FLAGS_admin_token_file + "' is empty");
    options->admin_token = std::move(token);
  }
  if (options->enable_model_control && options->admin_token.empty() &&
      !FLAGS_model_control_without_token_i_understand_the_risk) {
    return InvalidArgument(std::string(explicit_mode ? "--model_control_mode=explicit" : "--enable_model_control") +
                           " needs --admin_token_file (a file holding the token control requests must "
                           "present); to let any client that reaches the ports load and unload models, add "
                           "--model_control_without_token_i_understand_the_risk");
  }
  return Status::Ok();
}

// Triton's dashed flag names, taken as Serval's.
constexpr std::pair<std::string_view, std::string_view> kTritonSpellings[] = {
    {"--model-repository", "--model_repository"},
    {"--model-control-mode", "--model_control_mode"},
    {"--load-model", "--load_model"},
    {"--repository-poll-secs", "--repository_poll_secs"},
};

// argv with Triton's spellings renamed, and every --load_model value (gflags keeps only the last).
struct TranslatedArgs {
  std::vector<std::string> storage;
  std::vector<char*> argv;
  std::vector<std::string> load_models;
};

TranslatedArgs TranslateArgs(int argc, char** argv) {
  TranslatedArgs out;
  out.storage.reserve(static_cast<size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    for (const auto& [triton, serval] : kTritonSpellings) {
      if (arg == triton || (arg.starts_with(triton) && arg[triton.size()] == '=')) {
        arg = std::string(serval) + arg.substr(triton.size());
      }
    }
    out.storage.push_back(std::move(arg));
  }
  constexpr std::string_view kLoadModel = "--load_model";
  for (size_t i = 1; i < out.storage.size(); ++i) {
    const std::string& arg = out.storage[i];
    if (arg.starts_with(std::string(kLoadModel) + "=")) {
      out.load_models.push_back(arg.substr(kLoadModel.size() + 1));
    } else if (arg == kLoadModel && i + 1 < out.storage.size()) {
      out.load_models.push_back(out.storage[i + 1]);
    }
  }
  for (std::string& arg : out.storage) out.argv.push_back(arg.data());
  out.argv.push_back(nullptr);
  return out;
}

// --model_repository, --model_control_mode, --load_model, --repository_poll_secs.
Status ReadRepositoryFlags(const std::vector<std::string>& load_models, ServerOptions* options) {
  if (FLAGS_model_control_mode == "none") {
    options->model_control_mode = ModelControlMode::kNone;
  } else if (FLAGS_model_control_mode == "poll") {
    options->model_control_mode = ModelControlMode::kPoll;
  } else if (FLAGS_model_control_mode == "explicit") {
    options->model_control_mode = ModelControlMode::kExplicit;
  } else {
    return InvalidArgument("--model_control_mode must be none, poll or explicit; got '" + FLAGS_model_control_mode +
                           "'");
  }
  options->repository_poll_secs = FLAGS_repository_poll_secs;
  if (options->repository_poll_secs <= 0) return InvalidArgument("--repository_poll_secs must be positive");
  for (const std::string& name : load_models) {
    if (name != "*") SERVAL_RETURN_IF_ERROR(ValidateModelName(name));
    options->load_models.push_back(name);
  }
  if (FLAGS_model_repository.empty()) {
    if (options->model_control_mode != ModelControlMode::kNone || !options->load_models.empty()) {
      return InvalidArgument("--model_control_mode and --load_model need --model_repository");
    }
    return Status::Ok();
  }
  if (FLAGS_model_config_file_poll_wait_seconds > 0) {
    // A re-read config file replaces the whole served set, repository models included.
    return InvalidArgument("--model_repository cannot be combined with --model_config_file_poll_wait_seconds");
  }
  if (!options->load_models.empty() && options->model_control_mode != ModelControlMode::kExplicit) {
    return InvalidArgument("--load_model needs --model_control_mode=explicit");
  }
  std::error_code ec;
  std::filesystem::path repository = std::filesystem::weakly_canonical(FLAGS_model_repository, ec);
  if (ec || FLAGS_model_repository.front() != '/') {
    return InvalidArgument("--model_repository must be an absolute path, got '" + FLAGS_model_repository + "'");
  }
  options->model_repository = repository.string();
  return Status::Ok();
}

}  // namespace

StatusOr<TlsSettings> ParseSslConfig(std::string_view text) {
  tensorflow::serving::SSLConfig proto;
  SERVAL_RETURN_IF_ERROR(ParseTextProto(text, "SSLConfig", &proto));
  if (proto.server_key().empty() || proto.server_cert().empty()) {
    return InvalidArgument("server_key and server_cert (PEM texts) are both required");
  }
  if (proto.client_verify() && proto.custom_ca().empty()) {
    return InvalidArgument("client_verify needs custom_ca (the CA client certificates must chain to)");
  }
  TlsSettings tls;
  tls.server_key = proto.server_key();
  tls.server_cert = proto.server_cert();
  tls.custom_ca = proto.custom_ca();
  tls.client_verify = proto.client_verify();
  return tls;
}

StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv) {
  TranslatedArgs translated = TranslateArgs(argc, argv);
  argc = static_cast<int>(translated.storage.size());
  argv = translated.argv.data();
  gflags::SetUsageMessage(std::string(kUsage));
  gflags::SetVersionString(SERVAL_VERSION);
  switch (ParseFlagsWithInfo(&argc, &argv)) {
    case InfoRequest::kHelp: {
      ServerOptions info;
      info.exit_text = FlagHelp(kUsage, kFlagGroups);
      return info;
    }
    case InfoRequest::kVersion: {
      ServerOptions info;
      info.exit_text = VersionText();
      return info;
    }
    case InfoRequest::kNone:
      break;
  }
  if (argc > 1) return InvalidArgument(std::string("unexpected argument '") + argv[1] + "'");

  ServerOptions options;
  options.grpc_port = FLAGS_port;
  options.grpc_socket_path = FLAGS_grpc_socket_path;
  options.grpc_channel_arguments = FLAGS_grpc_channel_arguments;
  // Each running model call holds one gRPC worker (a batched one until its batch runs); past the workers and
  // their queue (4 x as many calls) gRPC answers RESOURCE_EXHAUSTED. Idle workers cost little, so the default
  // leaves room for 8 clients a core, and for batches to form.
  options.grpc_max_threads = FLAGS_grpc_max_threads > 0 ? FLAGS_grpc_max_threads : std::max(32, 8 * UsableCores());
  options.grpc_max_message_size_bytes = FLAGS_grpc_max_message_size_bytes;
  options.grpc_max_concurrent_streams = FLAGS_grpc_max_concurrent_streams;
  if (options.grpc_max_concurrent_streams < 0) {
    return InvalidArgument("--grpc_max_concurrent_streams must not be negative");
  }
  options.request_memory_budget_bytes = FLAGS_request_memory_budget_bytes;
  options.max_request_memory_bytes = FLAGS_max_request_memory_bytes;
  options.max_response_bytes = FLAGS_max_response_bytes;
  options.enable_serialization_as_tensor_content = FLAGS_enable_serialization_as_tensor_content;
  if (options.grpc_max_message_size_bytes <= 0)
    return InvalidArgument("--grpc_max_message_size_bytes must be positive");
  options.rest_api_port = FLAGS_rest_api_port;
  options.rest_api_address = FLAGS_rest_api_address;
  // Requests run inline on the REST threads. With batching they mostly wait for their batch, so more of them
  // (4 x cores, TF Serving's default) let concurrent requests meet in one batch without adding CPU work.
  options.rest_api_num_threads = FLAGS_rest_api_num_threads > 0 ? FLAGS_rest_api_num_threads
                                 : FLAGS_enable_batching        ? 4 * UsableCores()
                                                                : UsableCores();
  if (FLAGS_inline_max_run_micros < 0 || FLAGS_inline_max_concurrent < 0 || FLAGS_inline_max_body_bytes < 0) {
    return InvalidArgument(
        "--inline_max_run_micros, --inline_max_concurrent and --inline_max_body_bytes must not be "
        "negative");
  }
  options.inline_policy = {.max_run_micros = FLAGS_inline_max_run_micros,
                           .max_body_bytes = static_cast<size_t>(FLAGS_inline_max_body_bytes),
                           .max_concurrent = FLAGS_inline_max_concurrent};
  options.rest_api_timeout_in_ms = FLAGS_rest_api_timeout_in_ms;
  options.rest_api_enable_cors_support = FLAGS_rest_api_enable_cors_support;
  options.max_body_bytes = FLAGS_max_request_body_bytes;
  options.rest_api_max_connections = FLAGS_rest_api_max_connections;
  options.rest_api_max_buffered_body_bytes = FLAGS_rest_api_max_buffered_body_bytes;
  if (options.rest_api_max_connections < 0) return InvalidArgument("--rest_api_max_connections must not be negative");
  options.drain_timeout_secs = FLAGS_drain_timeout_secs;
  options.grpc_lame_duck_secs = FLAGS_grpc_lame_duck_secs;
  options.access_log = FLAGS_access_log;
  options.log_level = FLAGS_log_level;
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), options.log_level) == std::end(kLevels)) {
    return InvalidArgument("--log_level must be one of trace, debug, info, warn, error, critical, off; got '" +
                           options.log_level + "'");
  }
  options.enable_batching = FLAGS_enable_batching;
  options.per_model_batching = FLAGS_enable_per_model_batching_parameters;
  if (!FLAGS_batching_parameters_file.empty()) {
    if (!FLAGS_enable_batching) return InvalidArgument("--batching_parameters_file needs --enable_batching");
    StatusOr<BatchingOptions> batching = ReadBatchingParametersFile(FLAGS_batching_parameters_file);
    if (!batching.ok()) return batching.status();
    options.batching = std::move(batching).value();
  }
  if (!FLAGS_monitoring_config_file.empty()) {
    SERVAL_ASSIGN_OR_RETURN(metrics::MonitoringConfig monitoring,
                            metrics::ReadMonitoringConfigFile(FLAGS_monitoring_config_file));
    if (monitoring.prometheus_enabled) options.prometheus_path = monitoring.prometheus_path;
  }
  if (options.drain_timeout_secs < 0) return InvalidArgument("--drain_timeout_secs must not be negative");
  if (options.grpc_lame_duck_secs < 0 || options.grpc_lame_duck_secs >= std::max(options.drain_timeout_secs, 1)) {
    return InvalidArgument("--grpc_lame_duck_secs must be at least 0 and less than --drain_timeout_secs");
  }
  if (options.grpc_lame_duck_secs > 0 &&
      options.grpc_channel_arguments.find("grpc.max_connection_age_ms=") == std::string::npos) {
    // Every connection open at SIGTERM must get its graceful GOAWAY within the lame duck.
    options.grpc_channel_arguments += std::string(options.grpc_channel_arguments.empty() ? "" : ",") +
                                      "grpc.max_connection_age_ms=" + std::to_string(options.grpc_lame_duck_secs * 500);
  }
  options.file_system_poll_wait_seconds = FLAGS_file_system_poll_wait_seconds;
  options.model_config_file_poll_wait_seconds = FLAGS_model_config_file_poll_wait_seconds;
  if (options.file_system_poll_wait_seconds < 0 || options.model_config_file_poll_wait_seconds < 0) {
    return InvalidArgument("poll wait seconds must not be negative");
  }
  SERVAL_RETURN_IF_ERROR(ReadRepositoryFlags(translated.load_models, &options));
  SERVAL_RETURN_IF_ERROR(ReadModelControlFlags(&options));
  if (!FLAGS_ssl_config_file.empty()) {
    std::string text;
    if (Status read = ReadConfigText(FLAGS_ssl_config_file, &text); !read.ok()) {
      return InvalidArgument("--ssl_config_file: " + read.message());
    }
    StatusOr<TlsSettings> tls = ParseSslConfig(text);
    if (!tls.ok())
      return InvalidArgument("--ssl_config_file '" + FLAGS_ssl_config_file + "': " + tls.status().message());
    options.tls = std::move(tls).value();
    options.rest_api_tls = FLAGS_rest_api_ssl;
    options.ssl_config_file = FLAGS_ssl_config_file;
    options.ssl_config_text = std::move(text);
  }
  options.ssl_config_file_poll_wait_seconds = FLAGS_ssl_config_file_poll_wait_seconds;
  if (options.ssl_config_file_poll_wait_seconds < 0) {
    return InvalidArgument("--ssl_config_file_poll_wait_seconds must not be negative");
  }
  options.manager.file_system_poll_wait_seconds = options.file_system_poll_wait_seconds;
  options.manager.servable_versions_always_present = FLAGS_servable_versions_always_present;
  options.manager.max_num_load_retries = FLAGS_max_num_load_retries;
  options.manager.load_retry_interval_micros = FLAGS_load_retry_interval_micros;
  options.manager.num_load_threads = FLAGS_num_load_threads;
  options.manager.allow_version_labels_for_unavailable_models = FLAGS_allow_version_labels_for_unavailable_models;
  if (FLAGS_max_num_load_retries < 0 || FLAGS_load_retry_interval_micros < 0 || FLAGS_num_load_threads < 0 ||
      FLAGS_num_load_threads > 64) {
    return InvalidArgument(
        "--max_num_load_retries and --load_retry_interval_micros must not be negative; --num_load_threads 0..64");
  }
  if (FLAGS_model_load_policy == "resource") {
    options.manager.resource_preserving = true;
  } else if (FLAGS_model_load_policy != "availability") {
    return InvalidArgument("--model_load_policy must be 'availability' or 'resource', got '" + FLAGS_model_load_policy +
                           "'");
  }
  options.enable_model_warmup = FLAGS_enable_model_warmup;
  options.num_request_iterations_for_warmup = FLAGS_num_request_iterations_for_warmup;
  options.enable_synthetic_warmup = FLAGS_enable_synthetic_warmup;
  if (options.num_request_iterations_for_warmup < 0 || options.num_request_iterations_for_warmup > 1000) {
    return InvalidArgument("--num_request_iterations_for_warmup must be 0..1000");
  }
  if (options.rest_api_port < 0 || options.rest_api_port > 65535)
    return InvalidArgument("--rest_api_port out of range");
  if (options.rest_api_timeout_in_ms <= 0) return InvalidArgument("--rest_api_timeout_in_ms must be positive");

  int intra = FLAGS_intra_op_threads > 0 ? FLAGS_intra_op_threads : FLAGS_tensorflow_intra_op_parallelism;
  int inter = FLAGS_inter_op_threads > 0 ? FLAGS_inter_op_threads : FLAGS_tensorflow_inter_op_parallelism;
  options.engine.intra_op_threads = intra > 0 ? intra : UsableCores();
  options.engine.inter_op_threads = inter > 0 ? inter : 1;
  // One thread budget: TensorFlow's pools get the same sizes as ONNX Runtime's.
  options.tf_engine.intra_op_threads = options.engine.intra_op_threads;
  options.tf_engine.inter_op_threads = options.engine.inter_op_threads;
  if (FLAGS_tensorflow_worker_threads < 0 || FLAGS_tensorflow_worker_threads > 1024) {
    return InvalidArgument("--tensorflow_worker_threads must be 0..1024");
  }
  options.tf_engine.worker_threads = FLAGS_tensorflow_worker_threads;
  options.tf_engine.saved_model_tags.clear();
  for (size_t start = 0; start <= FLAGS_saved_model_tags.size();) {
    size_t comma = FLAGS_saved_model_tags.find(',', start);
    if (comma == std::string::npos) comma = FLAGS_saved_model_tags.size();
    std::string tag = FLAGS_saved_model_tags.substr(start, comma - start);
    if (!tag.empty()) options.tf_engine.saved_model_tags.push_back(std::move(tag));
    start = comma + 1;
  }
  if (options.tf_engine.saved_model_tags.empty()) return InvalidArgument("--saved_model_tags must name a tag");
  SERVAL_ASSIGN_OR_RETURN(GraphOptimizationLevel level, ParseGraphOptimizationLevel(FLAGS_graph_optimization_level));
  options.engine.graph_optimization_level = level;
  SERVAL_ASSIGN_OR_RETURN(std::vector<std::string> providers, ParseExecutionProviders(FLAGS_execution_providers));
  options.engine.execution_providers = std::move(providers);
  options.engine.enable_cpu_mem_arena = FLAGS_enable_cpu_mem_arena;
  options.engine.allow_spinning = FLAGS_ort_allow_spinning;

  // Models: the config file, or one model by name and path; the Docker convention fills the latter.
  std::string model_name = FLAGS_model_name;
  std::string model_base_path = FLAGS_model_base_path;
  // TF Serving's Docker image runs --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} (defaults /models, model).
  const char* env_name = std::getenv("MODEL_NAME");
  const char* env_base = std::getenv("MODEL_BASE_PATH");
  if (FLAGS_model_config_file.empty() && model_base_path.empty() && env_base != nullptr && *env_base != '\0') {
    if (model_name.empty()) model_name = env_name != nullptr && *env_name != '\0' ? env_name : "model";
    model_base_path = std::string(env_base) + "/" + model_name;
  }
  if (!FLAGS_model_config_file.empty()) {
    if (!FLAGS_model_name.empty() || !FLAGS_model_base_path.empty()) {
      return InvalidArgument("give either --model_config_file or --model_name/--model_base_path, not both");
    }
    options.model_config_file = FLAGS_model_config_file;
    SERVAL_RETURN_IF_ERROR(ReadConfigText(FLAGS_model_config_file, &options.model_config_text));
    StatusOr<std::vector<ModelConfig>> models = ParseModelServerConfig(options.model_config_text);
    if (!models.ok()) {
      return InvalidArgument("Invalid protobuf file: '" + FLAGS_model_config_file + "': " + models.status().message());
    }
    options.models = std::move(models).value();
  } else if (!model_base_path.empty()) {
    if (model_name.empty()) model_name = "default";  // TF Serving's default --model_name
    SERVAL_RETURN_IF_ERROR(ValidateModelName(model_name));
    if (model_base_path.front() != '/') {
      return InvalidArgument("--model_base_path must be an absolute path, got '" + model_base_path + "'");
    }
    ModelConfig config;
    config.name = model_name;
    config.base_path = model_base_path;
    options.models.push_back(std::move(config));
  } else if (options.model_repository.empty()) {
    return InvalidArgument(
        "nothing to serve: give --model_config_file, --model_repository, or --model_base_path (and --model_name)");
  }
  if (!options.model_repository.empty()) {
    const bool explicit_mode = options.model_control_mode == ModelControlMode::kExplicit;
    std::vector<std::string> only = options.load_models;
    if (std::find(only.begin(), only.end(), "*") != only.end()) only.clear();
    if (explicit_mode && options.load_models.empty()) return options;  // nothing until the routes load some
    StatusOr<std::vector<ModelConfig>> models = ReadRepository(options.model_repository, only);
    if (!models.ok()) return models.status();
    for (ModelConfig& model : *models) {
      auto clash = std::find_if(options.models.begin(), options.models.end(),
                                [&model](const ModelConfig& other) { return other.name == model.name; });
      if (clash != options.models.end()) {
        return InvalidArgument("model '" + model.name + "' is both in --model_repository and in the model config");
      }
      options.models.push_back(std::move(model));
    }
  }
  return options;
}

std::span<const FlagGroup> ServerFlagGroups() { return kFlagGroups; }

std::string VersionText() {
  std::string text = "serval " SERVAL_VERSION "\n";
  for (const RuntimeVersion& runtime : RuntimeVersions()) text += runtime.name + " " + runtime.version + "\n";
  // TensorFlow lives in the worker program: its version is the worker's answer (when it was built).
  if (StatusOr<std::string> tf = TfVersion(TfEngineOptions{}); tf.ok()) text += "TensorFlow " + *tf + "\n";
  return text;
}

}  // namespace serval

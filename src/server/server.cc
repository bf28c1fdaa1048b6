#include "server/server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "api/grpc/grpc_server.h"
#include "api/grpc/health_service.h"
#include "api/http/http_server.h"
#include "api/kserve/kserve_grpc_service.h"
#include "api/rest_api.h"
#include "api/serving/serving_frontend.h"
#include "api/serving/triton_metrics.h"
#include "api/tfs/tfs_feature_spec.h"
#include "api/tfs/tfs_grpc_service.h"
#include "api/tfs/tfs_warmup.h"
#include "batching/batching_hook.h"
#include "batching/batching_session.h"
#include "core/inline_run.h"
#include "core/memory_budget.h"
#include "core/worker_pool.h"
#include "engine/engine_stats.h"
#include "metrics/registry.h"
#include "metrics/serving_metrics.h"
#include "repository/config_file_watcher.h"
#include "repository/model_manager.h"
#include "repository/repository_watcher.h"
#include "server/tls_reloader.h"

namespace serval {
namespace {

// gRPC calls that may wait for a free inference worker, per worker; beyond that RESOURCE_EXHAUSTED.
constexpr size_t kGrpcQueuedCallsPerWorker = 4;

// The manager's options from the flags, with the server's hooks (warm-up, batching) filled in.
// The batcher's events, recorded in the metrics (the batching layer does not know the metrics layer).
class BatchingMetrics : public BatchingObserver {
 public:
  explicit BatchingMetrics(metrics::ServingMetrics* metrics) : metrics_(metrics) {}
  void OnBatch(std::string_view model, int64_t version, int /*requests*/, int64_t rows, int64_t padded_rows,
               int64_t queue_micros) override {
    metrics_->RecordBatch(model, version, static_cast<uint64_t>(rows), static_cast<uint64_t>(padded_rows - rows));
    metrics_->RecordQueue(model, version, std::chrono::microseconds(queue_micros));
  }
  void OnReject(std::string_view model, int64_t /*version*/, BatchRejectReason reason) override {
    switch (reason) {
      case BatchRejectReason::kQueueFull:
        return metrics_->RecordReject(model, metrics::reason::kQueueFull);
      case BatchRejectReason::kTooLarge:
        return metrics_->RecordReject(model, metrics::reason::kTooLarge);
      case BatchRejectReason::kShutdown:
        return metrics_->RecordReject(model, metrics::reason::kShuttingDown);
      case BatchRejectReason::kDeadline:  // counted as a cancellation by the api layer
      case BatchRejectReason::kClientGone:
        return;
    }
  }
  void OnQueueDepth(std::string_view model, int64_t version, int64_t queued) override {
    metrics_->SetQueueDepth(model, version, static_cast<uint64_t>(queued));
  }

 private:
  metrics::ServingMetrics* const metrics_;
};

ModelManagerOptions ManagerOptions(const ServerOptions& options, metrics::ServingMetrics* metrics) {
  ModelManagerOptions manager = options.manager;
  manager.on_load_finished = [metrics](const std::string& model, int64_t version, double seconds, bool ok) {
    metrics->RecordModelLoad(model, version, seconds, ok);
  };
  std::shared_ptr<BatchScheduler> scheduler;
  if (options.enable_batching || !options.model_repository.empty()) {
    scheduler = BatchScheduler::Create({.num_batch_threads = static_cast<int>(options.batching.num_batch_threads),
                                        .observer = std::make_shared<BatchingMetrics>(metrics)});
    // Triton-repository models with dynamic_batching use it with their config's settings.
    manager.wrap_dynamic_batching = MakeTritonBatchingHook(scheduler);
  }
  if (options.enable_batching) {
    spdlog::info(
        "dynamic batching on: max_batch_size {}, batch_timeout_micros {}, max_enqueued_batches {}, {} "
        "batch threads",
        options.batching.max_batch_size, options.batching.batch_timeout_micros, options.batching.max_enqueued_batches,
        scheduler->num_batch_threads());
    manager.wrap_session = MakeBatchingHook(std::move(scheduler), options.batching, options.per_model_batching);
  }
  manager.warmup = MakeWarmupFunction({.enable_model_warmup = options.enable_model_warmup,
                                       .num_request_iterations = options.num_request_iterations_for_warmup,
                                       .enable_synthetic_warmup = options.enable_synthetic_warmup});
  manager.parse_examples = MakeExampleParser();
  return manager;
}

// REST io threads: they only move bytes and answer health and metrics, so a fixed two suffice.
constexpr int kRestIoThreads = 2;

class ServalServer : public Server {
 public:
  ~ServalServer() override { ServalServer::Stop(); }

  Status Init(const ServerOptions& options) {
    // One memory budget for every request of every API (installed before any listener starts; it outlives
    // them: the process-wide pointer is cleared in Stop after they are gone).
    const size_t budget_bytes = options.request_memory_budget_bytes != 0 ? options.request_memory_budget_bytes
                                                                         : MemoryBudget::DefaultTotalBytes();
    memory_budget_ =
        std::make_unique<MemoryBudget>(budget_bytes, options.max_request_memory_bytes, options.max_response_bytes);
    MemoryBudget::SetGlobal(memory_budget_.get());
    spdlog::info("request memory budget: {} MiB in flight, {} MiB per request, responses up to {} MiB",
                 memory_budget_->total_bytes() >> 20, memory_budget_->per_request_bytes() >> 20,
                 memory_budget_->max_response_bytes() >> 20);
    StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options.engine);
    if (!engine.ok()) return engine.status();
    engine_ = std::move(engine).value();
    spdlog::info("ONNX Runtime {}: {} intra-op threads, {} REST worker threads (+{} I/O threads)",
                 engine_->runtime_version(), options.engine.intra_op_threads, options.rest_api_num_threads,
                 kRestIoThreads);

    StatusOr<std::unique_ptr<metrics::ServingMetrics>> serving_metrics = metrics::ServingMetrics::Create(&registry_);
    if (!serving_metrics.ok()) return serving_metrics.status();
    metrics_ = std::move(serving_metrics).value();
    // The TensorFlow engine starts no process until the first SavedModel loads.
    StatusOr<std::unique_ptr<Engine>> tf_engine = CreateTfEngine(options.tf_engine);
    if (!tf_engine.ok()) return tf_engine.status();
    tf_engine_ = std::move(tf_engine).value();
    models_ = std::make_unique<ModelManager>(*engine_, ManagerOptions(options, metrics_.get()), tf_engine_.get());
    // Read at scrape time: the engine's run counters and every version's state.
    scrape_callback_ = metrics_->AddScrapeCallback([this] {
      const EngineStats& engine = GlobalEngineStats();
      metrics_->SetEngineRunCounts({.started = engine.runs_started.load(),
                                    .completed = engine.runs_completed.load(),
                                    .failed = engine.runs_failed.load(),
                                    .cancelled_deadline = engine.runs_cancelled_deadline.load(),
                                    .cancelled_client_gone = engine.runs_cancelled_client_gone.load(),
                                    .expired_before_run = engine.expired_before_run.load(),
                                    .client_gone_before_run = engine.client_gone_before_run.load()});
      for (const std::string& name : models_->ModelNames()) {
        StatusOr<std::vector<VersionStatus>> statuses = models_->GetVersionStatus(name, {});
        if (!statuses.ok()) continue;
        for (const VersionStatus& status : *statuses) metrics_->SetVersionState(name, status.version, status.state);
      }
    });
    Status loaded = models_->SetConfig(options.models);
    if (!loaded.ok()) spdlog::warn("not every model is available: {}", loaded.message());
    models_->StartPolling();
    if (!options.model_repository.empty() && options.model_control_mode == ModelControlMode::kPoll) {
      repository_watcher_ =
          std::make_unique<RepositoryWatcher>(*models_, options.model_repository, options.repository_poll_secs);
      repository_watcher_->Start();
    }
    if (!options.model_config_file.empty() && options.model_config_file_poll_wait_seconds > 0) {
      config_watcher_ = std::make_unique<ConfigFileWatcher>(
          *models_, options.model_config_file, options.model_config_file_poll_wait_seconds, options.model_config_text);
      config_watcher_->Start();
    }

    model_control_ = std::make_unique<ModelControl>(
        *models_, ModelControlPolicy{.enabled = options.enable_model_control,
                                     .model_root = options.model_root,
                                     .admin_token = options.admin_token,
                                     .triton_repository = options.model_control_mode == ModelControlMode::kExplicit});
    if (options.enable_model_control) {
      spdlog::info("model control on: models may be loaded from under {}{}", options.model_root,
                   options.admin_token.empty() ? " (no admin token: any client may)" : " with the admin token");
    }
    // Readiness for grpc.health.v1 (the REST and KServe gRPC services ask their own frontends, same rule).
    frontend_ = std::make_unique<ServingFrontend>(
        *models_, ServingFrontendOptions{.metrics = metrics_.get(), .draining = &not_ready_, .limits = {}});
    // Triton's nv_inference_* series: the statistics routes' numbers, read at scrape time.
    StatusOr<std::unique_ptr<TritonPrometheusSeries>> triton_series = TritonPrometheusSeries::Create(&registry_);
    if (!triton_series.ok()) return triton_series.status();
    triton_series_ = std::move(triton_series).value();
    triton_scrape_callback_ = metrics_->AddScrapeCallback([this] {
      StatusOr<std::vector<VersionStatistics>> statistics = frontend_->Statistics(ModelRef{});
      if (statistics.ok()) triton_series_->Update(*statistics);
    });
    // One inline gate per surface (core/inline_run.h). REST: on at most kRestIoThreads - 1 io threads at once,
    // so that one io thread is always free for health probes and the other connections.
    InlinePolicy rest_inline = options.inline_policy;
    rest_inline.max_concurrent = std::min(rest_inline.max_concurrent, kRestIoThreads - 1);
    rest_inline_ = std::make_unique<InlineGate>(rest_inline);
    grpc_inline_ = std::make_unique<InlineGate>(options.inline_policy);
    StatusOr<metrics::CounterFamily*> inline_calls =
        registry_.AddCounter("serval_inline_calls_total",
                             "Inference calls tried on the thread that received them: run there (inline) or handed "
                             "off to a worker (handed_off), by protocol.",
                             {"protocol", "outcome"});
    if (!inline_calls.ok()) return inline_calls.status();
    inline_scrape_callback_ = metrics_->AddScrapeCallback([this, family = *inline_calls] {
      for (const auto& [protocol, gate] :
           {std::pair{"rest", rest_inline_.get()}, std::pair{"grpc", grpc_inline_.get()}}) {
        family->WithLabels({protocol, "inline"})->Set(gate->inlined());
        family->WithLabels({protocol, "handed_off"})->Set(gate->deferred());
      }
    });
    rest_api_ = std::make_unique<RestApi>(
        *models_, RestApiOptions{.server_version = SERVAL_VERSION,
                                 .runtime_version = engine_->runtime_version(),
                                 .model_control = model_control_.get(),
                                 .metrics = metrics_.get(),
                                 .prometheus_path = options.prometheus_path,
                                 .draining = &not_ready_,
                                 .inference_timeout = std::chrono::milliseconds(options.rest_api_timeout_in_ms)});
    if (options.rest_api_port != 0) {
      HttpServerOptions http;
      http.address = options.rest_api_address;
      http.port = options.rest_api_port;
      // Requests run on rest_api_num_threads workers; two io threads read, write and answer health and
      // metrics themselves, so those never wait behind inference.
      http.num_io_threads = kRestIoThreads;
      http.num_worker_threads = options.rest_api_num_threads;
      http.inline_paths = {"/v2/health/live", "/v2/health/ready", "/v1/health/ready", "/metrics"};
      if (!options.prometheus_path.empty()) http.inline_paths.push_back(options.prometheus_path);
      http.inline_gate = rest_inline_.get();
      http.inline_candidate = [](std::string_view path) { return RestApi::IsInferencePath(path); };
      http.max_body_bytes = options.max_body_bytes;
      http.request_timeout_ms = options.rest_api_timeout_in_ms;
      http.enable_cors = options.rest_api_enable_cors_support;
      http.max_connections = options.rest_api_max_connections;
      http.max_buffered_body_bytes = options.rest_api_max_buffered_body_bytes;
      if (options.rest_api_tls) http.tls = options.tls;
      StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
          http,
          [api = rest_api_.get()](HttpRequest& request, HttpResponse& response) { api->Handle(request, response); });
      if (!server.ok()) return server.status();
      http_ = std::move(server).value();
      spdlog::info("REST API (TF Serving /v1, KServe v2 /v2) listening on {}:{}{}", options.rest_api_address,
                   http_->port(),
                   !http.tls.enabled()         ? ""
                   : options.tls.client_verify ? " (HTTPS, client certificates required)"
                                               : " (HTTPS)");
    }
    if (options.tls.enabled() && options.ssl_config_file_poll_wait_seconds > 0) {
      // Before gRPC starts: it reads the certificates from the reloader's files.
      SERVAL_ASSIGN_OR_RETURN(tls_reloader_,
                              TlsReloader::Create(options.ssl_config_file, options.ssl_config_text, options.tls,
                                                  options.ssl_config_file_poll_wait_seconds));
      if (http_ != nullptr && options.rest_api_tls) tls_reloader_->set_http_server(http_.get());
    }
    if (options.grpc_port >= 0 || !options.grpc_socket_path.empty()) {
      SERVAL_RETURN_IF_ERROR(StartGrpc(options));
    }
    if (tls_reloader_ != nullptr) tls_reloader_->Start();
    not_ready_ = false;
    return Status::Ok();
  }

  Status StartGrpc(const ServerOptions& options) {
    const ModelManager& models = *models_;
    // The gRPC inference workers: fixed at start; the GrpcServer owns them and stops them after gRPC's own
    // threads, before the services below are destroyed (Stop()).
    const int num_workers = std::max(1, options.grpc_max_threads);
    auto workers = std::make_unique<WorkerPool>("grpc-worker", num_workers,
                                                static_cast<size_t>(num_workers) * kGrpcQueuedCallsPerWorker);
    WorkerPool* const pool = workers.get();
    tfs_prediction_ = std::make_unique<TfsPredictionService>(
        models, TfsGrpcOptions{.serialize_as_tensor_content = options.enable_serialization_as_tensor_content,
                               .metrics = metrics_.get(),
                               .workers = pool,
                               .inline_gate = grpc_inline_.get()});
    tfs_model_ = std::make_unique<TfsModelService>(models, model_control_.get(), pool);
    kserve_ = std::make_unique<KServeGrpcService>(models, KServeGrpcOptions{.server_name = "serval",
                                                                            .server_version = SERVAL_VERSION,
                                                                            .model_control = model_control_.get(),
                                                                            .metrics = metrics_.get(),
                                                                            .draining = &not_ready_,
                                                                            .workers = pool,
                                                                            .inline_gate = grpc_inline_.get()});
    health_ = std::make_unique<HealthService>([this] { return frontend_->ServerReady(); },
                                              [&models](const std::string& name) {
                                                for (const std::string& known : models.ModelNames()) {
                                                  if (known == name) return true;
                                                }
                                                return false;
                                              });
    GrpcServerOptions grpc;
    grpc.address = options.rest_api_address;
    grpc.port = options.grpc_port;
    grpc.socket_path = options.grpc_socket_path;
    grpc.max_message_bytes = options.grpc_max_message_size_bytes;
    grpc.max_concurrent_streams = options.grpc_max_concurrent_streams;
    grpc.channel_arguments = options.grpc_channel_arguments;
    lame_duck_ = std::chrono::seconds(options.grpc_lame_duck_secs);
    grpc.tls = options.tls;
    if (tls_reloader_ != nullptr) grpc.tls_files = tls_reloader_->grpc_files();
    StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
        grpc, {tfs_prediction_.get(), tfs_model_.get(), kserve_.get(), health_.get()}, std::move(workers));
    if (!server.ok()) return server.status();
    grpc_ = std::move(server).value();
    spdlog::info(
        "gRPC API (TF Serving, KServe v2, health) listening on {}:{}{}{}; {} inference worker threads, "
        "at most {} calls queued",
        options.rest_api_address, grpc_->port(),
        !options.tls.enabled()      ? ""
        : options.tls.client_verify ? " (TLS, client certificates required)"
                                    : " (TLS)",
        options.grpc_socket_path.empty() ? "" : " and unix:" + options.grpc_socket_path, num_workers,
        static_cast<size_t>(num_workers) * kGrpcQueuedCallsPerWorker);
    return Status::Ok();
  }

  int grpc_port() const override { return grpc_ ? grpc_->port() : 0; }

  int rest_port() const override { return http_ ? http_->port() : 0; }

  int64_t Drain(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    not_ready_ = true;  // readiness is false from here on, on every protocol
    // The listener closes right after, before anything slower: a client that saw "not ready" and reconnects
    // must find it closed.
    if (http_) http_->StopAccepting();
    if (health_) health_->Shutdown();
    // gRPC: Shutdown stops new calls at once (a call arriving after it is cancelled) and waits for the running
    // ones up to the deadline. With a lame duck first, the listener closes but the open connections are served
    // until their clients leave them (or their max age sends a graceful GOAWAY), so that a proxy caching
    // connections never sends a call into the shutdown.
    std::thread grpc_drain;
    if (grpc_) {
      grpc_drain = std::thread([this, deadline] {
        if (lame_duck_ > std::chrono::seconds(0)) {
          GrpcServer::LameDuckResult r = grpc_->LameDuck(lame_duck_);
          spdlog::info("gRPC lame duck over: {} listener(s) had been closed, {} connection(s) still open",
                       r.listeners_closed, r.connections_left);
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const auto start = std::chrono::steady_clock::now();
        grpc_->Shutdown(static_cast<int>(std::max<int64_t>(left.count(), 0)));
        // A slow gRPC drain means calls outlived their clients' answers: worth a line to whoever waits on it.
        const auto took = std::chrono::steady_clock::now() - start;
        if (took > std::chrono::seconds(1)) {
          spdlog::warn("gRPC drain took {} ms (calls still running at the signal)",
                       std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
        }
      });
    }
    int64_t http_left = 0;
    if (http_) {
      // Progress every few seconds, so that a long drain says what it waits for.
      auto next_report = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while ((http_left = http_->active_requests()) > 0 && std::chrono::steady_clock::now() < deadline) {
        if (std::chrono::steady_clock::now() >= next_report) {
          spdlog::info("draining: {} REST request(s) still running", http_left);
          next_report += std::chrono::seconds(5);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (grpc_drain.joinable()) grpc_drain.join();
    return http_left;
  }

  void Stop() override {
    // Each step is timed: a stop that keeps SIGTERM waiting names the step it waits on in the log.
    const auto step = [](const char* name, auto&& run) {
      const auto start = std::chrono::steady_clock::now();
      run();
      const auto took = std::chrono::steady_clock::now() - start;
      if (took > std::chrono::milliseconds(500)) {
        spdlog::warn("stopping: {} took {} ms", name,
                     std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
      }
    };
    step("health service", [&] {
      if (health_) health_->Shutdown();
    });
    step("gRPC server", [&] {
      if (grpc_) grpc_->Shutdown(/*deadline_ms=*/1000);
      grpc_.reset();
    });
    step("gRPC services", [&] {
      tls_reloader_.reset();  // gRPC no longer reads its files; REST is still there for a poll in progress
      health_.reset();
      kserve_.reset();
      tfs_model_.reset();
      tfs_prediction_.reset();
    });
    step("REST server", [&] {
      if (http_) http_->Stop();
      http_.reset();
      rest_api_.reset();
    });
    step("frontend and watchers", [&] {
      if (metrics_ && triton_series_) metrics_->RemoveScrapeCallback(triton_scrape_callback_);
      if (metrics_ && rest_inline_) metrics_->RemoveScrapeCallback(inline_scrape_callback_);
      frontend_.reset();
      model_control_.reset();
      config_watcher_.reset();
      repository_watcher_.reset();
    });
    step("models", [&] {
      if (metrics_) metrics_->RemoveScrapeCallback(scrape_callback_);
      models_.reset();
    });
    step("engines", [&] {
      metrics_.reset();
      engine_.reset();
    });
    if (memory_budget_ && MemoryBudget::Global() == memory_budget_.get()) MemoryBudget::SetGlobal(nullptr);
  }

 private:
  // Readiness is false (every protocol) until every listener is up — a client that sees REST ready may use
  // gRPC at once — and again from the start of a graceful shutdown.
  std::atomic<bool> not_ready_{true};
  std::chrono::milliseconds lame_duck_{0};       // --grpc_lame_duck_secs
  std::unique_ptr<MemoryBudget> memory_budget_;  // MemoryBudget::Global() while the server runs
  metrics::MetricsRegistry registry_;
  std::unique_ptr<metrics::ServingMetrics> metrics_;  // always on: KServe statistics need it
  metrics::MetricsRegistry::ScrapeCallbackId scrape_callback_{};
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Engine> tf_engine_;  // declared before models_: sessions of both engines go first
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<ConfigFileWatcher> config_watcher_;
  std::unique_ptr<TlsReloader> tls_reloader_;  // declared before the servers: destroyed after them
  std::unique_ptr<RepositoryWatcher> repository_watcher_;
  std::unique_ptr<ModelControl> model_control_;  // used by the REST and gRPC APIs: outlives them
  std::unique_ptr<ServingFrontend> frontend_;
  std::unique_ptr<TritonPrometheusSeries> triton_series_;  // set from frontend_ at every scrape
  metrics::MetricsRegistry::ScrapeCallbackId triton_scrape_callback_{};
  metrics::MetricsRegistry::ScrapeCallbackId inline_scrape_callback_{};
  // One inline gate per surface (core/inline_run.h); declared before the servers: destroyed after them.
  std::unique_ptr<InlineGate> rest_inline_;
  std::unique_ptr<InlineGate> grpc_inline_;
  std::unique_ptr<RestApi> rest_api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<TfsPredictionService> tfs_prediction_;
  std::unique_ptr<TfsModelService> tfs_model_;
  std::unique_ptr<KServeGrpcService> kserve_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<GrpcServer> grpc_;
};

}  // namespace

StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  auto server = std::make_unique<ServalServer>();
  Status status = server->Init(options);
  if (!status.ok()) return status;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace serval

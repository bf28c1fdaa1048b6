// ServingFrontend: what every entry point (TF Serving REST and gRPC, KServe REST and gRPC) does between
// decoding a request and encoding its answer, written once and protocol-neutral. An entry point decodes its
// wire format, asks the frontend, and encodes the value it gets back; it holds no serving rule of its own.
//
// The rules that live here (and nowhere else):
//   * Resolution: (model, version | label) → a ServableHandle through the ModelManager; the signature a
//     request names → engine.h's FindSignature (empty = kDefaultSignatureName, one definition).
//   * Deadline: a client deadline more than kNoDeadlineBeyond away (or none) is no deadline; a passed one
//     stays passed (DeadlineFromRemaining, DeadlineFromSystemClock).
//   * Cancellation before run: a request whose deadline passed or whose client went away while it waited
//     (worker queue, decode) is not run: DEADLINE_EXCEEDED / CANCELLED, counted by engine_stats.h's
//     CheckBeforeRun — the same check and counters the engines use.
//   * Classify / Regress / MultiInference: TF Serving's tf.Example rules (api/tfs/tfs_example_task.h),
//     each run going through Infer above.
//   * Readiness: the server is ready when it is not draining and every configured model has an AVAILABLE
//     version; a model (version) is ready when it resolves.
//   * Statistics: KServe's per-version counters of every AVAILABLE version, from ServingMetrics.
//
// Thread-safe: every method may be called from any thread at once; the frontend keeps no per-call state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json/codec_limits.h"
#include "api/request_metrics.h"
#include "api/tfs/tfs_examples.h"
#include "core/inference.h"
#include "core/model_status.h"
#include "core/run_context.h"
#include "core/status.h"
#include "metrics/serving_metrics.h"
#include "repository/model_manager.h"

namespace serval {

// A client deadline further away than this is treated as no deadline: clients that mean "no deadline"
// often send a huge one (years), and such a deadline must behave exactly like none, on every surface.
inline constexpr std::chrono::hours kNoDeadlineBeyond{24 * 365};

// The steady-clock deadline `remaining` from now: kNoDeadline beyond kNoDeadlineBeyond; now when
// `remaining` is zero or negative (already passed).
Deadline DeadlineFromRemaining(std::chrono::nanoseconds remaining);
// A wall-clock deadline (gRPC's; time_point::max() = none) as a steady-clock Deadline, by the same rule.
Deadline DeadlineFromSystemClock(std::chrono::system_clock::time_point deadline);

// A version string as KServe sends it (gRPC `model_version`, REST path segment): empty = the newest
// AVAILABLE version; decimal digits that fit an int64 = that number; anything else = a version label.
VersionSelector VersionSelectorFromString(std::string_view text);

// What one call knows about how long its answer is wanted. `client_gone`: see RunContext::client_gone.
struct CallContext {
  Deadline deadline = kNoDeadline;
  std::function<bool()> client_gone;
};

// Which model a request names. The signature is resolved separately, after the model (so that a missing
// model is NOT_FOUND whatever the signature says).
struct ModelRef {
  std::string_view name;
  VersionSelector version;
  // The KServe v2 surfaces answer a model that does not resolve as Triton does (TritonResolveError);
  // TF Serving's surfaces keep TF Serving's NOT_FOUND texts.
  bool triton_errors = false;
};

// Model metadata: the resolved version, its signatures, and every AVAILABLE version of the model.
struct ModelMetadata {
  ServableHandle handle;
  std::vector<SignatureDef> signatures;     // every signature (the default one synthesised for ONNX graphs)
  std::vector<int64_t> available_versions;  // highest first
};

// KServe statistics of one AVAILABLE version (all counters 0 without metrics).
struct VersionStatistics {
  std::string name;
  int64_t version = 0;
  metrics::ModelStatistics counters;
};

// One task of a MultiInference: Classify or Regress on a signature ("" = the default).
struct ExampleTaskRequest {
  bool classify = false;
  std::string signature_name;
};

// The answer to one task: rows (classify) or values (regress), and the version that ran.
struct ExampleTaskResult {
  int64_t model_version = 0;
  ClassificationRows classifications;
  std::vector<float> regressions;
};

struct ServingFrontendOptions {
  metrics::ServingMetrics* metrics = nullptr;   // statistics source; null = all counters 0
  const std::atomic<bool>* draining = nullptr;  // true once a graceful shutdown began: not ready
  CodecLimits limits = {};                      // bounds of the tf.Example → tensor conversion
};

class ServingFrontend {
 public:
  // REQUIRES: `models` (and options.metrics / options.draining when set) outlive the frontend.
  ServingFrontend(const ModelManager& models, ServingFrontendOptions options);

  // --- resolution ---
  // The version `model` names. NOT_FOUND (TF Serving's text) when there is none, or Triton's code and text
  // when model.triton_errors (see TritonResolveError). Records the version in `trace` when given.
  StatusOr<ServableHandle> Resolve(const ModelRef& model, RequestTrace* trace = nullptr) const;
  // The signature `name` selects on `handle` ("" = the default). FAILED_PRECONDITION when it has none.
  static StatusOr<SignatureRef> ResolveSignature(const ServableHandle& handle, std::string_view name);

  // --- inference ---
  // Runs `request` (decoded against `handle`'s signature) with `call`'s deadline and client probe; not run
  // at all when the deadline passed or the client went away before (see the file comment). Fills the
  // request's model name and version from the handle.
  StatusOr<InferenceResponse> Infer(const ServableHandle& handle, InferenceRequest request,
                                    const CallContext& call) const;
  // TF Serving's Classify / Regress on `batch`, through the signature `signature_name` names.
  StatusOr<ExampleTaskResult> Classify(const ServableHandle& handle, std::string_view signature_name,
                                       const ExampleBatch& batch, const CallContext& call) const;
  StatusOr<ExampleTaskResult> Regress(const ServableHandle& handle, std::string_view signature_name,
                                      const ExampleBatch& batch, const CallContext& call) const;
  // Every task on one batch, one result per task in order. A (signature, method) pair may appear once
  // (INVALID_ARGUMENT, TF Serving's text); tasks on the same signature share ONE run.
  StatusOr<std::vector<ExampleTaskResult>> MultiInference(const ServableHandle& handle,
                                                          const std::vector<ExampleTaskRequest>& tasks,
                                                          const ExampleBatch& batch, const CallContext& call) const;

  // --- metadata, status, statistics, readiness ---
  StatusOr<ModelMetadata> Metadata(const ModelRef& model, RequestTrace* trace = nullptr) const;
  // Every known version of the model (or the one `model.version` selects), highest first.
  StatusOr<std::vector<VersionStatus>> ModelStatus(const ModelRef& model) const;
  // Every AVAILABLE version of the model `model` names (empty name: of every model). A named model must
  // resolve (NOT_FOUND otherwise); a named version narrows to that version.
  StatusOr<std::vector<VersionStatistics>> Statistics(const ModelRef& model) const;
  // Not draining, and every configured model has an AVAILABLE version.
  bool ServerReady() const;
  // OK when `model` resolves; else why not (NOT_FOUND for an unknown model or version).
  Status CheckModelReady(const ModelRef& model) const;
  // True when it resolves, false when it is NOT_FOUND; other errors (a malformed name) are returned.
  StatusOr<bool> ModelReady(const ModelRef& model) const;

 private:
  // Triton's answer (ModelRepositoryManager / ModelLifeCycle) for a model that does not resolve:
  // INVALID_ARGUMENT "Request for unknown model: 'm' is not found" when no model has that name; NOT_FOUND
  // "... 'm' version N is not found" for a version it does not have (or a label it does not define);
  // UNAVAILABLE "... 'm' version N is not at ready state" for one that is not AVAILABLE; NOT_FOUND "... 'm'
  // has no available versions" when the latest is asked for and none is AVAILABLE.
  Status TritonResolveError(const ModelRef& model) const;
  StatusOr<ExampleTaskResult> RunOneTask(const ServableHandle& handle, bool classify, std::string_view signature_name,
                                         const ExampleBatch& batch, const CallContext& call) const;

  const ModelManager& models_;
  const ServingFrontendOptions options_;
};

}  // namespace serval

// Engine: the only layer that touches ONNX Runtime. This header is ORT-free so that the layers above
// (repository, api) never see an ORT type.
//
// One Engine per process owns the ORT environment and its global thread pools (shared by every model
// session, so the thread count does not grow with models). Engine::Load creates one ModelSession per
// model version. Both are safe to use from many threads at once: ModelSession::Run may be called
// concurrently (ORT sessions are thread-safe for Run), and Load may run while other sessions Run.
//
// Lifetimes: a ModelSession keeps the ORT environment alive, so it may outlive the Engine that loaded
// it. Output tensors of Run keep ORT's result buffers alive, so they may outlive the call and the session.
// Nothing here throws: every ORT error comes back as a Status.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/inference.h"
#include "core/run_context.h"
#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine_stats.h"

namespace serval {

enum class GraphOptimizationLevel { kDisable, kBasic, kExtended, kAll };

// One inference runtime linked into this binary, for --version.
struct RuntimeVersion {
  std::string name;     // e.g. "ONNX Runtime"
  std::string version;  // the linked library's own version string, e.g. "1.23.2"
};

// Every inference runtime this binary links, ONNX Runtime first. Needs no Engine and starts no threads.
// An engine added beside ONNX Runtime (e.g. TensorFlow) appends its entry here.
std::vector<RuntimeVersion> RuntimeVersions();

// Parses "disable" | "basic" | "extended" | "all" (ORT's four levels). INVALID_ARGUMENT otherwise.
StatusOr<GraphOptimizationLevel> ParseGraphOptimizationLevel(std::string_view text);

// Execution provider names Serval knows, in no particular order: "cpu", "cuda", "tensorrt", "openvino",
// "dnnl". Whether one works is only known at load time (the ORT build and its provider libraries decide).
// Parses a comma-separated preference list such as "cuda,cpu" (spaces around names are ignored) into
// names; INVALID_ARGUMENT for an empty list or an unknown name.
StatusOr<std::vector<std::string>> ParseExecutionProviders(std::string_view text);

struct EngineOptions {
  int intra_op_threads = 0;  // threads of the global intra-op pool; 0 = the cores this process may use
  int inter_op_threads = 1;  // global inter-op pool (used only by parallel execution mode)
  GraphOptimizationLevel graph_optimization_level = GraphOptimizationLevel::kAll;
  // In order of preference. Every provider before "cpu" that can be set up is registered with the
  // session (ORT places each node on the first that supports it); "cpu" is always the last resort, and
  // names after it are ignored. A provider that cannot be set up is skipped with one log line per model.
  std::vector<std::string> execution_providers = {"cpu"};
  bool enable_cpu_mem_arena = true;
  bool allow_spinning = false;  // ORT spin-waiting burns cores on small hosts; off by default
};

// Per-model session settings (a Triton config's `parameters`); unset fields take the engine's options.
// Thread counts give the model its own pools instead of the process-wide ones.
struct SessionOverrides {
  std::optional<int> intra_op_threads;
  std::optional<int> inter_op_threads;
  std::optional<bool> parallel_execution;  // ORT_PARALLEL (uses the inter-op pool) instead of sequential
  std::optional<bool> enable_mem_arena;
  bool empty() const { return !intra_op_threads && !inter_op_threads && !parallel_execution && !enable_mem_arena; }
  bool operator==(const SessionOverrides&) const = default;
};

// One loaded model version.
class ModelSession {
 public:
  virtual ~ModelSession() = default;

  // Inputs and outputs as the model declares them; ONNX element types mapped to DataType; -1 for a
  // symbolic or unknown dimension.
  virtual const ModelSignature& signature() const = 0;
  // The session's primary execution provider after fallback ("cpu", "cuda", ...).
  virtual const std::string& execution_provider() const = 0;

  // Runs the model. REQUIRES: `inputs` satisfy ValidateRequest against signature() (any order, each
  // input once); the engine re-checks only what it needs to stay memory-safe. Numeric inputs are handed
  // to ORT without a copy (unaligned bytes are fine) and must stay unchanged until Run returns.
  // `output_names` empty = all outputs in signature order; otherwise those outputs in that order.
  // On success `*outputs` is replaced by tensors that borrow ORT's result buffers and keep them alive
  // (numeric outputs are not copied). Errors: INVALID_ARGUMENT for what the inputs caused (bad shapes,
  // unknown names, a kernel rejecting the values), RESOURCE_EXHAUSTED when ORT runs out of memory,
  // INTERNAL otherwise. Thread-safe.
  //
  // `context`: a run whose deadline has already passed, or whose client is already gone, is not started
  // (DEADLINE_EXCEEDED / CANCELLED); one whose deadline passes or whose client goes away while it runs
  // is stopped within a few milliseconds (ONNX Runtime's run-terminate, checked by one watchdog thread
  // per process) and fails the same way. Counted in GlobalEngineStats().
  virtual Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
                     const RunContext& context, std::vector<Tensor>* outputs) const = 0;

  // Every signature of the version by name (TF Serving's SignatureDefMap), in name order. Empty for a model
  // with only the default signature, which signature() describes (an ONNX graph).
  // True when Run may wait for other requests to fill a batch (a batcher): such a session is never run on a
  // thread that must stay responsive (core/inline_run.h).
  virtual bool waits_for_batch() const { return false; }

  virtual const std::vector<SignatureDef>& signature_defs() const {
    static const std::vector<SignatureDef> kNone;
    return kNone;
  }
  // Runs the signature named `signature_name`, one of signature_defs(), with the same contract as Run
  // (inputs and outputs named by the signature's aliases). Sessions without signature_defs() fail.
  virtual Status RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                              const std::vector<std::string>& output_names, const RunContext& context,
                              std::vector<Tensor>* outputs) const {
    (void)inputs, (void)output_names, (void)context, (void)outputs;
    return FailedPrecondition("Serving signature name: \"" + std::string(signature_name.substr(0, 256)) +
                              "\" not found in signature def");
  }

  // The same with no deadline and no client probe: the run is never cancelled. Derived classes that
  // override the four-argument Run add `using ModelSession::Run;` to keep this one visible.
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
             std::vector<Tensor>* outputs) const {
    return Run(inputs, output_names, RunContext{}, outputs);
  }
};

// The signature `name` selects on `session` (empty = kDefaultSignatureName) and its method name.
// `is_default`: served by ModelSession::Run (batching applies), else by RunSignature. FAILED_PRECONDITION, in
// TF Serving's words, when the session has no such signature.
struct SignatureRef {
  const ModelSignature* io = nullptr;
  std::string_view method_name;
  bool is_default = true;
};
StatusOr<SignatureRef> FindSignature(const ModelSession& session, std::string_view name);
// Every signature, the default one synthesised for a session without signature_defs() (metadata).
std::vector<SignatureDef> AllSignatures(const ModelSession& session);
// Validates `request` against the signature it names (ValidateRequest) and runs it there.
Status RunRequest(const ModelSession& session, const InferenceRequest& request, std::vector<Tensor>* outputs);

class Engine {
 public:
  virtual ~Engine() = default;

  // Creates the process's ORT environment with its global thread pools. Call once per process: ORT keeps
  // one environment per process, so a second Engine created while the first lives shares the first's
  // thread pools. INVALID_ARGUMENT for an unknown provider name or a negative thread count.
  static StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  // Loads the ONNX file at `path` (from the path, never from bytes) and logs one line to stderr naming
  // the execution provider it got. Errors name the file and carry ORT's reason: NOT_FOUND (no file),
  // INVALID_ARGUMENT (not a valid model), FAILED_PRECONDITION (a model Serval cannot serve, e.g. an
  // input of a type DataType has no name for). Thread-safe.
  virtual StatusOr<std::unique_ptr<ModelSession>> Load(const std::string& path) const = 0;
  // Load with per-model settings. The default serves an empty `overrides` with Load(path) and refuses
  // others with UNIMPLEMENTED (an engine that cannot apply them must not ignore them).
  virtual StatusOr<std::unique_ptr<ModelSession>> LoadWith(const std::string& path,
                                                           const SessionOverrides& overrides) const;

  virtual const EngineOptions& options() const = 0;
  // The size of the global intra-op pool after resolving 0 (for logging and the thread budget).
  virtual int intra_op_threads() const = 0;
  // ORT's version string, e.g. "1.23.2".
  virtual std::string runtime_version() const = 0;
};

}  // namespace serval

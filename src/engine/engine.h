// Engine: the only layer that touches ONNX Runtime. This header is ORT-free so that the layers above
// (repository, api) never see an ORT type.
//
// One Engine per process owns the ORT environment and its global thread pools (shared by every model
// session, so the thread count does not grow with models). Engine::Load creates one ModelSession per
// model version. Both are safe to use from many threads at once: ModelSession::Run may be called
// concurrently (ORT sessions are thread-safe for Run).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/inference.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

enum class GraphOptimizationLevel { kDisable, kBasic, kExtended, kAll };

// Parses "disable" | "basic" | "extended" | "all".
StatusOr<GraphOptimizationLevel> ParseGraphOptimizationLevel(std::string_view text);

struct EngineOptions {
  int intra_op_threads = 0;  // threads of the global intra-op pool; 0 = the cores this process may use
  int inter_op_threads = 1;  // global inter-op pool (used only by parallel execution mode)
  GraphOptimizationLevel graph_optimization_level = GraphOptimizationLevel::kAll;
  std::vector<std::string> execution_providers = {"cpu"};  // in order of preference; "cpu" is always last resort
  bool enable_cpu_mem_arena = true;
  bool allow_spinning = false;  // ORT spin-waiting burns cores on small hosts; off by default
};

// One loaded model version.
class ModelSession {
 public:
  virtual ~ModelSession() = default;

  // Inputs and outputs as the model declares them; ONNX element types mapped to DataType.
  virtual const ModelSignature& signature() const = 0;
  // The execution provider the session got after fallback ("cpu", "cuda", ...).
  virtual const std::string& execution_provider() const = 0;

  // Runs the model. `inputs` must already satisfy ValidateRequest against signature(); numeric inputs
  // are handed to ORT without a copy. `output_names` empty = all outputs in signature order.
  // Outputs borrow ORT's result buffers (kept alive by the returned tensors). Thread-safe.
  virtual Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
                     std::vector<Tensor>* outputs) const = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Creates the process's ORT environment. Call once.
  static StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  // Loads the ONNX file at `path` (from the path, never from bytes). Fails with INVALID_ARGUMENT or
  // FAILED_PRECONDITION naming the file and ORT's reason. Thread-safe.
  virtual StatusOr<std::unique_ptr<ModelSession>> Load(const std::string& path) const = 0;

  virtual const EngineOptions& options() const = 0;
  // ORT's version string, e.g. "1.23.2".
  virtual std::string runtime_version() const = 0;
};

}  // namespace serval

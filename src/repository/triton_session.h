// The session a Triton-repository model version is served through: it presents the model as its config
// says (inputs and outputs with the config's dims, the batch dim in front when max_batch_size > 0),
// refuses a request with more rows than max_batch_size, reshapes inputs and outputs that have `reshape`,
// and counts Triton's statistics for the version.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "repository/triton_config.h"

namespace serval {

// Triton's per-version statistics. Times are cumulative nanoseconds; counts only grow.
struct TritonStatistics {
  std::atomic<uint64_t> success_count{0};  // requests that succeeded
  std::atomic<uint64_t> success_ns{0};     // their total time in this session
  std::atomic<uint64_t> fail_count{0};
  std::atomic<uint64_t> fail_ns{0};
  std::atomic<uint64_t> inference_count{0};    // batch elements (rows) of successful requests; 1 when not batching
  std::atomic<uint64_t> execution_count{0};    // model runs (a batch of merged requests counts once)
  std::atomic<uint64_t> queue_ns{0};           // waiting in the batch queue
  std::atomic<uint64_t> compute_input_ns{0};   // preparing inputs (reshape, batch merge)
  std::atomic<uint64_t> compute_infer_ns{0};   // the model run
  std::atomic<uint64_t> compute_output_ns{0};  // preparing outputs (reshape, batch split)
  std::atomic<uint64_t> last_inference_ms{0};  // wall clock, ms since the epoch; 0 = never
};

// A snapshot (plain numbers) of TritonStatistics.
struct TritonStatisticsSnapshot {
  uint64_t success_count = 0, success_ns = 0, fail_count = 0, fail_ns = 0, inference_count = 0, execution_count = 0,
           queue_ns = 0, compute_input_ns = 0, compute_infer_ns = 0, compute_output_ns = 0, last_inference_ms = 0;
};

// What a loaded version keeps of its Triton configuration.
struct TritonModelInfo {
  TritonModelConfig config;                                // the effective config (as read, checked and completed)
  std::map<std::string, std::vector<std::string>> labels;  // per output, from label_filename
  bool auto_completed = false;                             // no config.pbtxt
};

class TritonSession final : public ModelSession {
 public:
  // `stats` is shared with whatever runs below (a batcher fills execution_count and the compute times);
  // `batched` says that something below does so.
  TritonSession(std::unique_ptr<ModelSession> inner, std::shared_ptr<const TritonModelInfo> info,
                std::shared_ptr<TritonStatistics> stats, bool batched);

  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return inner_->execution_provider(); }
  const std::vector<SignatureDef>& signature_defs() const override { return inner_->signature_defs(); }
  bool waits_for_batch() const override { return batched_ || inner_->waits_for_batch(); }
  Status RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                      const std::vector<std::string>& output_names, const RunContext& context,
                      std::vector<Tensor>* outputs) const override;
  using ModelSession::Run;
  // INVALID_ARGUMENT "inference request batch-size must be <= N for '<model>'" (Triton's text) when a
  // batching model gets more rows than max_batch_size; otherwise the inner session's result.
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext& context,
             std::vector<Tensor>* outputs) const override;

  const TritonModelInfo& info() const { return *info_; }
  TritonStatisticsSnapshot Statistics() const;

 private:
  std::unique_ptr<ModelSession> inner_;
  std::shared_ptr<const TritonModelInfo> info_;
  std::shared_ptr<TritonStatistics> stats_;
  const bool batched_;
  ModelSignature signature_;
};

// Runs the config's model_warmup samples on `session`, the model itself (before anything wraps it, so that
// warm-up counts in no statistics; inputs with `reshape` are reshaped as for requests). `model_dir` holds
// warmup/<file>. Returns the number of runs; INVALID_ARGUMENT naming the sample for an input the config
// does not have, a data type that differs, or a file whose size does not fit; else the run's own error.
StatusOr<int> RunTritonWarmup(const TritonModelConfig& config, const std::string& model_dir,
                              const ModelSession& session);

// Reshapes `tensor` to `dims` (one -1 allowed: resolved from the element count), keeping the leading batch
// dim when `batch` is true. INVALID_ARGUMENT when the element counts cannot match.
StatusOr<Tensor> ReshapeTensor(const Tensor& tensor, const std::vector<int64_t>& dims, bool batch);

}  // namespace serval

// The glue between the ModelManager and the dynamic batcher: a ModelManagerOptions::wrap_session hook
// that puts every newly loaded model version whose signature can batch behind a BatchingSession, with
// the process's parameters or, with per-model parameters on, the version's own batching_params.pbtxt.
#pragma once

#include <memory>
#include <string>

#include "batching/batching_parameters.h"
#include "batching/batching_session.h"
#include "repository/model_manager.h"

namespace serval {

// The parameters for one model version: `<version_dir>/batching_params.pbtxt` when `per_model` is set
// and that file exists (it replaces every field of `global`; TF Serving keeps only the thread pool, which
// here is the shared scheduler anyway), else `global`. A per-model file that does not parse or validate
// is an error (the load of that version fails and says why).
StatusOr<BatchingOptions> BatchingOptionsForVersion(const BatchingOptions& global, const std::string& version_dir,
                                                    bool per_model);

// A wrap_session hook for ModelManagerOptions. REQUIRES: `scheduler` non-null.
decltype(ModelManagerOptions::wrap_session) MakeBatchingHook(std::shared_ptr<BatchScheduler> scheduler,
                                                             BatchingOptions global, bool per_model);

// The batcher settings of a Triton model with dynamic_batching: max_batch_size from the config,
// max_queue_delay_microseconds as the batch timeout, and a batch that reaches the largest
// preferred_batch_size runs at once (requests larger than that run alone).
BatchingOptions TritonBatchingOptions(const TritonModelConfig& config);

// A wrap_dynamic_batching hook for ModelManagerOptions. REQUIRES: `scheduler` non-null.
decltype(ModelManagerOptions::wrap_dynamic_batching) MakeTritonBatchingHook(std::shared_ptr<BatchScheduler> scheduler);

}  // namespace serval

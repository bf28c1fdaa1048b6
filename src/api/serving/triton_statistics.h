// Statistics of a model from a Triton model repository (the serving frontend applies them): its versions count their
// own (TritonSession and the batcher under it, in batch elements and model runs), and those are the numbers Triton's
// statistics routes report for them. Triton counts queue and compute_* once per successful request.
#pragma once

#include "metrics/serving_metrics.h"
#include "repository/triton_session.h"

namespace serval {

inline void ApplyTritonStatistics(const TritonStatisticsSnapshot& triton, metrics::ModelStatistics* out) {
  out->last_inference_ms = triton.last_inference_ms;
  out->inference_count = triton.inference_count;
  out->execution_count = triton.execution_count;
  out->success = {triton.success_count, triton.success_ns};
  out->fail = {triton.fail_count, triton.fail_ns};
  out->queue = {triton.success_count, triton.queue_ns};
  out->compute_input = {triton.success_count, triton.compute_input_ns};
  out->compute_infer = {triton.success_count, triton.compute_infer_ns};
  out->compute_output = {triton.success_count, triton.compute_output_ns};
}

}  // namespace serval

#include "repository/triton_session.h"

#include <algorithm>
#include <chrono>

namespace serval {

namespace {

uint64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
}

uint64_t NowMillis() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace

StatusOr<Tensor> ReshapeTensor(const Tensor& tensor, const std::vector<int64_t>& dims, bool batch) {
  Shape shape;
  if (batch) {
    if (tensor.shape().empty()) return InvalidArgument("tensor '" + tensor.name() + "' has no batch dim");
    shape.push_back(tensor.shape()[0]);
  }
  int64_t known = shape.empty() ? 1 : shape[0];
  int variable = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (variable != -1) return InvalidArgument("reshape of '" + tensor.name() + "' has more than one -1");
      variable = static_cast<int>(shape.size());
      shape.push_back(1);
    } else {
      known *= dims[i];
      shape.push_back(dims[i]);
    }
  }
  if (variable != -1) {
    if (known == 0 || tensor.element_count() % known != 0) {
      return InvalidArgument("tensor '" + tensor.name() + "' of shape " + ShapeToString(tensor.shape()) +
                             " cannot be reshaped to " + ShapeToString(Shape(dims.begin(), dims.end())));
    }
    shape[static_cast<size_t>(variable)] = tensor.element_count() / known;
  } else if (known != tensor.element_count()) {
    return InvalidArgument("tensor '" + tensor.name() + "' of shape " + ShapeToString(tensor.shape()) +
                           " cannot be reshaped to " + ShapeToString(Shape(dims.begin(), dims.end())));
  }
  if (tensor.dtype() == DataType::kString) return Tensor::FromStrings(tensor.name(), shape, tensor.strings());
  auto owner = std::make_shared<const Tensor>(tensor);
  return Tensor::Borrow(tensor.name(), tensor.dtype(), std::move(shape), owner->bytes(), owner);
}

TritonSession::TritonSession(std::unique_ptr<ModelSession> inner, std::shared_ptr<const TritonModelInfo> info,
                             std::shared_ptr<TritonStatistics> stats, bool batched)
    : inner_(std::move(inner)),
      info_(std::move(info)),
      stats_(std::move(stats)),
      batched_(batched),
      signature_(TritonSignature(info_->config)) {
  signature_.check_shapes = inner_->signature().check_shapes;
}

Status TritonSession::RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                                   const std::vector<std::string>& output_names, const RunContext& context,
                                   std::vector<Tensor>* outputs) const {
  return inner_->RunSignature(signature_name, inputs, output_names, context, outputs);
}

Status TritonSession::Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
                          const RunContext& context, std::vector<Tensor>* outputs) const {
  const auto started = std::chrono::steady_clock::now();
  const TritonModelConfig& config = info_->config;
  const bool batching = config.max_batch_size > 0;
  int64_t rows = 1;
  if (batching) {
    for (const Tensor& input : inputs) {
      if (!input.shape().empty()) {
        rows = input.shape()[0];
        break;
      }
    }
    if (rows > config.max_batch_size) {
      stats_->fail_count.fetch_add(1, std::memory_order_relaxed);
      stats_->fail_ns.fetch_add(NanosSince(started), std::memory_order_relaxed);
      return InvalidArgument("inference request batch-size must be <= " + std::to_string(config.max_batch_size) +
                             " for '" + config.name + "'");
    }
  }
  auto fail = [&](Status status) {
    stats_->fail_count.fetch_add(1, std::memory_order_relaxed);
    stats_->fail_ns.fetch_add(NanosSince(started), std::memory_order_relaxed);
    return status;
  };

  // Inputs with a reshape go to the model in the shape it takes.
  std::vector<Tensor> reshaped;
  const std::vector<Tensor>* model_inputs = &inputs;
  const bool any_reshape = std::any_of(config.inputs.begin(), config.inputs.end(),
                                       [](const TritonTensorConfig& tensor) { return tensor.reshape.has_value(); });
  if (any_reshape) {
    reshaped.reserve(inputs.size());
    for (const Tensor& input : inputs) {
      auto it = std::find_if(config.inputs.begin(), config.inputs.end(),
                             [&](const TritonTensorConfig& tensor) { return tensor.name == input.name(); });
      if (it == config.inputs.end() || !it->reshape) {
        reshaped.push_back(input);
        continue;
      }
      StatusOr<Tensor> tensor = ReshapeTensor(input, *it->reshape, batching);
      if (!tensor.ok()) return fail(tensor.status());
      reshaped.push_back(std::move(tensor).value());
    }
    model_inputs = &reshaped;
  }
  const uint64_t input_ns = NanosSince(started);

  const auto infer_started = std::chrono::steady_clock::now();
  Status status = inner_->Run(*model_inputs, output_names, context, outputs);
  const uint64_t infer_ns = NanosSince(infer_started);
  if (!status.ok()) return fail(status);

  const auto output_started = std::chrono::steady_clock::now();
  for (Tensor& output : *outputs) {
    auto it = std::find_if(config.outputs.begin(), config.outputs.end(),
                           [&](const TritonTensorConfig& tensor) { return tensor.name == output.name(); });
    if (it == config.outputs.end() || !it->reshape) continue;
    StatusOr<Tensor> tensor = ReshapeTensor(output, it->dims, batching);
    if (!tensor.ok()) return fail(Internal(std::string(tensor.status().message())));
    output = std::move(tensor).value();
  }
  const uint64_t output_ns = NanosSince(output_started);

  stats_->success_count.fetch_add(1, std::memory_order_relaxed);
  stats_->success_ns.fetch_add(NanosSince(started), std::memory_order_relaxed);
  stats_->inference_count.fetch_add(static_cast<uint64_t>(batching ? rows : 1), std::memory_order_relaxed);
  stats_->compute_input_ns.fetch_add(input_ns, std::memory_order_relaxed);
  stats_->compute_output_ns.fetch_add(output_ns, std::memory_order_relaxed);
  if (!batched_) {
    // Nothing below batches: this request was one model run.
    stats_->execution_count.fetch_add(1, std::memory_order_relaxed);
    stats_->compute_infer_ns.fetch_add(infer_ns, std::memory_order_relaxed);
  }
  stats_->last_inference_ms.store(NowMillis(), std::memory_order_relaxed);
  return Status::Ok();
}

TritonStatisticsSnapshot TritonSession::Statistics() const {
  TritonStatisticsSnapshot out;
  out.success_count = stats_->success_count.load();
  out.success_ns = stats_->success_ns.load();
  out.fail_count = stats_->fail_count.load();
  out.fail_ns = stats_->fail_ns.load();
  out.inference_count = stats_->inference_count.load();
  out.execution_count = stats_->execution_count.load();
  out.queue_ns = stats_->queue_ns.load();
  out.compute_input_ns = stats_->compute_input_ns.load();
  out.compute_infer_ns = stats_->compute_infer_ns.load();
  out.compute_output_ns = stats_->compute_output_ns.load();
  out.last_inference_ms = stats_->last_inference_ms.load();
  return out;
}

}  // namespace serval

#include "repository/triton_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <span>

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

namespace {

// The tensor one warm-up input describes: `rows` in front when the model batches.
StatusOr<Tensor> WarmupTensor(const TritonModelConfig& config, const TritonWarmup& warmup,
                              const TritonWarmupInput& input, const std::string& model_dir, std::mt19937& random) {
  const std::string what = "model_warmup '" + warmup.name + "': input '" + input.name + "'";
  auto it = std::find_if(config.inputs.begin(), config.inputs.end(),
                         [&](const TritonTensorConfig& tensor) { return tensor.name == input.name; });
  if (it == config.inputs.end()) return InvalidArgument(what + " is not an input of the model");
  if (it->dtype != input.dtype) {
    return InvalidArgument(what + " has data_type " + TritonTypeName(input.dtype) + " but the input is " +
                           TritonTypeName(it->dtype));
  }
  Shape shape;
  if (config.max_batch_size > 0) shape.push_back(std::max<int64_t>(warmup.batch_size, 1));
  shape.insert(shape.end(), input.dims.begin(), input.dims.end());
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  if (input.dtype == DataType::kString) {
    if (input.data == TritonWarmupInput::Data::kFile)
      return InvalidArgument(what + ": input_data_file needs a numeric type");
    return Tensor::FromStrings(input.name, shape, std::vector<std::string>(static_cast<size_t>(count)));
  }
  SERVAL_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(input.name, input.dtype, shape, size_t{1} << 30));
  std::span<std::byte> bytes = tensor.mutable_bytes();
  switch (input.data) {
    case TritonWarmupInput::Data::kZero:
      std::fill(bytes.begin(), bytes.end(), std::byte{0});
      break;
    case TritonWarmupInput::Data::kRandom: {
      // Small non-negative values whatever the type (random bits would make NaNs and huge indexes): each
      // element's low byte random in [0, 1], the rest zero; float types get 0.0 or a denormal-free 1-ish value.
      const size_t size = ElementSize(input.dtype);
      std::fill(bytes.begin(), bytes.end(), std::byte{0});
      std::uniform_int_distribution<int> coin(0, 1);
      for (size_t i = 0; i + size <= bytes.size(); i += size) {
        if (coin(random) == 0) continue;
        if (input.dtype == DataType::kFp32) {
          const float one = 1.0f;
          std::memcpy(bytes.data() + i, &one, sizeof one);
        } else if (input.dtype == DataType::kFp64) {
          const double one = 1.0;
          std::memcpy(bytes.data() + i, &one, sizeof one);
        } else if (input.dtype == DataType::kFp16 || input.dtype == DataType::kBf16) {
          const uint16_t one = input.dtype == DataType::kFp16 ? 0x3C00 : 0x3F80;
          std::memcpy(bytes.data() + i, &one, sizeof one);
        } else {
          bytes[i] = std::byte{1};  // little-endian 1 (BOOL true)
        }
      }
      break;
    }
    case TritonWarmupInput::Data::kFile: {
      const std::string path = model_dir + "/warmup/" + input.file;
      std::ifstream file(path, std::ios::binary);
      if (!file) return InvalidArgument(what + ": cannot read " + path);
      std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      if (data.size() != bytes.size()) {
        return InvalidArgument(what + ": " + path + " has " + std::to_string(data.size()) + " bytes but shape " +
                               ShapeToString(shape) + " needs " + std::to_string(bytes.size()));
      }
      std::memcpy(bytes.data(), data.data(), data.size());
      break;
    }
  }
  if (it->reshape) return ReshapeTensor(tensor, *it->reshape, config.max_batch_size > 0);
  return tensor;
}

}  // namespace

StatusOr<int> RunTritonWarmup(const TritonModelConfig& config, const std::string& model_dir,
                              const ModelSession& session) {
  std::mt19937 random(20240613);  // fixed: a warm-up runs the same inputs every time
  int runs = 0;
  for (const TritonWarmup& warmup : config.warmups) {
    std::vector<Tensor> inputs;
    for (const TritonWarmupInput& input : warmup.inputs) {
      SERVAL_ASSIGN_OR_RETURN(Tensor tensor, WarmupTensor(config, warmup, input, model_dir, random));
      inputs.push_back(std::move(tensor));
    }
    for (uint32_t i = 0; i < warmup.count; ++i) {
      std::vector<Tensor> outputs;
      Status status = session.Run(inputs, {}, RunContext{}, &outputs);
      if (!status.ok()) {
        return Status(status.code(), "model_warmup '" + warmup.name + "' failed: " + std::string(status.message()));
      }
      ++runs;
    }
  }
  return runs;
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

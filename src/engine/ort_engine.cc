// The ONNX Runtime implementation of engine.h. Every ORT call is wrapped so that no Ort::Exception
// crosses into the rest of Serval.
#include <sched.h>

#include <onnxruntime_cxx_api.h>
#include <onnxruntime_session_options_config_keys.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/run_context.h"
#include "core/usable_cores.h"
#include "engine/engine.h"
#include "engine/execution_provider.h"

namespace serval {
namespace {

// ---- element types ------------------------------------------------------------------------------------

// Every ONNX element type Serval carries; any other (complex, float8, int4) cannot cross the engine.
struct TypePair {
  ONNXTensorElementDataType onnx;
  DataType serval;
};
constexpr std::array<TypePair, 14> kTypePairs = {{
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL, DataType::kBool},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8, DataType::kUint8},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16, DataType::kUint16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32, DataType::kUint32},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64, DataType::kUint64},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, DataType::kInt8},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16, DataType::kInt16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32, DataType::kInt32},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, DataType::kInt64},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, DataType::kFp16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, DataType::kBf16},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, DataType::kFp32},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, DataType::kFp64},
    {ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING, DataType::kString},
}};

// kInvalid for a type Serval does not carry.
DataType FromOnnxType(ONNXTensorElementDataType type) {
  for (const TypePair& pair : kTypePairs) {
    if (pair.onnx == type) return pair.serval;
  }
  return DataType::kInvalid;
}

// UNDEFINED for kInvalid.
ONNXTensorElementDataType ToOnnxType(DataType type) {
  for (const TypePair& pair : kTypePairs) {
    if (pair.serval == type) return pair.onnx;
  }
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

// ONNX's spelling, for errors about types Serval cannot carry.
std::string OnnxTypeName(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64:
      return "COMPLEX64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128:
      return "COMPLEX128";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN:
      return "FLOAT8E4M3FN";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FNUZ:
      return "FLOAT8E4M3FNUZ";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2:
      return "FLOAT8E5M2";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2FNUZ:
      return "FLOAT8E5M2FNUZ";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT4:
      return "UINT4";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT4:
      return "INT4";
    default:
      return "ONNX element type " + std::to_string(static_cast<int>(type));
  }
}

// ---- small helpers --------------------------------------------------------------------------------------

// ORT's messages can span lines; a log line and a status message must not.
std::string OneLine(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

::GraphOptimizationLevel ToOrtLevel(GraphOptimizationLevel level) {
  switch (level) {
    case GraphOptimizationLevel::kDisable:
      return ORT_DISABLE_ALL;
    case GraphOptimizationLevel::kBasic:
      return ORT_ENABLE_BASIC;
    case GraphOptimizationLevel::kExtended:
      return ORT_ENABLE_EXTENDED;
    case GraphOptimizationLevel::kAll:
      break;
  }
  return ORT_ENABLE_ALL;
}

// The name GetAvailableProviders() reports for each of Serval's provider names.
const char* OrtProviderName(std::string_view name) {
  if (name == "cuda") return "CUDAExecutionProvider";
  if (name == "tensorrt") return "TensorrtExecutionProvider";
  if (name == "openvino") return "OpenVINOExecutionProvider";
  if (name == "dnnl") return "DnnlExecutionProvider";
  return "CPUExecutionProvider";
}

// Load errors: the file's own problems are the operator's to fix (INVALID_ARGUMENT), a missing file is
// NOT_FOUND, and an operator or opset this ORT build lacks is a FAILED_PRECONDITION of the deployment.
Status LoadError(const std::string& path, const Ort::Exception& e) {
  std::string message = "cannot load model " + path + ": " + OneLine(e.what());
  switch (e.GetOrtErrorCode()) {
    case ORT_NO_SUCHFILE:
      return NotFound(std::move(message));
    case ORT_NOT_IMPLEMENTED:
      return FailedPrecondition(std::move(message));
    default:
      return InvalidArgument(std::move(message));
  }
}

// Run errors. Once the model loaded, what fails in a run is nearly always what the inputs made of it:
// ORT's own checks (shape, type, buffer size) say INVALID_ARGUMENT, and kernels that reject input
// values (an impossible Reshape, axes that cannot broadcast, an index out of range) pass their code
// through, RUNTIME_EXCEPTION or FAIL as often as INVALID_ARGUMENT. Running out of memory is the one
// failure of those codes the client did not cause directly; ORT only says so in the message.
Status RunError(const Ort::Exception& e) {
  std::string message = "ONNX Runtime: " + OneLine(e.what());
  switch (e.GetOrtErrorCode()) {
    case ORT_INVALID_ARGUMENT:
    case ORT_FAIL:
    case ORT_RUNTIME_EXCEPTION:
      if (message.find("Failed to allocate memory") != std::string::npos ||
          message.find("is smaller than requested bytes") != std::string::npos) {
        return ResourceExhausted(std::move(message));
      }
      return InvalidArgument(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

// ---- the run watchdog ---------------------------------------------------------------------------------

// One thread per process that stops runs whose deadline passed or whose client went away, through
// RunOptions::SetTerminate (ORT checks the flag between kernels, also inside Loop and If bodies). While
// runs are in flight, and for kIdleLinger after the last one, it wakes each kPollInterval and checks every
// registered run; only then does it sleep until the next registration. Registering while it ticks costs a
// lock and a push, no wake-up: waking it for every run put two context switches on each request's path.
// A run is therefore first checked within kPollInterval of its start. Runs with neither a deadline nor a
// client probe never register and cost nothing here.
class RunWatchdog {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{2};
  static constexpr std::chrono::milliseconds kIdleLinger{200};

  // One watched run. Lives on the running thread's stack between Watch and Unwatch.
  struct Watched {
    Ort::RunOptions* options = nullptr;
    const RunContext* context = nullptr;
    CancelReason reason = CancelReason::kNone;  // written by the watchdog under its mutex
  };

  RunWatchdog() = default;
  RunWatchdog(const RunWatchdog&) = delete;
  RunWatchdog& operator=(const RunWatchdog&) = delete;
  ~RunWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wakeup_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void Watch(Watched* run) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });  // started on first use
      runs_.push_back(run);
      wake = sleeping_;
    }
    if (wake) wakeup_.notify_one();
  }
  // After this returns the watchdog no longer touches `run`, its options or its context. Returns why the
  // run was stopped (kNone when it was not).
  CancelReason Unwatch(Watched* run) {
    std::lock_guard<std::mutex> lock(mutex_);
    runs_.erase(std::find(runs_.begin(), runs_.end(), run));
    return run->reason;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    Deadline last_busy = std::chrono::steady_clock::now();
    while (!stopping_) {
      const Deadline now = std::chrono::steady_clock::now();
      if (runs_.empty() && now - last_busy >= kIdleLinger) {
        sleeping_ = true;
        wakeup_.wait(lock, [this] { return stopping_ || !runs_.empty(); });
        sleeping_ = false;
        last_busy = std::chrono::steady_clock::now();
        continue;
      }
      if (!runs_.empty()) last_busy = now;
      // Probes run under the mutex: that is what keeps each context alive while it is probed
      // (Unwatch waits for it), and probes are required to be cheap.
      for (Watched* run : runs_) {
        if (run->reason != CancelReason::kNone) continue;
        CancelReason reason = run->context->Check(now);
        if (reason == CancelReason::kNone) continue;
        run->reason = reason;
        run->options->SetTerminate();
      }
      wakeup_.wait_for(lock, kPollInterval);
    }
  }

  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;
  bool sleeping_ = false;       // in the untimed wait: a registration must wake it
  std::vector<Watched*> runs_;  // in flight with a deadline or a client probe
  std::thread thread_;
};

RunWatchdog& GlobalRunWatchdog() {
  static RunWatchdog* watchdog = new RunWatchdog();  // never destroyed: runs may end during static teardown
  return *watchdog;
}

// ---- the environment ----------------------------------------------------------------------------------

// ORT's default logger writes colored, sometimes multi-line records; this keeps each to one plain line
// in the same stderr stream as the engine's own lines.
void LogOrtMessage(void* /*param*/, OrtLoggingLevel severity, const char* /*category*/, const char* /*logid*/,
                   const char* code_location, const char* message) {
  static constexpr char kLevels[] = "VIWEF";
  char level = severity >= 0 && severity <= ORT_LOGGING_LEVEL_FATAL ? kLevels[severity] : '?';
  std::string line = std::string("[ort] ") + level + " " + OneLine(message) + " (" + code_location + ")\n";
  std::fputs(line.c_str(), stderr);
}

// ORT state shared by the engine and every session it loaded. Sessions hold it so that the environment
// (and its thread pools) outlives them however the owners are torn down.
struct Runtime {
  EngineOptions options;
  int intra_op_threads = 1;
  Ort::Env env{nullptr};
  // Describes caller-owned input buffers; created once because every Run wraps inputs with it.
  Ort::MemoryInfo cpu_memory{nullptr};
  std::vector<std::string> available_providers;  // ORT's names, e.g. "CUDAExecutionProvider"

  // Why a provider could not be appended, by Serval name. Such a failure (a provider library that is
  // missing or does not load) lasts for the process, so later loads skip the provider at once instead
  // of having ORT retry and log the failure again for every model.
  mutable std::mutex mutex;
  mutable std::map<std::string, std::string, std::less<>> append_failures;

  bool Available(std::string_view provider) const {
    const char* ort_name = OrtProviderName(provider);
    return std::find(available_providers.begin(), available_providers.end(), ort_name) != available_providers.end();
  }
  std::optional<std::string> AppendFailure(std::string_view provider) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = append_failures.find(provider);
    if (it == append_failures.end()) return std::nullopt;
    return it->second;
  }
  void RecordAppendFailure(const std::string& provider, const std::string& reason) const {
    std::lock_guard<std::mutex> lock(mutex);
    append_failures.emplace(provider, reason);
  }
};

// ---- one session ----------------------------------------------------------------------------------------

class OrtModelSession final : public ModelSession {
 public:
  OrtModelSession(std::shared_ptr<const Runtime> runtime, Ort::Session session, ModelSignature signature,
                  std::string provider)
      : runtime_(std::move(runtime)),
        session_(std::move(session)),
        signature_(std::move(signature)),
        provider_(std::move(provider)) {
    // Point into signature_, which never changes after this: ORT takes names as C strings, and building
    // them per call would allocate.
    for (const TensorSpec& spec : signature_.inputs) input_names_.push_back(spec.name.c_str());
    for (const TensorSpec& spec : signature_.outputs) output_names_.push_back(spec.name.c_str());
  }

  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return provider_; }

  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext& context,
             std::vector<Tensor>* outputs) const override;

 private:
  // The tensor for session input `index`; nullptr when absent. Requests usually list inputs in the
  // model's order, so the same position is tried first.
  const Tensor* FindInput(const std::vector<Tensor>& inputs, size_t index) const {
    const std::string& name = signature_.inputs[index].name;
    if (index < inputs.size() && inputs[index].name() == name) return &inputs[index];
    for (const Tensor& tensor : inputs) {
      if (tensor.name() == name) return &tensor;
    }
    return nullptr;
  }

  Status AppendInput(const Tensor& tensor, std::vector<Ort::Value>* values) const;

  std::shared_ptr<const Runtime> runtime_;  // first: destroyed after session_
  // ORT's Run is thread-safe; the C++ wrapper's Run is merely not declared const.
  mutable Ort::Session session_;
  ModelSignature signature_;
  std::string provider_;
  std::vector<const char*> input_names_;
  std::vector<const char*> output_names_;
};

Status OrtModelSession::AppendInput(const Tensor& tensor, std::vector<Ort::Value>* values) const {
  const Shape& shape = tensor.shape();
  if (tensor.dtype() == DataType::kString) {
    StatusOr<int64_t> count = ElementCount(shape, tensor.name());
    if (!count.ok()) return count.status();
    const std::vector<std::string>& strings = tensor.strings();
    if (static_cast<int64_t>(strings.size()) != *count) {
      return InvalidArgument("input '" + tensor.name() + "' has " + std::to_string(strings.size()) +
                             " strings but shape " + ShapeToString(shape) + " needs " + std::to_string(*count));
    }
    Ort::AllocatorWithDefaultOptions allocator;
    Ort::Value value =
        Ort::Value::CreateTensor(allocator, shape.data(), shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);
    // Element by element into ORT's own buffers: FillStringTensor would stop each string at a NUL, and
    // BYTES elements are arbitrary bytes. Each buffer is a std::string inside ORT, already sized, so
    // no terminator is written.
    for (size_t i = 0; i < strings.size(); ++i) {
      char* buffer = value.GetResizedStringTensorElementBuffer(i, strings[i].size());
      if (!strings[i].empty()) {
        std::memcpy(buffer, strings[i].data(), strings[i].size());  // NOLINT(bugprone-not-null-terminated-result)
      }
    }
    values->push_back(std::move(value));
    return Status::Ok();
  }
  ONNXTensorElementDataType onnx_type = ToOnnxType(tensor.dtype());
  if (onnx_type == ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED) {
    return InvalidArgument("input '" + tensor.name() + "' has no data type");
  }
  std::span<const std::byte> bytes = tensor.bytes();
  // ORT never writes to inputs; the cast only meets CreateTensor's signature. An empty tensor may have no
  // buffer at all, so it gets a valid pointer to nothing.
  static std::byte empty_buffer[1];
  void* data = bytes.empty() ? empty_buffer : const_cast<std::byte*>(bytes.data());
  values->push_back(
      Ort::Value::CreateTensor(runtime_->cpu_memory, data, bytes.size(), shape.data(), shape.size(), onnx_type));
  return Status::Ok();
}

// Wraps one ORT output. `holder` owns every output of the call; sharing it among the output tensors
// costs one allocation per Run instead of one per output.
Status WrapOutput(const char* name, Ort::Value& value, const std::shared_ptr<std::vector<Ort::Value>>& holder,
                  std::vector<Tensor>* outputs) {
  if (!value.IsTensor()) return Internal(std::string("output '") + name + "' is not a tensor");
  Ort::TensorTypeAndShapeInfo info = value.GetTensorTypeAndShapeInfo();
  ONNXTensorElementDataType onnx_type = info.GetElementType();
  DataType dtype = FromOnnxType(onnx_type);
  if (dtype == DataType::kInvalid) {
    return Internal(std::string("output '") + name + "' has unsupported element type " + OnnxTypeName(onnx_type));
  }
  Shape shape = info.GetShape();
  size_t count = info.GetElementCount();
  if (dtype == DataType::kString) {
    std::vector<std::string> strings;
    strings.reserve(count);
    for (size_t i = 0; i < count; ++i) strings.push_back(value.GetStringTensorElement(i));
    outputs->push_back(Tensor::FromStrings(name, std::move(shape), std::move(strings)));
    return Status::Ok();
  }
  size_t size = count * ElementSize(dtype);
  const auto* data = size == 0 ? nullptr : static_cast<const std::byte*>(value.GetTensorRawData());
  outputs->push_back(Tensor::Borrow(name, dtype, std::move(shape), {data, size}, holder));
  return Status::Ok();
}

Status OrtModelSession::Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names,
                            const RunContext& context, std::vector<Tensor>* outputs) const {
  EngineStats& stats = GlobalEngineStats();
  if (!context.Unbounded()) {
    SERVAL_RETURN_IF_ERROR(CheckBeforeRun(context));
  }
  const size_t input_count = input_names_.size();
  if (inputs.size() != input_count) {
    return InvalidArgument("the model takes " + std::to_string(input_count) + " inputs, got " +
                           std::to_string(inputs.size()));
  }
  const char* const* run_output_names = output_names_.data();
  size_t output_count = output_names_.size();
  std::vector<const char*> requested;
  if (!output_names.empty()) {
    requested.reserve(output_names.size());
    for (const std::string& name : output_names) {
      const TensorSpec* spec = signature_.FindOutput(name);
      if (spec == nullptr) return InvalidArgument("unknown output '" + name + "'");
      requested.push_back(spec->name.c_str());
    }
    run_output_names = requested.data();
    output_count = requested.size();
  }
  try {
    // Inputs go in the session's order; with as many tensors as session inputs, finding every session
    // input by name also rules out unknown and repeated names.
    std::vector<Ort::Value> values;
    values.reserve(input_count);
    for (size_t i = 0; i < input_count; ++i) {
      const Tensor* tensor = FindInput(inputs, i);
      if (tensor == nullptr) return InvalidArgument("missing input '" + signature_.inputs[i].name + "'");
      SERVAL_RETURN_IF_ERROR(AppendInput(*tensor, &values));
    }
    auto results = std::make_shared<std::vector<Ort::Value>>();
    results->reserve(output_count);
    for (size_t i = 0; i < output_count; ++i) results->emplace_back(nullptr);
    // Runs nothing can cancel skip the RunOptions and the watchdog. The others use their thread's
    // RunOptions, made once (a run is synchronous, so a thread has at most one in flight): its terminate
    // flag is cleared before each run, which is safe because the watchdog only sets it between Watch and
    // Unwatch.
    static const Ort::RunOptions kNoRunOptions{nullptr};
    const Ort::RunOptions* run_options = &kNoRunOptions;
    RunWatchdog::Watched watched;
    if (!context.Unbounded()) {
      thread_local Ort::RunOptions thread_run_options = [] {
        Ort::RunOptions options;
        // A stopped run is expected here, not an error worth ORT's log line; the caller gets the status.
        options.SetRunLogSeverityLevel(ORT_LOGGING_LEVEL_FATAL);
        return options;
      }();
      thread_run_options.UnsetTerminate();
      run_options = &thread_run_options;
      watched.options = &thread_run_options;
      watched.context = &context;
      GlobalRunWatchdog().Watch(&watched);
    }
    stats.runs_started.fetch_add(1, std::memory_order_relaxed);
    try {
      session_.Run(*run_options, input_names_.data(), values.data(), input_count, run_output_names, results->data(),
                   output_count);
    } catch (const Ort::Exception& e) {
      CancelReason reason = context.Unbounded() ? CancelReason::kNone : GlobalRunWatchdog().Unwatch(&watched);
      switch (reason) {
        case CancelReason::kDeadline:
          stats.runs_cancelled_deadline.fetch_add(1, std::memory_order_relaxed);
          return DeadlineExceeded("deadline exceeded while the model ran; the run was stopped");
        case CancelReason::kClientGone:
          stats.runs_cancelled_client_gone.fetch_add(1, std::memory_order_relaxed);
          return Cancelled("the client went away while the model ran; the run was stopped");
        case CancelReason::kNone:
          break;
      }
      stats.runs_failed.fetch_add(1, std::memory_order_relaxed);
      return RunError(e);
    } catch (...) {
      if (!context.Unbounded()) GlobalRunWatchdog().Unwatch(&watched);  // `watched` dies with this frame
      stats.runs_failed.fetch_add(1, std::memory_order_relaxed);
      throw;
    }
    // A run that finished although the watchdog stopped it at the last moment still has its outputs.
    if (!context.Unbounded()) GlobalRunWatchdog().Unwatch(&watched);
    stats.runs_completed.fetch_add(1, std::memory_order_relaxed);
    std::vector<Tensor> wrapped;
    wrapped.reserve(output_count);
    for (size_t i = 0; i < output_count; ++i) {
      SERVAL_RETURN_IF_ERROR(WrapOutput(run_output_names[i], (*results)[i], results, &wrapped));
    }
    *outputs = std::move(wrapped);
    return Status::Ok();
  } catch (const Ort::Exception& e) {
    return RunError(e);
  } catch (const std::exception& e) {
    return Internal(std::string("engine: ") + e.what());
  }
}

// ---- the engine -------------------------------------------------------------------------------------------

StatusOr<TensorSpec> ReadSpec(const std::string& path, const char* kind, std::string name,
                              const Ort::TypeInfo& type_info) {
  if (type_info.GetONNXType() != ONNX_TYPE_TENSOR) {
    return FailedPrecondition("model " + path + ": " + kind + " '" + name +
                              "' is not a tensor (sequence, map or optional); Serval serves tensors only");
  }
  Ort::ConstTensorTypeAndShapeInfo info = type_info.GetTensorTypeAndShapeInfo();
  ONNXTensorElementDataType onnx_type = info.GetElementType();
  DataType dtype = FromOnnxType(onnx_type);
  if (dtype == DataType::kInvalid) {
    return FailedPrecondition("model " + path + ": " + kind + " '" + name + "' has element type " +
                              OnnxTypeName(onnx_type) + ", which Serval does not support");
  }
  TensorSpec spec;
  spec.name = std::move(name);
  spec.dtype = dtype;
  spec.shape = info.GetShape();
  for (int64_t& dim : spec.shape) {
    if (dim < 0) dim = -1;  // symbolic (dim_param) and unknown dims alike
  }
  return spec;
}

StatusOr<ModelSignature> ReadSignature(const std::string& path, const Ort::Session& session) {
  Ort::AllocatorWithDefaultOptions allocator;
  ModelSignature signature;
  for (size_t i = 0; i < session.GetInputCount(); ++i) {
    StatusOr<TensorSpec> spec =
        ReadSpec(path, "input", session.GetInputNameAllocated(i, allocator).get(), session.GetInputTypeInfo(i));
    if (!spec.ok()) return spec.status();
    signature.inputs.push_back(std::move(spec).value());
  }
  for (size_t i = 0; i < session.GetOutputCount(); ++i) {
    StatusOr<TensorSpec> spec =
        ReadSpec(path, "output", session.GetOutputNameAllocated(i, allocator).get(), session.GetOutputTypeInfo(i));
    if (!spec.ok()) return spec.status();
    signature.outputs.push_back(std::move(spec).value());
  }
  return signature;
}

void AppendProvider(Ort::SessionOptions& session_options, std::string_view name) {
  const OrtApi& api = Ort::GetApi();
  if (name == "cuda") {
    OrtCUDAProviderOptionsV2* raw = nullptr;
    Ort::ThrowOnError(api.CreateCUDAProviderOptions(&raw));
    std::unique_ptr<OrtCUDAProviderOptionsV2, decltype(api.ReleaseCUDAProviderOptions)> cuda(
        raw, api.ReleaseCUDAProviderOptions);
    session_options.AppendExecutionProvider_CUDA_V2(*cuda);
  } else if (name == "tensorrt") {
    OrtTensorRTProviderOptionsV2* raw = nullptr;
    Ort::ThrowOnError(api.CreateTensorRTProviderOptions(&raw));
    std::unique_ptr<OrtTensorRTProviderOptionsV2, decltype(api.ReleaseTensorRTProviderOptions)> tensorrt(
        raw, api.ReleaseTensorRTProviderOptions);
    session_options.AppendExecutionProvider_TensorRT_V2(*tensorrt);
  } else if (name == "openvino") {
    session_options.AppendExecutionProvider_OpenVINO_V2({});
  } else if (name == "dnnl") {
    OrtDnnlProviderOptions* raw = nullptr;
    Ort::ThrowOnError(api.CreateDnnlProviderOptions(&raw));
    std::unique_ptr<OrtDnnlProviderOptions, decltype(api.ReleaseDnnlProviderOptions)> dnnl(
        raw, api.ReleaseDnnlProviderOptions);
    session_options.AppendExecutionProvider_Dnnl(*dnnl);
  }
}

class OrtEngine final : public Engine {
 public:
  explicit OrtEngine(std::shared_ptr<Runtime> runtime) : runtime_(std::move(runtime)) {}

  StatusOr<std::unique_ptr<ModelSession>> Load(const std::string& path) const override { return LoadWith(path, {}); }
  StatusOr<std::unique_ptr<ModelSession>> LoadWith(const std::string& path,
                                                   const SessionOverrides& overrides) const override;
  const EngineOptions& options() const override { return runtime_->options; }
  int intra_op_threads() const override { return runtime_->intra_op_threads; }
  std::string runtime_version() const override { return Ort::GetVersionString(); }

 private:
  Ort::SessionOptions BaseSessionOptions(const SessionOverrides& overrides) const;

  std::shared_ptr<const Runtime> runtime_;
};

// Settings every session gets whatever its providers.
Ort::SessionOptions OrtEngine::BaseSessionOptions(const SessionOverrides& overrides) const {
  const EngineOptions& options = runtime_->options;
  Ort::SessionOptions session_options;
  if (overrides.intra_op_threads || overrides.inter_op_threads) {
    // The model asked for its own pools; the other of the two keeps the engine's size.
    session_options.SetIntraOpNumThreads(overrides.intra_op_threads.value_or(runtime_->intra_op_threads));
    session_options.SetInterOpNumThreads(overrides.inter_op_threads.value_or(options.inter_op_threads));
  } else {
    session_options.DisablePerSessionThreads();  // the environment's global pools serve every session
  }
  if (overrides.parallel_execution) {
    session_options.SetExecutionMode(*overrides.parallel_execution ? ORT_PARALLEL : ORT_SEQUENTIAL);
  }
  session_options.SetGraphOptimizationLevel(ToOrtLevel(options.graph_optimization_level));
  if (overrides.enable_mem_arena.value_or(options.enable_cpu_mem_arena)) {
    session_options.EnableCpuMemArena();
  } else {
    session_options.DisableCpuMemArena();
  }
  const char* spin = options.allow_spinning ? "1" : "0";
  session_options.AddConfigEntry(kOrtSessionOptionsConfigAllowIntraOpSpinning, spin);
  session_options.AddConfigEntry(kOrtSessionOptionsConfigAllowInterOpSpinning, spin);
  return session_options;
}

StatusOr<std::unique_ptr<ModelSession>> OrtEngine::LoadWith(const std::string& path,
                                                            const SessionOverrides& overrides) const {
  try {
    // Register every preferred provider before "cpu" that can be set up, in order: ORT then places each
    // node on the first of them that supports it (TensorRT, then CUDA, then CPU). A provider that cannot
    // be appended (not in this build, provider library missing) is skipped.
    Ort::SessionOptions session_options = BaseSessionOptions(overrides);
    std::vector<std::string> appended;
    std::string skipped;  // "cuda unavailable: <reason>; ..."
    auto note = [&skipped](const std::string& what, const std::string& reason) {
      if (!skipped.empty()) skipped += "; ";
      skipped += what + " unavailable: " + reason;
    };
    for (const std::string& name : runtime_->options.execution_providers) {
      if (name == "cpu") break;
      if (!runtime_->Available(name)) {
        note(name, "not in this ONNX Runtime build");
        continue;
      }
      if (std::optional<std::string> failure = runtime_->AppendFailure(name)) {
        note(name, *failure);
        continue;
      }
      try {
        AppendProvider(session_options, name);
        appended.push_back(name);
      } catch (const Ort::Exception& e) {
        std::string reason = OneLine(e.what());
        runtime_->RecordAppendFailure(name, reason);
        note(name, reason);
      }
    }

    Ort::Session session{nullptr};
    std::string provider = "cpu";
    if (!appended.empty()) {
      try {
        session = Ort::Session(runtime_->env, path.c_str(), session_options);
        provider = appended.front();
      } catch (const Ort::Exception& e) {
        // A provider can append yet fail when it initializes (no device, driver or cuDNN mismatch).
        // Retrying on CPU alone also reproduces a fault of the model itself, and reports that.
        std::string names;
        for (const std::string& name : appended) names += (names.empty() ? "" : ", ") + name;
        note(names, OneLine(e.what()));
      }
    }
    if (session == nullptr) session = Ort::Session(runtime_->env, path.c_str(), BaseSessionOptions(overrides));

    StatusOr<ModelSignature> signature = ReadSignature(path, session);
    if (!signature.ok()) return signature.status();

    std::string line = "[engine] model " + path + ": execution provider " + provider;
    if (provider != "cpu" && appended.size() > 1) {
      line += " (then";
      for (size_t i = 1; i < appended.size(); ++i) line += " " + appended[i] + ",";
      line += " cpu)";
    }
    if (!skipped.empty()) line += " (" + skipped + ")";
    line += "\n";
    std::fputs(line.c_str(), stderr);

    return std::unique_ptr<ModelSession>(
        new OrtModelSession(runtime_, std::move(session), std::move(signature).value(), std::move(provider)));
  } catch (const Ort::Exception& e) {
    return LoadError(path, e);
  } catch (const std::exception& e) {
    return Internal("cannot load model " + path + ": " + e.what());
  }
}

}  // namespace

std::vector<RuntimeVersion> RuntimeVersions() {
  // The version the loaded library reports, which may be newer than the headers built against.
  return {RuntimeVersion{"ONNX Runtime", OrtGetApiBase()->GetVersionString()}};
}

StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  SERVAL_RETURN_IF_ERROR(CheckExecutionProviders(options.execution_providers));
  if (options.intra_op_threads < 0 || options.inter_op_threads < 0) {
    return InvalidArgument("thread counts must not be negative (intra_op_threads " +
                           std::to_string(options.intra_op_threads) + ", inter_op_threads " +
                           std::to_string(options.inter_op_threads) + ")");
  }
  auto runtime = std::make_shared<Runtime>();
  runtime->options = options;
  runtime->intra_op_threads = options.intra_op_threads > 0 ? options.intra_op_threads : UsableCores();
  try {
    Ort::ThreadingOptions threading;
    threading.SetGlobalIntraOpNumThreads(runtime->intra_op_threads);
    threading.SetGlobalInterOpNumThreads(options.inter_op_threads);
    threading.SetGlobalSpinControl(options.allow_spinning ? 1 : 0);
    runtime->env = Ort::Env(threading, LogOrtMessage, nullptr, ORT_LOGGING_LEVEL_WARNING, "serval");
    runtime->cpu_memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault);
    runtime->available_providers = Ort::GetAvailableProviders();
  } catch (const Ort::Exception& e) {
    return Internal("cannot create the ONNX Runtime environment: " + OneLine(e.what()));
  }
  return std::unique_ptr<Engine>(new OrtEngine(std::move(runtime)));
}

}  // namespace serval

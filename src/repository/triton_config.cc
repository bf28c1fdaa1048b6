#include "repository/triton_config.h"

#include <algorithm>
#include <charconv>
#include <fstream>

#include "proto/text_proto.h"

#include "inference/model_config.pb.h"

namespace serval {
namespace {

namespace pb = inference;

// Dims: -1 (variable) or a positive size; Triton refuses 0 and other negatives in a config.
Status CheckDims(const std::vector<int64_t>& dims, const std::string& what) {
  for (int64_t dim : dims) {
    if (dim < -1 || dim == 0) {
      return InvalidArgument(what + " has dim " + std::to_string(dim) + "; dims must be positive or -1");
    }
  }
  return Status::Ok();
}

bool Compatible(const std::vector<int64_t>& config, const Shape& model) {
  if (config.size() != model.size()) return false;
  for (size_t i = 0; i < config.size(); ++i) {
    if (config[i] != -1 && model[i] != -1 && config[i] != model[i]) return false;
  }
  return true;
}

std::string DimsText(const std::vector<int64_t>& dims) { return ShapeToString(Shape(dims.begin(), dims.end())); }

StatusOr<int> ParseIntParameter(const std::string& key, const std::string& value, int min, int max) {
  int out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size() || out < min || out > max) {
    return InvalidArgument("parameter '" + key + "' must be an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got '" + value + "'");
  }
  return out;
}

// The thread counts a config may ask for (ORT refuses absurd pools only when it runs out of memory).
constexpr int kMaxThreadsPerModel = 1024;

Status ConvertTensor(const pb::ModelInput& in, TritonTensorConfig* out) {
  out->name = in.name();
  if (in.name().empty()) return InvalidArgument("an input has no name");
  out->dtype = DataTypeFromTritonName(pb::DataType_Name(in.data_type()));
  if (out->dtype == DataType::kInvalid) return InvalidArgument("input '" + in.name() + "' has no valid data_type");
  out->dims.assign(in.dims().begin(), in.dims().end());
  SERVAL_RETURN_IF_ERROR(CheckDims(out->dims, "input '" + in.name() + "'"));
  if (in.has_reshape()) out->reshape = std::vector<int64_t>(in.reshape().shape().begin(), in.reshape().shape().end());
  out->optional = in.optional();
  if (in.format() != pb::ModelInput::FORMAT_NONE || in.is_shape_tensor() || in.allow_ragged_batch()) {
    return InvalidArgument("input '" + in.name() +
                           "': format, is_shape_tensor and allow_ragged_batch are not supported by Serval");
  }
  return Status::Ok();
}

Status ConvertTensor(const pb::ModelOutput& in, TritonTensorConfig* out) {
  out->name = in.name();
  if (in.name().empty()) return InvalidArgument("an output has no name");
  out->dtype = DataTypeFromTritonName(pb::DataType_Name(in.data_type()));
  if (out->dtype == DataType::kInvalid) return InvalidArgument("output '" + in.name() + "' has no valid data_type");
  out->dims.assign(in.dims().begin(), in.dims().end());
  SERVAL_RETURN_IF_ERROR(CheckDims(out->dims, "output '" + in.name() + "'"));
  if (in.has_reshape()) out->reshape = std::vector<int64_t>(in.reshape().shape().begin(), in.reshape().shape().end());
  out->label_filename = in.label_filename();
  if (!out->label_filename.empty() &&
      (out->label_filename.find('/') != std::string::npos || out->label_filename.starts_with("."))) {
    return InvalidArgument("output '" + in.name() + "': label_filename must be a file name in the model directory");
  }
  if (in.is_shape_tensor()) return InvalidArgument("output '" + in.name() + "': is_shape_tensor is not supported");
  return Status::Ok();
}

Status ConvertPolicy(const pb::ModelVersionPolicy& in, VersionPolicy* out) {
  switch (in.policy_choice_case()) {
    case pb::ModelVersionPolicy::kLatest:
      out->kind = VersionPolicy::Kind::kLatest;
      out->latest_count = in.latest().num_versions() == 0 ? 1 : in.latest().num_versions();
      return Status::Ok();
    case pb::ModelVersionPolicy::kAll:
      out->kind = VersionPolicy::Kind::kAll;
      return Status::Ok();
    case pb::ModelVersionPolicy::kSpecific:
      if (in.specific().versions().empty()) return InvalidArgument("version_policy specific{} lists no versions");
      out->kind = VersionPolicy::Kind::kSpecific;
      out->specific.assign(in.specific().versions().begin(), in.specific().versions().end());
      return Status::Ok();
    case pb::ModelVersionPolicy::POLICY_CHOICE_NOT_SET:
      break;
  }
  *out = VersionPolicy{};
  return Status::Ok();
}

Status ConvertParameters(const pb::ModelConfig& in, TritonModelConfig* out) {
  for (const auto& [key, parameter] : in.parameters()) {
    const std::string& value = parameter.string_value();
    out->parameters[key] = value;
    if (key == "intra_op_thread_count") {
      StatusOr<int> n = ParseIntParameter(key, value, 0, kMaxThreadsPerModel);
      if (!n.ok()) return n.status();
      if (*n > 0) out->ort.intra_op_threads = *n;
    } else if (key == "inter_op_thread_count") {
      StatusOr<int> n = ParseIntParameter(key, value, 0, kMaxThreadsPerModel);
      if (!n.ok()) return n.status();
      if (*n > 0) out->ort.inter_op_threads = *n;
    } else if (key == "execution_mode") {
      StatusOr<int> n = ParseIntParameter(key, value, 0, 1);
      if (!n.ok()) return n.status();
      out->ort.parallel_execution = *n == 1;
    } else if (key == "enable_mem_arena") {
      StatusOr<int> n = ParseIntParameter(key, value, 0, 1);
      if (!n.ok()) return n.status();
      out->ort.enable_mem_arena = *n == 1;
    } else {
      return InvalidArgument("parameter '" + key +
                             "' is not supported (Serval reads intra_op_thread_count, inter_op_thread_count, "
                             "execution_mode, enable_mem_arena)");
    }
  }
  return Status::Ok();
}

Status ConvertConfig(const pb::ModelConfig& in, std::string_view model_name, TritonModelConfig* out) {
  if (!in.name().empty() && in.name() != model_name) {
    return InvalidArgument("name '" + in.name() + "' differs from the model directory's name '" +
                           std::string(model_name) + "'");
  }
  out->name = std::string(model_name);
  out->platform = in.platform();
  out->backend = in.backend();
  const bool onnx = out->platform == "onnxruntime_onnx" || out->backend == "onnxruntime";
  const bool tf = out->platform == "tensorflow_savedmodel" || out->backend == "tensorflow";
  if ((!out->platform.empty() || !out->backend.empty()) && !onnx && !tf) {
    return InvalidArgument("platform '" + out->platform + "' / backend '" + out->backend +
                           "' is not supported (use onnxruntime_onnx / onnxruntime or tensorflow_savedmodel / "
                           "tensorflow)");
  }
  if (onnx && tf) return InvalidArgument("platform and backend name different engines");
  if (in.max_batch_size() < 0) return InvalidArgument("max_batch_size must not be negative");
  out->max_batch_size = in.max_batch_size();
  for (const pb::ModelInput& input : in.input()) {
    SERVAL_RETURN_IF_ERROR(ConvertTensor(input, &out->inputs.emplace_back()));
  }
  for (const pb::ModelOutput& output : in.output()) {
    SERVAL_RETURN_IF_ERROR(ConvertTensor(output, &out->outputs.emplace_back()));
  }
  SERVAL_RETURN_IF_ERROR(ConvertPolicy(in.version_policy(), &out->version_policy));
  if (in.has_dynamic_batching()) {
    const pb::ModelDynamicBatching& batching = in.dynamic_batching();
    if (out->max_batch_size == 0) return InvalidArgument("dynamic_batching needs max_batch_size > 0");
    if (batching.preserve_ordering() || batching.priority_levels() != 0 || batching.has_default_queue_policy()) {
      return InvalidArgument(
          "dynamic_batching: preserve_ordering, priority_levels and default_queue_policy are not supported");
    }
    out->dynamic_batching = true;
    for (int32_t size : batching.preferred_batch_size()) {
      if (size < 1 || size > out->max_batch_size) {
        return InvalidArgument("dynamic_batching: preferred_batch_size " + std::to_string(size) +
                               " is not in [1, max_batch_size]");
      }
      out->preferred_batch_sizes.push_back(size);
    }
    out->max_queue_delay_microseconds = batching.max_queue_delay_microseconds();
  }
  for (const pb::ModelInstanceGroup& group : in.instance_group()) {
    TritonInstanceGroup& g = out->instance_groups.emplace_back();
    g.name = group.name();
    g.count = group.count() == 0 ? 1 : group.count();
    g.kind = pb::ModelInstanceGroup::Kind_Name(group.kind());
    if (group.count() < 0) return InvalidArgument("instance_group count must not be negative");
  }
  if (!in.default_model_filename().empty() && in.default_model_filename() != "model.onnx" &&
      in.default_model_filename() != "model.savedmodel") {
    return InvalidArgument("default_model_filename '" + in.default_model_filename() +
                           "' is not supported (versions hold model.onnx or a SavedModel)");
  }
  SERVAL_RETURN_IF_ERROR(ConvertParameters(in, out));
  for (const pb::ModelWarmup& warmup : in.model_warmup()) {
    TritonWarmup& w = out->warmups.emplace_back();
    w.name = warmup.name();
    w.batch_size = warmup.batch_size();
    w.count = std::max<uint32_t>(warmup.count(), 1);
    const std::string what = "model_warmup '" + warmup.name() + "'";
    // "model_warmup 'w': input 'a'<why>"
    auto bad_input = [&what](const std::string& input, std::string_view why) {
      std::string message = what;
      message += ": input '";
      message += input;
      message += "'";
      message += why;
      return InvalidArgument(message);
    };
    if (w.count > 1000) return InvalidArgument(what + ": count must be at most 1000");
    if (out->max_batch_size > 0 && (w.batch_size < 1 || static_cast<int32_t>(w.batch_size) > out->max_batch_size)) {
      return InvalidArgument(what + ": batch_size must be in [1, max_batch_size]");
    }
    // Sorted by name (a proto map has no order): the samples run the same way every time.
    std::vector<std::string> names;
    for (const auto& [name, input] : warmup.inputs()) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const pb::ModelWarmup::Input& input = warmup.inputs().at(name);
      TritonWarmupInput& i = w.inputs.emplace_back();
      i.name = name;
      i.dtype = DataTypeFromTritonName(pb::DataType_Name(input.data_type()));
      if (i.dtype == DataType::kInvalid) return bad_input(name, " has no valid data_type");
      i.dims.assign(input.dims().begin(), input.dims().end());
      for (int64_t dim : i.dims) {
        if (dim < 0) return bad_input(name, " has a negative dim (warm-up dims are exact)");
      }
      switch (input.input_data_type_case()) {
        case pb::ModelWarmup::Input::kZeroData:
          i.data = TritonWarmupInput::Data::kZero;
          break;
        case pb::ModelWarmup::Input::kRandomData:
          i.data = TritonWarmupInput::Data::kRandom;
          break;
        case pb::ModelWarmup::Input::kInputDataFile:
          i.data = TritonWarmupInput::Data::kFile;
          i.file = input.input_data_file();
          if (i.file.empty() || i.file.find('/') != std::string::npos || i.file == "." || i.file == "..") {
            return bad_input(name, ": input_data_file must name a file in warmup/");
          }
          break;
        default:
          return bad_input(name, " sets none of zero_data, random_data, input_data_file");
      }
    }
  }
  if (in.has_optimization()) {
    const pb::ModelOptimizationPolicy::ExecutionAccelerators& accelerators = in.optimization().execution_accelerators();
    for (const auto* list : {&accelerators.gpu_execution_accelerator(), &accelerators.cpu_execution_accelerator()}) {
      if (list->empty()) continue;
      const std::string field =
          list == &accelerators.gpu_execution_accelerator() ? "gpu_execution_accelerator" : "cpu_execution_accelerator";
      return InvalidArgument("optimization.execution_accelerators." + field + " '" + list->Get(0).name() +
                             "' is not available: this ONNX Runtime build has the CPU execution provider only "
                             "(remove the accelerator; --execution_providers chooses providers server-wide)");
    }
    out->graph_optimization_level = in.optimization().graph().level();
  }
  if (in.model_transaction_policy().decoupled()) return InvalidArgument("decoupled models are not supported");
  return Status::Ok();
}

}  // namespace

std::string TritonTypeName(DataType type) {
  if (type == DataType::kString) return "TYPE_STRING";
  return "TYPE_" + std::string(KServeName(type));
}

DataType DataTypeFromTritonName(std::string_view name) {
  if (!name.starts_with("TYPE_")) return DataType::kInvalid;
  name.remove_prefix(5);
  if (name == "STRING") return DataType::kString;
  if (name == "BYTES" || name == "INVALID") return DataType::kInvalid;
  return DataTypeFromKServeName(name);
}

std::string ServalPlatform(const TritonModelConfig& config) {
  if (config.platform == "onnxruntime_onnx" || config.backend == "onnxruntime") return "onnx";
  if (config.platform == "tensorflow_savedmodel" || config.backend == "tensorflow") return "tensorflow";
  return "";
}

StatusOr<TritonModelConfig> ParseTritonModelConfig(std::string_view text, std::string_view model_name) {
  pb::ModelConfig proto;
  // An unknown field is a parse error whose message names the field.
  if (Status parsed = ParseTextProto(text, "config.pbtxt", &proto); !parsed.ok()) {
    return InvalidArgument("model '" + std::string(model_name) + "': " + std::string(parsed.message()));
  }
  TritonModelConfig config;
  Status status = ConvertConfig(proto, model_name, &config);
  if (!status.ok()) {
    return InvalidArgument("model '" + std::string(model_name) + "': config.pbtxt: " + std::string(status.message()));
  }
  return config;
}

namespace {

std::vector<TritonTensorConfig> FromSpecs(const std::vector<TensorSpec>& specs, bool batching) {
  std::vector<TritonTensorConfig> out;
  for (const TensorSpec& spec : specs) {
    TritonTensorConfig& tensor = out.emplace_back();
    tensor.name = spec.name;
    tensor.dtype = spec.dtype;
    tensor.dims.assign(spec.shape.begin() + (batching && !spec.shape.empty() ? 1 : 0), spec.shape.end());
  }
  return out;
}

bool AllLeadingVariable(const ModelSignature& signature) {
  auto leading = [](const TensorSpec& spec) {
    return !spec.unknown_rank && !spec.shape.empty() && spec.shape[0] == -1;
  };
  return !signature.inputs.empty() && !signature.outputs.empty() &&
         std::all_of(signature.inputs.begin(), signature.inputs.end(), leading) &&
         std::all_of(signature.outputs.begin(), signature.outputs.end(), leading);
}

Status CheckTensors(const std::vector<TritonTensorConfig>& configured, const std::vector<TensorSpec>& model,
                    const char* kind, int32_t max_batch_size) {
  for (const TritonTensorConfig& tensor : configured) {
    auto it =
        std::find_if(model.begin(), model.end(), [&](const TensorSpec& spec) { return spec.name == tensor.name; });
    if (it == model.end()) {
      return InvalidArgument(std::string("unexpected ") + kind + " '" + tensor.name + "': the model has no such " +
                             kind);
    }
    if (it->dtype != tensor.dtype) {
      return InvalidArgument(std::string(kind) + " '" + tensor.name + "' has data_type " +
                             TritonTypeName(tensor.dtype) + " in the config but " + TritonTypeName(it->dtype) +
                             " in the model");
    }
    std::vector<int64_t> expected = tensor.reshape ? *tensor.reshape : tensor.dims;
    if (max_batch_size > 0) expected.insert(expected.begin(), -1);
    if (!it->unknown_rank && !Compatible(expected, it->shape)) {
      return InvalidArgument(std::string(kind) + " '" + tensor.name + "' has " +
                             (tensor.reshape ? "reshape " : "dims ") + DimsText(expected) +
                             (max_batch_size > 0 ? " (with the batch dim)" : "") + " in the config but " +
                             ShapeToString(it->shape) + " in the model");
    }
    if (tensor.reshape) {
      int64_t a = 1;
      int64_t b = 1;
      for (int64_t d : tensor.dims) a *= d;
      for (int64_t d : *tensor.reshape) b *= d;
      const bool variable = std::find(tensor.dims.begin(), tensor.dims.end(), -1) != tensor.dims.end() ||
                            std::find(tensor.reshape->begin(), tensor.reshape->end(), -1) != tensor.reshape->end();
      if (!variable && a != b) {
        return InvalidArgument(std::string(kind) + " '" + tensor.name + "': reshape " + DimsText(*tensor.reshape) +
                               " does not have the element count of dims " + DimsText(tensor.dims));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

TritonModelConfig AutoCompleteTritonConfig(std::string_view model_name, std::string_view platform,
                                           const ModelSignature& signature, int32_t default_max_batch_size) {
  TritonModelConfig config;
  config.name = std::string(model_name);
  if (platform == "tensorflow") {
    config.platform = "tensorflow_savedmodel";
    config.backend = "tensorflow";
  } else {
    config.platform = "onnxruntime_onnx";
    config.backend = "onnxruntime";
  }
  const bool batching = default_max_batch_size > 0 && AllLeadingVariable(signature);
  config.max_batch_size = batching ? default_max_batch_size : 0;
  config.inputs = FromSpecs(signature.inputs, batching);
  config.outputs = FromSpecs(signature.outputs, batching);
  config.instance_groups.push_back({.name = config.name, .count = 1, .kind = "KIND_CPU"});
  return config;
}

StatusOr<TritonModelConfig> CheckTritonConfigAgainstModel(TritonModelConfig config, const ModelSignature& signature) {
  const std::string prefix = "model '" + config.name + "': ";
  if (config.max_batch_size > 0) {
    auto variable = [](const TensorSpec& spec) {
      return spec.unknown_rank || (!spec.shape.empty() && spec.shape[0] == -1);
    };
    for (const auto* list : {&signature.inputs, &signature.outputs}) {
      for (const TensorSpec& spec : *list) {
        if (!variable(spec)) {
          return InvalidArgument(prefix + "max_batch_size " + std::to_string(config.max_batch_size) +
                                 " needs a variable first dim on every input and output, but '" + spec.name +
                                 "' has shape " + ShapeToString(spec.shape) + " (set max_batch_size: 0)");
        }
      }
    }
  }
  const bool batching = config.max_batch_size > 0;
  if (config.inputs.empty()) config.inputs = FromSpecs(signature.inputs, batching);
  if (config.outputs.empty()) config.outputs = FromSpecs(signature.outputs, batching);
  Status inputs = CheckTensors(config.inputs, signature.inputs, "input", config.max_batch_size);
  if (!inputs.ok()) return InvalidArgument(prefix + std::string(inputs.message()));
  Status outputs = CheckTensors(config.outputs, signature.outputs, "output", config.max_batch_size);
  if (!outputs.ok()) return InvalidArgument(prefix + std::string(outputs.message()));
  for (const TensorSpec& spec : signature.inputs) {
    bool listed = std::any_of(config.inputs.begin(), config.inputs.end(),
                              [&](const TritonTensorConfig& tensor) { return tensor.name == spec.name; });
    if (!listed) {
      return InvalidArgument(prefix + "the model's input '" + spec.name + "' is missing from the config");
    }
  }
  if (config.instance_groups.empty()) {
    config.instance_groups.push_back({.name = config.name, .count = 1, .kind = "KIND_CPU"});
  }
  return config;
}

ModelSignature TritonSignature(const TritonModelConfig& config) {
  ModelSignature signature;
  auto convert = [&config](const TritonTensorConfig& tensor) {
    TensorSpec spec;
    spec.name = tensor.name;
    spec.dtype = tensor.dtype;
    if (config.max_batch_size > 0) spec.shape.push_back(-1);
    spec.shape.insert(spec.shape.end(), tensor.dims.begin(), tensor.dims.end());
    return spec;
  };
  for (const TritonTensorConfig& tensor : config.inputs) signature.inputs.push_back(convert(tensor));
  for (const TritonTensorConfig& tensor : config.outputs) signature.outputs.push_back(convert(tensor));
  return signature;
}

StatusOr<std::map<std::string, std::vector<std::string>>> ReadTritonLabels(const TritonModelConfig& config,
                                                                           const std::string& model_dir) {
  // A label file is a short list; one over this size is not one.
  constexpr std::streamsize kMaxLabelFileBytes = 64 << 20;
  std::map<std::string, std::vector<std::string>> labels;
  for (const TritonTensorConfig& output : config.outputs) {
    if (output.label_filename.empty()) continue;
    const std::string path = model_dir + "/" + output.label_filename;
    std::ifstream file(path);
    if (!file) {
      return InvalidArgument("model '" + config.name + "': cannot read label file '" + output.label_filename + "'");
    }
    std::vector<std::string>& lines = labels[output.name];
    std::string line;
    std::streamsize total = 0;
    while (std::getline(file, line)) {
      total += static_cast<std::streamsize>(line.size()) + 1;
      if (total > kMaxLabelFileBytes) {
        return InvalidArgument("model '" + config.name + "': label file '" + output.label_filename + "' is too large");
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
    }
  }
  return labels;
}

}  // namespace serval

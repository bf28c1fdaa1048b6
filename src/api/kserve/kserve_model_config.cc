#include "api/kserve/kserve_model_config.h"

#include "api/json/json_writer.h"
#include "api/kserve/kserve_classification.h"

namespace serval {
namespace {

void WriteDims(JsonOut& out, const std::vector<int64_t>& dims) {
  out.Append('[');
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i != 0) out.Append(',');
    WriteJsonInt(out, dims[i]);
  }
  out.Append(']');
}

void WriteTensors(JsonOut& out, const std::vector<TritonTensorConfig>& tensors, bool inputs) {
  out.Append('[');
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TritonTensorConfig& tensor = tensors[i];
    if (i != 0) out.Append(',');
    out.Append("{\"name\":");
    WriteJsonString(out, tensor.name);
    out.Append(",\"data_type\":");
    WriteJsonString(out, TritonTypeName(tensor.dtype));
    if (inputs) out.Append(",\"format\":\"FORMAT_NONE\"");
    out.Append(",\"dims\":");
    WriteDims(out, tensor.dims);
    if (tensor.reshape) {
      out.Append(",\"reshape\":{\"shape\":");
      WriteDims(out, *tensor.reshape);
      out.Append('}');
    }
    if (inputs) {
      out.Append(",\"is_shape_tensor\":false,\"allow_ragged_batch\":false,\"optional\":");
      out.Append(tensor.optional ? "true" : "false");
    } else {
      out.Append(",\"label_filename\":");
      WriteJsonString(out, tensor.label_filename);
      out.Append(",\"is_shape_tensor\":false");
    }
    out.Append('}');
  }
  out.Append(']');
}

void WritePolicy(JsonOut& out, const VersionPolicy& policy) {
  switch (policy.kind) {
    case VersionPolicy::Kind::kLatest:
      out.Append("{\"latest\":{\"num_versions\":");
      WriteJsonUint(out, policy.latest_count);
      out.Append("}}");
      return;
    case VersionPolicy::Kind::kAll:
      out.Append("{\"all\":{}}");
      return;
    case VersionPolicy::Kind::kSpecific:
      out.Append("{\"specific\":{\"versions\":");
      WriteDims(out, policy.specific);
      out.Append("}}");
      return;
  }
}

inference::DataType ProtoType(DataType type) {
  inference::DataType out = inference::TYPE_INVALID;
  inference::DataType_Parse(TritonTypeName(type), &out);
  return out;
}

}  // namespace

std::string EncodeTritonModelConfigJson(const TritonModelConfig& config) {
  std::string text;
  JsonOut out(&text);
  out.Append("{\"name\":");
  WriteJsonString(out, config.name);
  out.Append(",\"platform\":");
  WriteJsonString(out, config.platform);
  out.Append(",\"backend\":");
  WriteJsonString(out, config.backend);
  out.Append(",\"version_policy\":");
  WritePolicy(out, config.version_policy);
  out.Append(",\"max_batch_size\":");
  WriteJsonInt(out, config.max_batch_size);
  out.Append(",\"input\":");
  WriteTensors(out, config.inputs, true);
  out.Append(",\"output\":");
  WriteTensors(out, config.outputs, false);
  out.Append(",\"batch_input\":[],\"batch_output\":[]");
  if (config.dynamic_batching) {
    out.Append(",\"dynamic_batching\":{\"preferred_batch_size\":");
    WriteDims(out, std::vector<int64_t>(config.preferred_batch_sizes.begin(), config.preferred_batch_sizes.end()));
    out.Append(",\"max_queue_delay_microseconds\":");
    WriteJsonUint(out, config.max_queue_delay_microseconds);
    out.Append(",\"preserve_ordering\":false,\"priority_levels\":0,\"default_priority_level\":0}");
  }
  out.Append(",\"optimization\":{\"graph\":{\"level\":");
  WriteJsonInt(out, config.graph_optimization_level);
  out.Append("}}");
  out.Append(",\"instance_group\":[");
  for (size_t i = 0; i < config.instance_groups.size(); ++i) {
    const TritonInstanceGroup& group = config.instance_groups[i];
    if (i != 0) out.Append(',');
    out.Append("{\"name\":");
    WriteJsonString(out, group.name.empty() ? config.name : group.name);
    out.Append(",\"kind\":");
    WriteJsonString(out, group.kind);
    out.Append(",\"count\":");
    WriteJsonInt(out, group.count);
    out.Append(",\"gpus\":[],\"passive\":false}");
  }
  out.Append("],\"default_model_filename\":");
  WriteJsonString(out, config.platform == "tensorflow_savedmodel" ? "model.savedmodel" : "model.onnx");
  out.Append(",\"parameters\":{");
  bool first = true;
  for (const auto& [key, value] : config.parameters) {
    if (!first) out.Append(',');
    first = false;
    WriteJsonString(out, key);
    out.Append(":{\"string_value\":");
    WriteJsonString(out, value);
    out.Append('}');
  }
  out.Append("},\"model_warmup\":[");
  for (size_t i = 0; i < config.warmups.size(); ++i) {
    const TritonWarmup& warmup = config.warmups[i];
    if (i != 0) out.Append(',');
    out.Append("{\"name\":");
    WriteJsonString(out, warmup.name);
    out.Append(",\"batch_size\":");
    WriteJsonUint(out, warmup.batch_size);
    out.Append(",\"inputs\":{");
    for (size_t j = 0; j < warmup.inputs.size(); ++j) {
      const TritonWarmupInput& input = warmup.inputs[j];
      if (j != 0) out.Append(',');
      WriteJsonString(out, input.name);
      out.Append(":{\"data_type\":");
      WriteJsonString(out, TritonTypeName(input.dtype));
      out.Append(",\"dims\":");
      WriteDims(out, input.dims);
      switch (input.data) {
        case TritonWarmupInput::Data::kZero:
          out.Append(",\"zero_data\":true}");
          break;
        case TritonWarmupInput::Data::kRandom:
          out.Append(",\"random_data\":true}");
          break;
        case TritonWarmupInput::Data::kFile:
          out.Append(",\"input_data_file\":");
          WriteJsonString(out, input.file);
          out.Append('}');
          break;
      }
    }
    out.Append("},\"count\":");
    WriteJsonUint(out, warmup.count);
    out.Append('}');
  }
  out.Append("]}");
  out.Flush();
  return text;
}

inference::ModelConfig TritonModelConfigProto(const TritonModelConfig& config) {
  inference::ModelConfig out;
  out.set_name(config.name);
  out.set_platform(config.platform);
  out.set_backend(config.backend);
  out.set_max_batch_size(config.max_batch_size);
  switch (config.version_policy.kind) {
    case VersionPolicy::Kind::kLatest:
      out.mutable_version_policy()->mutable_latest()->set_num_versions(config.version_policy.latest_count);
      break;
    case VersionPolicy::Kind::kAll:
      out.mutable_version_policy()->mutable_all();
      break;
    case VersionPolicy::Kind::kSpecific:
      out.mutable_version_policy()->mutable_specific()->mutable_versions()->Add(config.version_policy.specific.begin(),
                                                                                config.version_policy.specific.end());
      break;
  }
  for (const TritonTensorConfig& tensor : config.inputs) {
    inference::ModelInput* input = out.add_input();
    input->set_name(tensor.name);
    input->set_data_type(ProtoType(tensor.dtype));
    input->mutable_dims()->Add(tensor.dims.begin(), tensor.dims.end());
    if (tensor.reshape) input->mutable_reshape()->mutable_shape()->Add(tensor.reshape->begin(), tensor.reshape->end());
    input->set_optional(tensor.optional);
  }
  for (const TritonTensorConfig& tensor : config.outputs) {
    inference::ModelOutput* output = out.add_output();
    output->set_name(tensor.name);
    output->set_data_type(ProtoType(tensor.dtype));
    output->mutable_dims()->Add(tensor.dims.begin(), tensor.dims.end());
    if (tensor.reshape) output->mutable_reshape()->mutable_shape()->Add(tensor.reshape->begin(), tensor.reshape->end());
    output->set_label_filename(tensor.label_filename);
  }
  if (config.dynamic_batching) {
    inference::ModelDynamicBatching* batching = out.mutable_dynamic_batching();
    batching->mutable_preferred_batch_size()->Add(config.preferred_batch_sizes.begin(),
                                                  config.preferred_batch_sizes.end());
    batching->set_max_queue_delay_microseconds(config.max_queue_delay_microseconds);
  }
  for (const TritonInstanceGroup& group : config.instance_groups) {
    inference::ModelInstanceGroup* g = out.add_instance_group();
    g->set_name(group.name.empty() ? config.name : group.name);
    g->set_count(group.count);
    inference::ModelInstanceGroup::Kind kind = inference::ModelInstanceGroup::KIND_CPU;
    inference::ModelInstanceGroup::Kind_Parse(group.kind, &kind);
    g->set_kind(kind);
  }
  out.set_default_model_filename(config.platform == "tensorflow_savedmodel" ? "model.savedmodel" : "model.onnx");
  for (const auto& [key, value] : config.parameters) (*out.mutable_parameters())[key].set_string_value(value);
  if (config.graph_optimization_level != 0) {
    out.mutable_optimization()->mutable_graph()->set_level(config.graph_optimization_level);
  }
  for (const TritonWarmup& warmup : config.warmups) {
    inference::ModelWarmup* w = out.add_model_warmup();
    w->set_name(warmup.name);
    w->set_batch_size(warmup.batch_size);
    w->set_count(warmup.count);
    for (const TritonWarmupInput& input : warmup.inputs) {
      inference::ModelWarmup::Input& in = (*w->mutable_inputs())[input.name];
      in.set_data_type(ProtoType(input.dtype));
      in.mutable_dims()->Add(input.dims.begin(), input.dims.end());
      switch (input.data) {
        case TritonWarmupInput::Data::kZero:
          in.set_zero_data(true);
          break;
        case TritonWarmupInput::Data::kRandom:
          in.set_random_data(true);
          break;
        case TritonWarmupInput::Data::kFile:
          in.set_input_data_file(input.file);
          break;
      }
    }
  }
  return out;
}

Status ApplyKServeClassification(const ServableHandle& handle, const std::vector<KServeClassification>& requests,
                                 InferenceResponse* response) {
  if (requests.empty()) return Status::Ok();
  const TritonModelInfo* triton = handle.triton();
  const bool batched =
      triton != nullptr ? triton->config.max_batch_size > 0 : KServeHasBatchDimension(handle.signature());
  return ClassifyOutputs(requests, batched, triton != nullptr ? &triton->labels : nullptr, response);
}

}  // namespace serval

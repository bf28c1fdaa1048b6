#include "engine/signature_graphs.h"

#include <algorithm>
#include <set>
#include <utility>

namespace serval {
namespace {

std::string Quote(std::string_view name) { return "'" + std::string(name.substr(0, 256)) + "'"; }

// One signature ready to run: its spec, its graph, and where each alias goes.
struct BoundSignature {
  GraphSignatureSpec spec;
  const ModelSession* graph = nullptr;
  int parse_input = -1;  // index into spec.def.io.inputs of the serialized tf.Example input, or -1
};

Status CheckTensor(const std::string& signature, const char* what, const std::string& alias,
                   const std::string& graph_name, DataType dtype, const TensorSpec* graph_spec) {
  if (graph_spec == nullptr) {
    return FailedPrecondition("signature " + Quote(signature) + ": " + what + " " + Quote(alias) + " names graph " +
                              what + " " + Quote(graph_name) + ", which the graph does not have");
  }
  if (graph_spec->dtype != dtype) {
    return FailedPrecondition("signature " + Quote(signature) + ": " + what + " " + Quote(alias) + " is " +
                              std::string(KServeName(dtype)) + " but graph " + what + " " + Quote(graph_name) + " is " +
                              std::string(KServeName(graph_spec->dtype)));
  }
  return Status::Ok();
}

// Checks `spec` against `graph` (see MakeSignatureGraphsSession) and finds its tf.Example input.
StatusOr<BoundSignature> Bind(GraphSignatureSpec spec, const ModelSession& graph) {
  const std::string& name = spec.def.name;
  const ModelSignature& io = spec.def.io;
  const ModelSignature& graph_io = graph.signature();
  if (spec.input_graph_names.size() != io.inputs.size() || spec.output_graph_names.size() != io.outputs.size()) {
    return Internal("signature " + Quote(name) + ": alias and graph name lists differ in length");
  }
  BoundSignature bound;
  std::set<std::string> fed;
  auto feed = [&](const std::string& graph_name, const std::string& by) -> Status {
    if (!fed.insert(graph_name).second) {
      return FailedPrecondition("signature " + Quote(name) + ": graph input " + Quote(graph_name) +
                                " is fed twice (again by " + Quote(by) + ")");
    }
    return Status::Ok();
  };
  if (spec.parse_example && io.FindInput(spec.parse_example->input) == nullptr) {
    return FailedPrecondition("signature " + Quote(name) + ": its tf.Example spec names input " +
                              Quote(spec.parse_example->input) + ", which the signature does not have");
  }
  for (size_t i = 0; i < io.inputs.size(); ++i) {
    const TensorSpec& alias = io.inputs[i];
    const std::string& graph_name = spec.input_graph_names[i];
    if (spec.parse_example && alias.name == spec.parse_example->input) {
      if (alias.dtype != DataType::kString) {
        return FailedPrecondition("signature " + Quote(name) + ": tf.Example input " + Quote(alias.name) +
                                  " must be DT_STRING");
      }
      bound.parse_input = static_cast<int>(i);
      continue;
    }
    SERVAL_RETURN_IF_ERROR(
        CheckTensor(name, "input", alias.name, graph_name, alias.dtype, graph_io.FindInput(graph_name)));
    SERVAL_RETURN_IF_ERROR(feed(graph_name, alias.name));
  }
  if (spec.parse_example) {
    for (const ExampleFeatureSpec& feature : spec.parse_example->features) {
      SERVAL_RETURN_IF_ERROR(CheckTensor(name, "input", feature.key, feature.values_name, feature.dtype,
                                         graph_io.FindInput(feature.values_name)));
      SERVAL_RETURN_IF_ERROR(feed(feature.values_name, feature.key));
      if (feature.kind == ExampleFeatureSpec::Kind::kVarLen) {
        for (const std::string* extra : {&feature.indices_name, &feature.dense_shape_name}) {
          SERVAL_RETURN_IF_ERROR(
              CheckTensor(name, "input", feature.key, *extra, DataType::kInt64, graph_io.FindInput(*extra)));
          SERVAL_RETURN_IF_ERROR(feed(*extra, feature.key));
        }
      }
    }
  }
  for (const TensorSpec& input : graph_io.inputs) {
    if (fed.count(input.name) == 0) {
      return FailedPrecondition("signature " + Quote(name) + ": graph input " + Quote(input.name) +
                                " is fed by no input of the signature");
    }
  }
  for (size_t i = 0; i < io.outputs.size(); ++i) {
    SERVAL_RETURN_IF_ERROR(CheckTensor(name, "output", io.outputs[i].name, spec.output_graph_names[i],
                                       io.outputs[i].dtype, graph_io.FindOutput(spec.output_graph_names[i])));
  }
  bound.spec = std::move(spec);
  bound.graph = &graph;
  return bound;
}

class SignatureGraphsSession final : public ModelSession {
 public:
  SignatureGraphsSession(std::vector<BoundSignature> signatures,
                         std::map<std::string, std::unique_ptr<ModelSession>> graphs, ExampleParser parser)
      : signatures_(std::move(signatures)), graphs_(std::move(graphs)), parser_(std::move(parser)) {
    std::sort(signatures_.begin(), signatures_.end(),
              [](const BoundSignature& a, const BoundSignature& b) { return a.spec.def.name < b.spec.def.name; });
    defs_.reserve(signatures_.size());
    for (const BoundSignature& bound : signatures_) {
      defs_.push_back(bound.spec.def);
      if (bound.spec.def.name == kDefaultSignatureName) default_ = bound.spec.def.io;
    }
    provider_ = graphs_.begin()->second->execution_provider();
  }

  const ModelSignature& signature() const override { return default_; }
  const std::string& execution_provider() const override { return provider_; }
  const std::vector<SignatureDef>& signature_defs() const override { return defs_; }

  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext& context,
             std::vector<Tensor>* outputs) const override {
    return RunSignature(kDefaultSignatureName, inputs, output_names, context, outputs);
  }

  Status RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                      const std::vector<std::string>& output_names, const RunContext& context,
                      std::vector<Tensor>* outputs) const override {
    const BoundSignature* bound = Find(signature_name);
    if (bound == nullptr) return ModelSession::RunSignature(signature_name, inputs, output_names, context, outputs);
    const GraphSignatureSpec& spec = bound->spec;
    const ModelSignature& io = spec.def.io;

    InferenceRequest graph_request;  // the same run in the graph's own names
    graph_request.inputs.reserve(inputs.size());
    for (const Tensor& input : inputs) {
      const TensorSpec* alias = io.FindInput(input.name());
      if (alias == nullptr) return InvalidArgument("unknown input " + Quote(input.name()));
      const auto index = static_cast<size_t>(alias - io.inputs.data());
      if (static_cast<int>(index) == bound->parse_input) {
        if (!parser_) {
          return FailedPrecondition("signature " + Quote(spec.def.name) +
                                    " takes serialized tf.Examples and this server cannot parse them");
        }
        if (input.dtype() != DataType::kString) {
          return InvalidArgument("input " + Quote(input.name()) + " must be DT_STRING (serialized tf.Examples)");
        }
        StatusOr<std::vector<Tensor>> parsed = parser_(*spec.parse_example, input);
        if (!parsed.ok()) return parsed.status();
        for (Tensor& tensor : *parsed) graph_request.inputs.push_back(std::move(tensor));
        continue;
      }
      Tensor renamed = input;  // shares the payload
      renamed.set_name(spec.input_graph_names[index]);
      graph_request.inputs.push_back(std::move(renamed));
    }
    std::vector<size_t> wanted;  // output indices into io.outputs, in the order returned
    if (output_names.empty()) {
      for (size_t i = 0; i < io.outputs.size(); ++i) wanted.push_back(i);
    } else {
      for (const std::string& name : output_names) {
        const TensorSpec* alias = io.FindOutput(name);
        if (alias == nullptr) return InvalidArgument("unknown output " + Quote(name));
        wanted.push_back(static_cast<size_t>(alias - io.outputs.data()));
      }
    }
    for (size_t index : wanted) graph_request.outputs.push_back(spec.output_graph_names[index]);
    // The graph's own declaration is the one that keeps its run memory-safe (and it may be stricter than
    // what the signature file says).
    SERVAL_RETURN_IF_ERROR(ValidateRequest(bound->graph->signature(), graph_request));
    SERVAL_RETURN_IF_ERROR(bound->graph->Run(graph_request.inputs, graph_request.outputs, context, outputs));
    if (outputs->size() != wanted.size()) return Internal("the graph returned another number of outputs");
    for (size_t i = 0; i < wanted.size(); ++i) (*outputs)[i].set_name(io.outputs[wanted[i]].name);
    return Status::Ok();
  }

 private:
  const BoundSignature* Find(std::string_view name) const {
    auto it = std::lower_bound(signatures_.begin(), signatures_.end(), name,
                               [](const BoundSignature& a, std::string_view key) { return a.spec.def.name < key; });
    return it != signatures_.end() && it->spec.def.name == name ? &*it : nullptr;
  }

  std::vector<BoundSignature> signatures_;  // by name
  std::map<std::string, std::unique_ptr<ModelSession>> graphs_;
  ExampleParser parser_;
  std::vector<SignatureDef> defs_;
  ModelSignature default_;
  std::string provider_;
};

}  // namespace

StatusOr<std::unique_ptr<ModelSession>> MakeSignatureGraphsSession(
    std::vector<GraphSignatureSpec> specs, std::map<std::string, std::unique_ptr<ModelSession>> graphs,
    ExampleParser parser) {
  if (specs.empty()) return FailedPrecondition("no signature to serve");
  std::vector<BoundSignature> bound;
  bound.reserve(specs.size());
  std::set<std::string> names;
  for (GraphSignatureSpec& spec : specs) {
    if (!names.insert(spec.def.name).second) {
      return FailedPrecondition("signature " + Quote(spec.def.name) + " is given twice");
    }
    auto graph = graphs.find(spec.graph);
    if (graph == graphs.end() || graph->second == nullptr) {
      return FailedPrecondition("signature " + Quote(spec.def.name) + ": its graph " + Quote(spec.graph) +
                                " is not loaded");
    }
    StatusOr<BoundSignature> one = Bind(std::move(spec), *graph->second);
    if (!one.ok()) return one.status();
    bound.push_back(std::move(one).value());
  }
  return std::unique_ptr<ModelSession>(
      std::make_unique<SignatureGraphsSession>(std::move(bound), std::move(graphs), std::move(parser)));
}

}  // namespace serval

// A model version converted from a SavedModel into one ONNX graph per signature (signatures.json,
// docs/signature-file.md), served as one ModelSession with every signature: signature_defs() lists them by
// name with their method names and aliases, RunSignature runs the signature's graph after mapping each alias
// to the graph's own tensor name. A tf.Example signature whose graph was cut after ParseExample takes its
// serialized examples under the signature's string input; the session parses them with the ExampleParser
// into the graph's feature inputs and runs the graph on those.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/example_spec.h"
#include "core/inference.h"
#include "core/status.h"
#include "engine/engine.h"

namespace serval {

// One signature and the graph that runs it.
struct GraphSignatureSpec {
  SignatureDef def;   // name, method name, inputs and outputs by alias (tensor_name: the TF graph tensor)
  std::string graph;  // key of the graph session that runs it (the graph file's path)
  // Parallel to def.io.inputs / def.io.outputs: the graph tensor behind each alias. Empty for the input
  // that `parse_example` describes (it feeds the parsed features instead).
  std::vector<std::string> input_graph_names;
  std::vector<std::string> output_graph_names;
  std::optional<ExampleParseSpec> parse_example;
};

// Builds the session. `graphs` holds one loaded session per distinct GraphSignatureSpec::graph; a graph may
// serve several signatures. Checks every signature against its graph before anything runs, so that a
// signature file that does not describe its graphs fails the load instead of a request: each graph tensor
// named must exist with the alias's dtype (a parsed feature's: its dtype; var_len indices and dense_shape:
// int64), every graph input must be fed exactly once, and the tf.Example input must be DT_STRING.
// FAILED_PRECONDITION naming the signature and tensor otherwise, or when there is no signature at all.
// `parser` may be empty: then a tf.Example signature fails at run time with FAILED_PRECONDITION.
//
// signature() and Run() are the "serving_default" signature's (no such signature: no inputs, and Run fails);
// execution_provider() is the first graph's.
StatusOr<std::unique_ptr<ModelSession>> MakeSignatureGraphsSession(
    std::vector<GraphSignatureSpec> specs, std::map<std::string, std::unique_ptr<ModelSession>> graphs,
    ExampleParser parser);

}  // namespace serval

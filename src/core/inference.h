// The protocol-neutral vocabulary of one inference: what a codec decodes a request into and what it
// encodes a response from. Codecs are the only code that knows a wire format.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/run_context.h"
#include "core/shape.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

// One input or output as the model declares it; -1 in `shape` marks a variable dimension.
struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kInvalid;
  Shape shape;
};

// A model's inputs and outputs, in the model's order.
struct ModelSignature {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;

  // nullptr when there is no such name.
  const TensorSpec* FindInput(std::string_view name) const;
  const TensorSpec* FindOutput(std::string_view name) const;
};

// Which version a request asks for: the newest available (neither set), a number, or a label.
struct VersionSelector {
  std::optional<int64_t> number;
  std::string label;  // non-empty: a version label such as "stable"
};

struct InferenceRequest {
  std::string model_name;
  VersionSelector version;
  std::string id;                    // echoed in the response (KServe `id`)
  std::vector<Tensor> inputs;        // each named after a signature input
  std::vector<std::string> outputs;  // wanted outputs; empty = all, in signature order
  Deadline deadline = kNoDeadline;
  // Set by the api layer when it can tell that the client went away (see RunContext::client_gone).
  std::function<bool()> client_gone;

  // The deadline and probe as the scheduler and engine take them.
  RunContext context() const { return RunContext{deadline, client_gone}; }
};

struct InferenceResponse {
  std::string model_name;
  int64_t model_version = 0;
  std::string id;
  std::vector<Tensor> outputs;  // in the order requested (or signature order)
};

// Checks a decoded request against a signature before the engine sees it: every input known and given
// once, every signature input present, dtypes equal, ranks and fixed dims match, element counts agree
// with the payload, requested outputs known and not repeated. Errors are INVALID_ARGUMENT and name the tensor.
Status ValidateRequest(const ModelSignature& signature, const InferenceRequest& request);

}  // namespace serval

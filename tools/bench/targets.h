// What serval-bench talks to. A Target holds everything prepared once before the run (request bytes,
// protobuf messages, the reference outputs); each worker thread gets its own Client with its own
// connection. Client::Call sends one request and waits for its answer.
//
// Kinds:
//   tfs-rest            POST /v1/models/<m>:predict, columnar JSON ("inputs": {...})
//   tfs-grpc            tensorflow.serving.PredictionService/Predict, tensor_content
//   kserve-rest         POST /v2/models/<m>/infer, JSON "data"
//   kserve-rest-binary  the same with Triton's binary tensor data extension for inputs and outputs
//   kserve-grpc         inference.GRPCInferenceService/ModelInfer, raw_input_contents
//   inprocess           ModelSession::Run on this process's engine: the denominator of every ratio
//   http-get            GET <path> (a static file from nginx: the HTTP transport floor)
//   grpc-echo           serval.bench.Echo/Echo (serval-grpc-echo: the gRPC transport floor)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine.h"
#include "workload.h"

namespace serval::bench {

// All target kinds, in the order above.
const std::vector<std::string>& TargetKinds();
// True for kinds that run a model (all but http-get and grpc-echo).
bool IsModelTarget(const std::string& kind);

struct TargetConfig {
  std::string kind;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string model_name;
  std::string http_path = "/";  // http-get
  int64_t payload_bytes = 64;   // grpc-echo
  // Re-encode the request body / message for every request, so the client's encoding cost is part of the
  // measurement (as it is for a real client). Default off: bodies are built once.
  bool encode_per_request = false;
  // Model targets: the inputs to send and the reference outputs (signature order); inprocess: the session.
  std::vector<Tensor> inputs;
  std::vector<ExpectedOutput> expected;
  std::shared_ptr<const ModelSession> session;
};

class Client {
 public:
  virtual ~Client() = default;
  // One request/response. `check` = compare the outputs with the references (INTERNAL "wrong answer" on a
  // mismatch). Errors: the transport's or the server's error, as a Status with its message.
  virtual Status Call(bool check) = 0;
};

class Target {
 public:
  virtual ~Target() = default;
  // A new client for worker `index`, connected (each worker gets its own connection/channel).
  virtual StatusOr<std::unique_ptr<Client>> NewClient(int index) = 0;
};

// Prepares a target: encodes request bodies once. INVALID_ARGUMENT for an unknown kind or a config that
// lacks what the kind needs.
StatusOr<std::unique_ptr<Target>> MakeTarget(TargetConfig config);

// Encoders, exposed for tests. JSON numbers are shortest round-trip text (std::to_chars).
std::string TfsRestBody(const std::vector<Tensor>& inputs);
std::string KServeJsonBody(const std::vector<Tensor>& inputs);
// Sets *header_length to the JSON header's size (the Inference-Header-Content-Length value).
std::string KServeBinaryBody(const std::vector<Tensor>& inputs, const std::vector<ExpectedOutput>& outputs,
                             size_t* header_length);

// Response checkers, exposed for tests: OK when every expected output is present and matches.
Status CheckTfsRestResponse(std::string_view body, const std::vector<ExpectedOutput>& expected);
Status CheckKServeRestResponse(std::string_view body, int64_t header_length,
                               const std::vector<ExpectedOutput>& expected);

}  // namespace serval::bench

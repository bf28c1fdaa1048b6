// FakeModelSession: a ModelSession for the repository layer's tests — signature x FP32[-1] → y FP32[-1],
// Run echoes x as y. Keeps lifecycle tests independent of ONNX Runtime. Test-only.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace serval {

class FakeModelSession : public ModelSession {
 public:
  FakeModelSession() {
    signature_.inputs = {{"x", DataType::kFp32, {-1}}};
    signature_.outputs = {{"y", DataType::kFp32, {-1}}};
  }
  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return provider_; }
  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>&, const RunContext&,
             std::vector<Tensor>* outputs) const override {
    outputs->push_back(inputs[0]);
    outputs->back().set_name("y");
    return Status::Ok();
  }

 private:
  ModelSignature signature_;
  std::string provider_ = "fake";
};

// An engine whose "models" are text files: "ok" loads (a FakeModelSession), anything else fails. Keeps
// lifecycle tests about the manager's rules, independent of ONNX Runtime. Test-only.
class FakeEngine : public Engine {
 public:
  StatusOr<std::unique_ptr<ModelSession>> Load(const std::string& path) const override {
    std::ifstream file(path);
    std::string text;
    file >> text;
    if (text != "ok") return InvalidArgument("cannot load '" + path + "': not a model");
    return std::unique_ptr<ModelSession>(std::make_unique<FakeModelSession>());
  }
  const EngineOptions& options() const override { return options_; }
  std::string runtime_version() const override { return "fake"; }
  int intra_op_threads() const override { return 1; }

 private:
  EngineOptions options_;
};

}  // namespace serval

// FakeModelSession: a ModelSession for the repository layer's tests — signature x FP32[-1] → y FP32[-1],
// Run echoes x as y. Keeps lifecycle tests independent of ONNX Runtime. Test-only.
#pragma once

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

}  // namespace serval

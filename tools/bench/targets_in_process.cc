// serval-bench's inprocess target: ModelSession::Run in this process, the denominator of every ratio.
#include "targets_internal.h"

namespace serval::bench {

namespace {

// ---- in process ---------------------------------------------------------------------------------------

class InProcessClient final : public Client {
 public:
  explicit InProcessClient(const TargetConfig& config) : config_(config) {}
  Status Call(bool check) override {
    SERVAL_RETURN_IF_ERROR(config_.session->Run(config_.inputs, {}, &outputs_));
    if (!check) return Status::Ok();
    if (outputs_.size() != config_.expected.size()) return Internal("wrong answer: output count differs");
    for (size_t i = 0; i < outputs_.size(); ++i) {
      auto values = ToDoubles(outputs_[i].dtype(), outputs_[i].bytes());
      if (!values.ok()) return values.status();
      SERVAL_RETURN_IF_ERROR(CheckValues(config_.expected[i], *values));
    }
    return Status::Ok();
  }

 private:
  const TargetConfig& config_;
  std::vector<Tensor> outputs_;
};

class InProcessTarget final : public Target {
 public:
  explicit InProcessTarget(TargetConfig config) : config_(std::move(config)) {}
  StatusOr<std::unique_ptr<Client>> NewClient(int) override {
    return std::unique_ptr<Client>(std::make_unique<InProcessClient>(config_));
  }

 private:
  TargetConfig config_;
};

}  // namespace

StatusOr<std::unique_ptr<Target>> MakeInProcessTarget(TargetConfig config) {
  const std::string& kind = config.kind;
  if (kind == "inprocess") {
    if (!config.session) return InvalidArgument("inprocess needs a loaded session");
    return std::unique_ptr<Target>(std::make_unique<InProcessTarget>(std::move(config)));
  }
  return InvalidArgument("not an in-process target: " + kind);
}

}  // namespace serval::bench

// The ORT-free parts of engine.h: option parsing.
#include "engine/engine.h"

#include <algorithm>

#include "engine/execution_provider.h"

namespace serval {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

StatusOr<SignatureRef> FindSignature(const ModelSession& session, std::string_view name) {
  if (name.empty()) name = kDefaultSignatureName;
  const std::vector<SignatureDef>& defs = session.signature_defs();
  if (defs.empty()) {
    if (name == kDefaultSignatureName) return SignatureRef{&session.signature(), kPredictMethodName, true};
  } else {
    for (const SignatureDef& def : defs) {
      if (def.name == name) return SignatureRef{&def.io, def.method_name, name == kDefaultSignatureName};
    }
  }
  return FailedPrecondition("Serving signature name: \"" + std::string(name.substr(0, 256)) +
                            "\" not found in signature def");
}

std::vector<SignatureDef> AllSignatures(const ModelSession& session) {
  if (!session.signature_defs().empty()) return session.signature_defs();
  return {SignatureDef{std::string(kDefaultSignatureName), std::string(kPredictMethodName), session.signature()}};
}

Status RunRequest(const ModelSession& session, const InferenceRequest& request, std::vector<Tensor>* outputs) {
  StatusOr<SignatureRef> found = FindSignature(session, request.signature_name);
  if (!found.ok()) return found.status();
  SERVAL_RETURN_IF_ERROR(ValidateRequest(*found->io, request));
  if (found->is_default) return session.Run(request.inputs, request.outputs, request.context(), outputs);
  return session.RunSignature(request.signature_name, request.inputs, request.outputs, request.context(), outputs);
}

Status CheckBeforeRun(const RunContext& context) {
  EngineStats& stats = GlobalEngineStats();
  switch (context.Check()) {
    case CancelReason::kDeadline:
      stats.expired_before_run.fetch_add(1, std::memory_order_relaxed);
      return DeadlineExceeded("deadline exceeded before the model ran");
    case CancelReason::kClientGone:
      stats.client_gone_before_run.fetch_add(1, std::memory_order_relaxed);
      return Cancelled("the client went away before the model ran");
    case CancelReason::kNone:
      break;
  }
  return Status::Ok();
}

EngineStats& GlobalEngineStats() {
  static EngineStats* stats = new EngineStats();  // never destroyed: sessions may outlive static teardown
  return *stats;
}

StatusOr<GraphOptimizationLevel> ParseGraphOptimizationLevel(std::string_view text) {
  if (text == "disable") return GraphOptimizationLevel::kDisable;
  if (text == "basic") return GraphOptimizationLevel::kBasic;
  if (text == "extended") return GraphOptimizationLevel::kExtended;
  if (text == "all") return GraphOptimizationLevel::kAll;
  return InvalidArgument("unknown graph optimization level '" + std::string(text) +
                         "' (expected disable, basic, extended or all)");
}

bool IsKnownExecutionProvider(std::string_view name) {
  return std::find(kExecutionProviderNames.begin(), kExecutionProviderNames.end(), name) !=
         kExecutionProviderNames.end();
}

Status CheckExecutionProviders(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (!IsKnownExecutionProvider(name)) {
      return InvalidArgument("unknown execution provider '" + name +
                             "' (expected cpu, cuda, tensorrt, openvino or dnnl)");
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> ParseExecutionProviders(std::string_view text) {
  std::vector<std::string> names;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view name = Trim(rest.substr(0, comma));
    if (name.empty()) return InvalidArgument("empty execution provider name in '" + std::string(text) + "'");
    names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  SERVAL_RETURN_IF_ERROR(CheckExecutionProviders(names));
  return names;
}

StatusOr<std::unique_ptr<ModelSession>> Engine::LoadWith(const std::string& path,
                                                         const SessionOverrides& overrides) const {
  if (overrides.empty()) return Load(path);
  return Unimplemented("this engine cannot apply per-model session settings (model " + path + ")");
}

}  // namespace serval

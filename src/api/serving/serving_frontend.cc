#include "api/serving/serving_frontend.h"

#include "api/serving/triton_statistics.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "api/tfs/tfs_example_task.h"
#include "core/inline_run.h"
#include "engine/engine_stats.h"

namespace serval {

Deadline DeadlineFromRemaining(std::chrono::nanoseconds remaining) {
  const Deadline now = std::chrono::steady_clock::now();
  if (remaining <= std::chrono::nanoseconds::zero()) return now;
  if (remaining > kNoDeadlineBeyond) return kNoDeadline;
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
}

Deadline DeadlineFromSystemClock(std::chrono::system_clock::time_point deadline) {
  using std::chrono::system_clock;
  if (deadline == system_clock::time_point::max()) return kNoDeadline;
  const system_clock::time_point now = system_clock::now();
  if (deadline <= now) return std::chrono::steady_clock::now();
  // deadline > now, so the difference cannot overflow.
  return DeadlineFromRemaining(std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now));
}

VersionSelector VersionSelectorFromString(std::string_view text) {
  VersionSelector selector;
  if (text.empty()) return selector;
  int64_t number = 0;
  const char* const end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, number);
  if (error == std::errc() && stop == end && text[0] >= '0' && text[0] <= '9') {
    selector.number = number;
  } else {
    selector.label = std::string(text);  // KServe's version is a string: Serval resolves a label there too
  }
  return selector;
}

ServingFrontend::ServingFrontend(const ModelManager& models, ServingFrontendOptions options)
    : models_(models), options_(options) {}

StatusOr<ServableHandle> ServingFrontend::Resolve(const ModelRef& model, RequestTrace* trace) const {
  StatusOr<ServableHandle> handle = models_.Acquire(model.name, model.version);
  if (!handle.ok()) {
    if (model.triton_errors && handle.status().code() == StatusCode::kNotFound) return TritonResolveError(model);
    return handle.status();
  }
  if (trace != nullptr) trace->set_version(handle->model_name(), handle->version());
  return handle;
}

Status ServingFrontend::TritonResolveError(const ModelRef& model) const {
  const std::string prefix = "Request for unknown model: '" + std::string(model.name) + "' ";
  StatusOr<std::vector<VersionStatus>> versions = models_.GetVersionStatus(model.name, {});
  if (!versions.ok()) return InvalidArgument(prefix + "is not found");
  if (!model.version.label.empty()) return NotFound(prefix + "version '" + model.version.label + "' is not found");
  if (model.version.number) {
    const std::string version = "version " + std::to_string(*model.version.number);
    for (const VersionStatus& status : *versions) {
      if (status.version == *model.version.number) return Unavailable(prefix + version + " is not at ready state");
    }
    return NotFound(prefix + version + " is not found");
  }
  return NotFound(prefix + "has no available versions");
}

StatusOr<SignatureRef> ServingFrontend::ResolveSignature(const ServableHandle& handle, std::string_view name) {
  return handle.FindSignature(name);
}

StatusOr<InferenceResponse> ServingFrontend::Infer(const ServableHandle& handle, InferenceRequest request,
                                                   const CallContext& call) const {
  request.model_name = handle.model_name();
  request.version = VersionSelector{handle.version(), {}};
  request.deadline = call.deadline;
  request.client_gone = call.client_gone;
  // On a thread that received the call (core/inline_run.h): run here only when this version is short,
  // unbatched and a slot is free; otherwise stop before anything runs or counts, and the surface hands the
  // whole call to a worker (this status is never answered).
  if (InlineAttempt* attempt = InlineAttempt::Current();
      attempt != nullptr && !attempt->Admit(handle.waits_for_batch(), handle.recent_run_micros())) {
    return Unavailable("handed off to a worker");
  }
  // The request may have waited (a worker queue, a slow decode) since the client asked: one check, with the
  // engines' counters, before anything runs.
  SERVAL_RETURN_IF_ERROR(CheckBeforeRun(request.context()));
  InferenceResponse response;
  const auto started = std::chrono::steady_clock::now();
  SERVAL_RETURN_IF_ERROR(handle.Run(request, &response));
  const auto run_time = std::chrono::steady_clock::now() - started;
  handle.RecordRunTime(run_time);
  // Triton-repository models count their own times; every other model's run is its compute_infer.
  if (options_.metrics != nullptr && handle.triton() == nullptr) {
    options_.metrics->RecordRunTime(handle.model_name(), handle.version(), run_time);
  }
  // The client gave up while the model ran: its answer is not encoded (an output can be far larger than its
  // request, and encoding it would only burn CPU the others need).
  if (CancelReason reason = request.context().Check(); reason != CancelReason::kNone) {
    return CancelStatus(reason, "the call ended while the model ran; the answer was not encoded");
  }
  return response;
}

StatusOr<ExampleTaskResult> ServingFrontend::RunOneTask(const ServableHandle& handle, bool classify,
                                                        std::string_view signature_name, const ExampleBatch& batch,
                                                        const CallContext& call) const {
  SERVAL_ASSIGN_OR_RETURN(ExampleTask task, PlanExampleTask(handle, signature_name, classify));
  SERVAL_ASSIGN_OR_RETURN(InferenceRequest request,
                          BuildExampleRequest(handle.session(), task, batch, task.Outputs(), options_.limits));
  SERVAL_ASSIGN_OR_RETURN(InferenceResponse response, Infer(handle, std::move(request), call));
  const auto rows = static_cast<int64_t>(batch.examples.size());
  ExampleTaskResult result;
  result.model_version = response.model_version;
  if (classify) {
    SERVAL_ASSIGN_OR_RETURN(result.classifications, ReadClassifications(response, task.classify_plan, rows));
  } else {
    SERVAL_ASSIGN_OR_RETURN(result.regressions, ReadRegressions(response, task.regress_output, rows));
  }
  return result;
}

StatusOr<ExampleTaskResult> ServingFrontend::Classify(const ServableHandle& handle, std::string_view signature_name,
                                                      const ExampleBatch& batch, const CallContext& call) const {
  return RunOneTask(handle, /*classify=*/true, signature_name, batch, call);
}

StatusOr<ExampleTaskResult> ServingFrontend::Regress(const ServableHandle& handle, std::string_view signature_name,
                                                     const ExampleBatch& batch, const CallContext& call) const {
  return RunOneTask(handle, /*classify=*/false, signature_name, batch, call);
}

StatusOr<std::vector<ExampleTaskResult>> ServingFrontend::MultiInference(const ServableHandle& handle,
                                                                         const std::vector<ExampleTaskRequest>& tasks,
                                                                         const ExampleBatch& batch,
                                                                         const CallContext& call) const {
  std::vector<ExampleTask> planned;
  planned.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const std::string_view name =
        tasks[i].signature_name.empty() ? kDefaultSignatureName : std::string_view(tasks[i].signature_name);
    for (size_t j = 0; j < i; ++j) {
      if (planned[j].signature_name == name && tasks[j].classify == tasks[i].classify) {
        return InvalidArgument("Duplicate evaluation of signature: " + std::string(name.substr(0, 256)));
      }
    }
    SERVAL_ASSIGN_OR_RETURN(ExampleTask task, PlanExampleTask(handle, name, tasks[i].classify));
    planned.push_back(std::move(task));
  }
  const auto rows = static_cast<int64_t>(batch.examples.size());
  // Tasks on the same signature share one run (their outputs together); each other signature runs once.
  std::vector<std::optional<InferenceResponse>> responses(planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    if (responses[i]) continue;
    std::vector<std::string> outputs;
    for (size_t j = i; j < planned.size(); ++j) {
      if (planned[j].signature_name != planned[i].signature_name) continue;
      for (std::string& name : planned[j].Outputs()) {
        if (!name.empty() && std::find(outputs.begin(), outputs.end(), name) == outputs.end()) outputs.push_back(name);
      }
    }
    SERVAL_ASSIGN_OR_RETURN(InferenceRequest request, BuildExampleRequest(handle.session(), planned[i], batch,
                                                                          std::move(outputs), options_.limits));
    SERVAL_ASSIGN_OR_RETURN(InferenceResponse response, Infer(handle, std::move(request), call));
    for (size_t j = i; j < planned.size(); ++j) {
      if (planned[j].signature_name == planned[i].signature_name) responses[j] = response;
    }
  }
  std::vector<ExampleTaskResult> results(planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    results[i].model_version = responses[i]->model_version;
    if (planned[i].classify) {
      SERVAL_ASSIGN_OR_RETURN(results[i].classifications,
                              ReadClassifications(*responses[i], planned[i].classify_plan, rows));
    } else {
      SERVAL_ASSIGN_OR_RETURN(results[i].regressions, ReadRegressions(*responses[i], planned[i].regress_output, rows));
    }
  }
  return results;
}

StatusOr<ModelMetadata> ServingFrontend::Metadata(const ModelRef& model, RequestTrace* trace) const {
  SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, Resolve(model, trace));
  ModelMetadata metadata{handle, handle.AllSignatures(), {}};
  StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(handle.model_name(), {});
  if (statuses.ok()) {  // (unloaded meanwhile: the resolved version is still described)
    for (const VersionStatus& status : *statuses) {
      if (status.state == VersionState::kAvailable) metadata.available_versions.push_back(status.version);
    }
  }
  return metadata;
}

StatusOr<std::vector<VersionStatus>> ServingFrontend::ModelStatus(const ModelRef& model) const {
  return models_.GetVersionStatus(model.name, model.version);
}

StatusOr<std::vector<VersionStatistics>> ServingFrontend::Statistics(const ModelRef& model) const {
  std::vector<std::string> names;
  VersionSelector selector;
  if (model.name.empty()) {
    if (model.version.number || !model.version.label.empty()) return InvalidArgument("a version needs a model name");
    names = models_.ModelNames();
  } else {
    SERVAL_ASSIGN_OR_RETURN(ServableHandle handle, Resolve(model));
    names.emplace_back(model.name);
    if (model.version.number || !model.version.label.empty()) selector.number = handle.version();
  }
  std::vector<VersionStatistics> out;
  for (const std::string& name : names) {
    StatusOr<std::vector<VersionStatus>> statuses = models_.GetVersionStatus(name, selector);
    if (!statuses.ok()) continue;  // unloaded meanwhile
    for (const VersionStatus& status : *statuses) {
      if (status.state != VersionState::kAvailable) continue;
      VersionStatistics stats{name, status.version, {}};
      if (options_.metrics != nullptr) {
        std::vector<metrics::ModelStatistics> found = options_.metrics->GetModelStatistics(name, status.version);
        if (!found.empty()) stats.counters = std::move(found.front());
      }
      // A Triton-repository version counts its own executions and times (batch elements, model runs).
      VersionSelector exact;
      exact.number = status.version;
      if (StatusOr<ServableHandle> handle = models_.Acquire(name, exact); handle.ok()) {
        if (std::optional<TritonStatisticsSnapshot> triton = handle->triton_statistics()) {
          ApplyTritonStatistics(*triton, &stats.counters);
        } else {
          // As Triton, queue and compute_* hold one record per successful request (clients such as
          // perf_analyzer find the version that ran by its queue count, and require the three compute
          // counts to be equal); their times are what was measured. The count is the success count, not
          // the runs recorded: a run that finished before its request was counted (or that failed) would
          // otherwise make compute_infer differ from the others in a snapshot.
          metrics::ModelStatistics& counted = stats.counters;
          for (metrics::DurationStat* part :
               {&counted.queue, &counted.compute_input, &counted.compute_infer, &counted.compute_output}) {
            part->count = counted.success.count;
          }
        }
      }
      out.push_back(std::move(stats));
    }
  }
  return out;
}

bool ServingFrontend::ServerReady() const {
  return (options_.draining == nullptr || !options_.draining->load()) && models_.AllModelsReady();
}

Status ServingFrontend::CheckModelReady(const ModelRef& model) const { return Resolve(model).status(); }

StatusOr<bool> ServingFrontend::ModelReady(const ModelRef& model) const {
  Status status = CheckModelReady(model);
  if (status.ok()) return true;
  if (status.code() == StatusCode::kNotFound) return false;
  return status;
}

}  // namespace serval

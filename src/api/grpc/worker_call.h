// FinishOnWorker: how a unary gRPC call that may take long (it runs a model, or loads one) is answered
// without holding one of gRPC's callback threads. The callback thread only queues the call on the gRPC
// WorkerPool and returns; a worker runs it, records it, and finishes the reactor. A full queue answers
// RESOURCE_EXHAUSTED at once, on the callback thread. With an InlineGate (core/inline_run.h), a call with a
// small body is first tried on the callback thread: when its model version is short and unbatched and an
// inline slot is free it is run and finished right there (no hand-off); otherwise it is handed off as above.
// Header-only (a template over the call's body).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "api/grpc/grpc_glue.h"
#include "api/request_metrics.h"
#include "core/client_message.h"
#include "core/inline_run.h"
#include "core/memory_budget.h"
#include "core/status.h"
#include "core/worker_pool.h"

namespace serval {

// The status of a call refused because `workers`' queue is full.
inline Status WorkerQueueFull(const WorkerPool& workers) {
  return ResourceExhausted("the server is overloaded: all " + std::to_string(workers.num_threads()) +
                           " gRPC worker threads are busy and " + std::to_string(workers.max_queued()) +
                           " calls wait already (--grpc_max_threads); retry later");
}

// Runs `run(RequestTrace&) -> Status` on `workers`, records the call in `trace` as `api` (an empty `api`
// records nothing), then finishes `reactor` with the status. `run` and `reactor` belong to one call of a
// CallbackService method; everything `run` captures must live until the reactor is finished (the
// request, response and context do: gRPC frees them only after Finish). Nothing touches the call after
// Finish. REQUIRES: `workers` outlives the call (stop it only after the gRPC server has shut down).
// `inline_gate` (null = always hand off) and `body_bytes` (the request's size on the wire): see the file
// comment. A call tried inline runs `run` under an InlineAttempt; a deferred attempt has stopped before
// running the model and before touching the response, and `run` starts again from the beginning on a
// worker (with the same trace: its latency counts from the call's arrival).
template <typename Run>
void FinishOnWorker(WorkerPool& workers, grpc::ServerUnaryReactor* reactor, metrics::ServingMetrics* metrics,
                    std::string_view api, Run&& run, InlineGate* inline_gate = nullptr, size_t body_bytes = 0) {
  struct Call {
    Call(metrics::ServingMetrics* metrics, std::string_view api, grpc::ServerUnaryReactor* reactor, Run&& run)
        : trace(metrics, metrics::Protocol::kGrpc), reactor(reactor), run(std::forward<Run>(run)) {
      trace.set_api(api);
    }
    // Records the call and finishes it; deletes this first, so that nothing outlives Finish.
    void Finish(const Status& status) {
      trace.Finish(status.code());
      grpc::ServerUnaryReactor* const done = reactor;
      delete this;
      done->Finish(ToGrpcStatus(status));
    }
    RequestTrace trace;  // started now: queueing counts in the request's latency
    grpc::ServerUnaryReactor* const reactor;
    std::decay_t<Run> run;
  };
  Call* call = new Call(metrics, api, reactor, std::forward<Run>(run));
  if (inline_gate != nullptr && inline_gate->MayTry(body_bytes)) {
    Status status;
    bool deferred = false;
    {
      InlineAttempt attempt(*inline_gate, body_bytes);
      RequestMemoryScope memory;
      status = call->run(call->trace);
      deferred = attempt.deferred();
    }
    if (!deferred) return call->Finish(status);
  }
  if (workers.TrySubmit([call] {
        Status status;
        {
          RequestMemoryScope memory;  // what the call decodes and encodes is charged to the memory budget
          status = call->run(call->trace);
        }
        call->Finish(status);
      })) {
    return;
  }
  call->Finish(WorkerQueueFull(workers));
}

}  // namespace serval

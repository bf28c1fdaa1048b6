// MemoryBudget: one bound on the memory that requests in flight may decode into, for every API and codec.
//
// A decoder computes what a request will occupy once decoded — elements × element size, plus per-element
// overhead for strings — with checked arithmetic BEFORE it allocates, and charges it. Two limits apply: the
// request's own cap and the process-wide budget shared by every request in flight. A charge that would pass
// either fails at once (nothing is allocated) and is counted; what a request charged returns to the budget
// when the request ends.
//
// Requests are accounted by scope: the code that runs a request (a REST handler, a gRPC worker) opens a
// RequestMemoryScope on its thread, and ChargeRequestMemory (called by the decoders, Tensor::Allocate among
// them) charges the innermost scope of the calling thread. Outside any scope (model warm-up, loads, tests of
// a codec alone) charges are free: only client requests are budgeted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace serval {

// How a response will be encoded, for its size estimate.
enum class ResponseEncoding { kJson, kProtobuf };

class MemoryBudget {
 public:
  // `total_bytes`: all requests together; `per_request_bytes`: one request (clamped to total_bytes).
  // 0 = unlimited.
  // `max_response_bytes`: the largest encoded response (estimated before encoding); 0 = unlimited.
  MemoryBudget(size_t total_bytes, size_t per_request_bytes, size_t max_response_bytes = 0);
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  size_t total_bytes() const { return total_; }
  size_t per_request_bytes() const { return per_request_; }
  size_t max_response_bytes() const { return max_response_; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  // Charges refused: by the per-request cap, and by the process-wide budget.
  uint64_t refused_per_request() const { return refused_request_.load(std::memory_order_relaxed); }
  uint64_t refused_total() const { return refused_total_.load(std::memory_order_relaxed); }
  uint64_t refused_response() const { return refused_response_.load(std::memory_order_relaxed); }

  // The process's budget (the server installs it once at start; null until then: charges are free).
  static MemoryBudget* Global();
  static void SetGlobal(MemoryBudget* budget);

  // Half the memory this process may use (the smaller of physical memory and its cgroup's limit); 1 GiB if
  // neither can be read.
  static size_t DefaultTotalBytes();

 private:
  friend class RequestMemoryScope;
  friend Status ChargeResponse(std::span<const Tensor> outputs, ResponseEncoding encoding);
  bool TryTake(size_t bytes);
  void Give(size_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }

  const size_t total_;
  const size_t per_request_;
  const size_t max_response_;
  std::atomic<size_t> in_use_{0};
  std::atomic<uint64_t> refused_response_{0};
  std::atomic<uint64_t> refused_request_{0};
  std::atomic<uint64_t> refused_total_{0};
};

// One request's account, current on the calling thread from construction to destruction (scopes nest; the
// destructor restores the outer one). Everything charged returns to the budget on destruction.
// REQUIRES: destroyed on the thread that created it; the budget outlives it. Null budget: charges are free.
class RequestMemoryScope {
 public:
  explicit RequestMemoryScope(MemoryBudget* budget = MemoryBudget::Global());
  ~RequestMemoryScope();
  RequestMemoryScope(const RequestMemoryScope&) = delete;
  RequestMemoryScope& operator=(const RequestMemoryScope&) = delete;

  // Takes `bytes` more: RESOURCE_EXHAUSTED past the request's cap, Status::ServerBusy (RESOURCE_EXHAUSTED
  // that passes: retry later) past the process-wide budget; `what` names the thing in the message.
  Status Charge(size_t bytes, std::string_view what);
  // Takes `bytes` when both limits allow it, else nothing; a refusal is not counted (for memory that is
  // optional: the caller has a way that does without it).
  bool TryCharge(size_t bytes);
  // Gives back `bytes` of what was charged (at most charged()), for memory freed before the request ends.
  void Refund(size_t bytes);
  size_t charged() const { return charged_; }
  MemoryBudget* budget() const { return budget_; }

 private:
  MemoryBudget* const budget_;
  // Why Take refused (kNone: it took the bytes, or there is nothing to charge).
  enum class Refusal : uint8_t { kNone, kRequestCap, kBudget };
  Refusal Take(size_t bytes);
  RequestMemoryScope* const outer_;
  size_t charged_ = 0;
};

// Charges the calling thread's current request; Ok and free outside any scope.
Status ChargeRequestMemory(size_t bytes, std::string_view what);
// RequestMemoryScope::TryCharge / Refund / charged() of the calling thread's current request (true, no-op and
// 0 outside any scope).
bool TryChargeRequestMemory(size_t bytes);
void RefundRequestMemory(size_t bytes);
size_t RequestMemoryCharged();

// An upper estimate of the encoded size of `outputs`: JSON (the longest text of each element, quotes and
// escapes of strings, the brackets and commas of every nested list, so [2^26, 0] costs what its empty lists
// do) or protobuf (the payload and per-string framing).
size_t EstimateResponseBytes(std::span<const Tensor> outputs, ResponseEncoding encoding);

// Before a response is encoded: RESOURCE_EXHAUSTED when its estimate passes the budget's max_response_bytes,
// else the estimate is charged to the current request (what the encoded text will occupy). Ok outside a
// scope or without a budget.
Status ChargeResponse(std::span<const Tensor> outputs, ResponseEncoding encoding);

// elements × element_size + elements × per_element_overhead + extra, or RESOURCE_EXHAUSTED on overflow.
StatusOr<size_t> DecodedBytes(uint64_t elements, size_t element_size, size_t per_element_overhead = 0,
                              size_t extra = 0);

// What the allocator adds to each heap block (glibc: a 16-byte header, rounding to 16).
inline constexpr size_t kMallocOverhead = 16;
// What one string element of a decoded STRING tensor costs besides its bytes: the std::string and the
// allocator's bookkeeping of its heap block.
inline constexpr size_t kStringElementOverhead = 32 + kMallocOverhead;

}  // namespace serval

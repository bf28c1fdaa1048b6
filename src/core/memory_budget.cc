#include "core/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

namespace serval {
namespace {

std::atomic<MemoryBudget*> g_budget{nullptr};
thread_local RequestMemoryScope* t_current = nullptr;

std::string Mib(size_t bytes) {
  return bytes < (size_t{1} << 20) ? std::to_string(bytes) + " bytes" : std::to_string(bytes >> 20) + " MiB";
}

// The cgroup (v2, then v1) memory limit of this process, 0 if none can be read.
size_t CgroupLimit() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream file(path);
    std::string text;
    if (file >> text && !text.empty() && text != "max") {
      try {
        return static_cast<size_t>(std::stoull(text));
      } catch (...) {  // NOLINT(bugprone-empty-catch): unreadable: no limit from this file
      }
    }
  }
  return 0;
}

}  // namespace

MemoryBudget::MemoryBudget(size_t total_bytes, size_t per_request_bytes, size_t max_response_bytes)
    : total_(total_bytes),
      per_request_(total_bytes != 0 && (per_request_bytes == 0 || per_request_bytes > total_bytes) ? total_bytes
                                                                                                   : per_request_bytes),
      max_response_(max_response_bytes) {}

MemoryBudget* MemoryBudget::Global() { return g_budget.load(std::memory_order_acquire); }
void MemoryBudget::SetGlobal(MemoryBudget* budget) { g_budget.store(budget, std::memory_order_release); }

size_t MemoryBudget::DefaultTotalBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  size_t memory = pages > 0 && page_size > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page_size) : 0;
  const size_t cgroup = CgroupLimit();
  if (cgroup != 0 && (memory == 0 || cgroup < memory)) memory = cgroup;
  return memory == 0 ? size_t{1} << 30 : memory / 2;
}

bool MemoryBudget::TryTake(size_t bytes) {
  if (total_ == 0) {
    in_use_.fetch_add(bytes, std::memory_order_relaxed);
    return true;
  }
  size_t now = in_use_.load(std::memory_order_relaxed);
  do {
    if (now > total_ || bytes > total_ - now) return false;
  } while (!in_use_.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
  return true;
}

RequestMemoryScope::RequestMemoryScope(MemoryBudget* budget) : budget_(budget), outer_(t_current) { t_current = this; }

RequestMemoryScope::~RequestMemoryScope() {
  if (budget_ != nullptr && charged_ != 0) budget_->Give(charged_);
  t_current = outer_;
}

RequestMemoryScope::Refusal RequestMemoryScope::Take(size_t bytes) {
  if (budget_ == nullptr || bytes == 0) return Refusal::kNone;
  const size_t cap = budget_->per_request_;
  if (cap != 0 && (charged_ > cap || bytes > cap - charged_)) return Refusal::kRequestCap;
  if (!budget_->TryTake(bytes)) return Refusal::kBudget;
  charged_ += bytes;
  return Refusal::kNone;
}

Status RequestMemoryScope::Charge(size_t bytes, std::string_view what) {
  switch (Take(bytes)) {
    case Refusal::kNone:
      return Status::Ok();
    case Refusal::kRequestCap:
      budget_->refused_request_.fetch_add(1, std::memory_order_relaxed);
      return ResourceExhausted(std::string(what) + " needs more memory than one request may use (" +
                               Mib(budget_->per_request_) + "; --max_request_memory_bytes)");
    case Refusal::kBudget:
      budget_->refused_total_.fetch_add(1, std::memory_order_relaxed);
      return Status::ServerBusy("the server's memory for requests in flight is in use (" + Mib(budget_->total_) +
                                ", --request_memory_budget_bytes): " + std::string(what) + " was refused; retry later");
  }
  return Status::Ok();
}

bool RequestMemoryScope::TryCharge(size_t bytes) { return Take(bytes) == Refusal::kNone; }

void RequestMemoryScope::Refund(size_t bytes) {
  bytes = std::min(bytes, charged_);
  if (budget_ == nullptr || bytes == 0) return;
  budget_->Give(bytes);
  charged_ -= bytes;
}

Status ChargeRequestMemory(size_t bytes, std::string_view what) {
  return t_current == nullptr ? Status::Ok() : t_current->Charge(bytes, what);
}

bool TryChargeRequestMemory(size_t bytes) { return t_current == nullptr || t_current->TryCharge(bytes); }

void RefundRequestMemory(size_t bytes) {
  if (t_current != nullptr) t_current->Refund(bytes);
}

size_t RequestMemoryCharged() { return t_current == nullptr ? 0 : t_current->charged(); }

namespace {

// The longest JSON text of one element (sign, digits, exponent; strings are counted apart).
size_t MaxJsonChars(DataType type) {
  switch (type) {
    case DataType::kBool:
      return 5;  // false
    case DataType::kUint8:
    case DataType::kInt8:
      return 4;
    case DataType::kUint16:
    case DataType::kInt16:
      return 6;
    case DataType::kUint32:
    case DataType::kInt32:
      return 11;
    case DataType::kFp16:
    case DataType::kBf16:
    case DataType::kFp32:
      return 16;
    default:
      return 24;  // 64-bit integers and doubles
  }
}

size_t SaturatingAdd(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
size_t SaturatingMul(size_t a, size_t b) {
  size_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? SIZE_MAX : out;
}

}  // namespace

size_t EstimateResponseBytes(std::span<const Tensor> outputs, ResponseEncoding encoding) {
  size_t total = 0;
  for (const Tensor& tensor : outputs) {
    total = SaturatingAdd(total, tensor.name().size() + 64);
    const size_t elements = static_cast<size_t>(std::max<int64_t>(tensor.element_count(), 0));
    if (tensor.dtype() == DataType::kString) {
      // JSON: quotes, a comma, and (base64 or escapes) up to twice the bytes; protobuf: a tag and a length.
      for (const std::string& value : tensor.strings()) {
        total = SaturatingAdd(total, encoding == ResponseEncoding::kJson ? 2 * value.size() + 3 : value.size() + 6);
      }
    } else if (encoding == ResponseEncoding::kJson) {
      total = SaturatingAdd(total, SaturatingMul(elements, MaxJsonChars(tensor.dtype()) + 1));
    } else {
      total = SaturatingAdd(total, SaturatingMul(elements, std::max<size_t>(ElementSize(tensor.dtype()), 1) + 1));
    }
    if (encoding == ResponseEncoding::kJson) {
      // Each nested list costs "[]," even when empty: the lists at depth k are the product of the dims before k.
      size_t lists = 1;
      for (int64_t dim : tensor.shape()) {
        total = SaturatingAdd(total, SaturatingMul(lists, 3));
        lists = SaturatingMul(lists, static_cast<size_t>(std::max<int64_t>(dim, 0)));
      }
    }
  }
  return total;
}

Status ChargeResponse(std::span<const Tensor> outputs, ResponseEncoding encoding) {
  MemoryBudget* budget = t_current == nullptr ? nullptr : t_current->budget();
  if (budget == nullptr) return Status::Ok();
  const size_t estimate = EstimateResponseBytes(outputs, encoding);
  if (budget->max_response_ != 0 && estimate > budget->max_response_) {
    budget->refused_response_.fetch_add(1, std::memory_order_relaxed);
    return ResourceExhausted("the response would take about " + Mib(estimate) + ", over the limit of " +
                             Mib(budget->max_response_) + " (--max_response_bytes)");
  }
  return t_current->Charge(estimate, "the response");
}

StatusOr<size_t> DecodedBytes(uint64_t elements, size_t element_size, size_t per_element_overhead, size_t extra) {
  size_t per_element = 0;
  size_t total = 0;
  if (__builtin_add_overflow(element_size, per_element_overhead, &per_element) ||
      __builtin_mul_overflow(static_cast<size_t>(elements), per_element, &total) || elements > SIZE_MAX ||
      __builtin_add_overflow(total, extra, &total)) {
    return ResourceExhausted("the decoded size overflows");
  }
  return total;
}

}  // namespace serval

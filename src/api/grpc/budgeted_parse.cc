#include "api/grpc/budgeted_parse.h"

#include <cstdint>
#include <string>

#include "core/memory_budget.h"

namespace serval {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr int kMaxDepth = 100;  // protobuf's default recursion limit

// What a message object costs besides its fields' heap data: roughly its size (a word a field) plus the
// allocator's header, and the pointer a repeated field or map keeps to it.
size_t MessageOverhead(const Descriptor& type) {
  return 32 + 8 * static_cast<size_t>(type.field_count()) + kMallocOverhead + 8;
}

class Walker {
 public:
  explicit Walker(std::string_view wire) : p_(reinterpret_cast<const uint8_t*>(wire.data())), end_(p_ + wire.size()) {}

  const uint8_t* end() const { return end_; }

  bool Walk(const Descriptor* type, const uint8_t* end, int depth) {
    if (depth > kMaxDepth) return false;
    while (p_ < end) {
      uint64_t tag = 0;
      if (!Varint(end, &tag)) return false;
      const auto number = static_cast<int>(tag >> 3);
      const FieldDescriptor* field = type == nullptr ? nullptr : type->FindFieldByNumber(number);
      switch (tag & 7) {
        case 0: {  // varint: a repeated element takes up to 8 bytes
          uint64_t ignored = 0;
          if (!Varint(end, &ignored)) return false;
          Add(field == nullptr ? 16 : 8);
          break;
        }
        case 1:
          if (end - p_ < 8) return false;
          p_ += 8;
          Add(field == nullptr ? 16 : 8);
          break;
        case 5:
          if (end - p_ < 4) return false;
          p_ += 4;
          Add(field == nullptr ? 16 : 8);
          break;
        case 2: {
          uint64_t length = 0;
          if (!Varint(end, &length) || length > static_cast<uint64_t>(end - p_)) return false;
          const uint8_t* payload_end = p_ + length;
          if (field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE) {
            Add(MessageOverhead(*field->message_type()));
            if (!Walk(field->message_type(), payload_end, depth + 1)) return false;
          } else if (field != nullptr &&
                     (field->type() == FieldDescriptor::TYPE_STRING || field->type() == FieldDescriptor::TYPE_BYTES)) {
            Add(kStringElementOverhead + 8 + static_cast<size_t>(length));
          } else if (field != nullptr && field->is_packable()) {
            // Packed numbers: at least one wire byte each, at most 8 bytes in memory.
            Add(8 * static_cast<size_t>(length));
          } else {
            Add(32 + static_cast<size_t>(length));  // an unknown field is kept as its bytes
          }
          p_ = payload_end;
          break;
        }
        default:
          return false;  // groups (deprecated, unused by these APIs) or an invalid wire type
      }
    }
    return p_ == end;
  }

  size_t total() const { return total_; }
  bool overflowed() const { return overflowed_; }

 private:
  bool Varint(const uint8_t* end, uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64 && p_ < end; shift += 7) {
      const uint8_t byte = *p_++;
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  void Add(size_t bytes) {
    if (__builtin_add_overflow(total_, bytes, &total_)) overflowed_ = true;
  }

  const uint8_t* p_;
  const uint8_t* const end_;
  size_t total_ = 0;
  bool overflowed_ = false;
};

}  // namespace

StatusOr<size_t> EstimateParsedBytes(const Descriptor& type, std::string_view wire) {
  Walker walker(wire);
  if (!walker.Walk(&type, walker.end(), 0)) return InvalidArgument("the request is not a valid " + type.full_name());
  if (walker.overflowed()) return ResourceExhausted("the request's decoded size overflows");
  return walker.total() + MessageOverhead(type);
}

Status ParseWithinBudget(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  grpc::Slice slice;
  size_t joined = 0;
  if (!buffer.TrySingleSlice(&slice).ok()) {
    // The bytes arrived in several slices: joining them costs their size once more.
    joined = buffer.Length();
    SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(joined, "the request message"));
    if (!buffer.DumpToSingleSlice(&slice).ok()) return InvalidArgument("the request message cannot be read");
  }
  const std::string_view wire(reinterpret_cast<const char*>(slice.begin()), slice.size());
  StatusOr<size_t> estimate = EstimateParsedBytes(*message->GetDescriptor(), wire);
  if (!estimate.ok()) return estimate.status();
  SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(*estimate, "the request message"));
  if (!message->ParseFromArray(wire.data(), static_cast<int>(wire.size()))) {
    return InvalidArgument("the request is not a valid " + message->GetDescriptor()->full_name());
  }
  return Status::Ok();
}

Status SerializeToByteBuffer(const google::protobuf::Message& message, grpc::ByteBuffer* buffer) {
  bool own = false;
  grpc::Status status = grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, buffer, &own);
  if (!status.ok()) return Internal("cannot serialize the response: " + status.error_message());
  return Status::Ok();
}

}  // namespace serval

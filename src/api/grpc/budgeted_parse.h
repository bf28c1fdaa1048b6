// Parsing a gRPC request within the request memory budget (core/memory_budget.h).
//
// Protobuf makes a message several times its wire size in memory — an empty `string_val` entry, 2 bytes on
// the wire, becomes a heap std::string and a pointer (~56 bytes) — so a small, well-compressed call could
// make the server allocate gigabytes before any decoder of Serval's looked at it. Methods registered raw
// (their bytes, not a parsed message) parse with ParseWithinBudget instead: the wire bytes are walked first
// with the message's descriptor, what the parse will allocate is estimated with checked arithmetic and
// charged to the current request, and only then is the message parsed.
#pragma once

#include <cstddef>
#include <string_view>

#include <google/protobuf/arena.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "core/status.h"

namespace serval {

// An upper estimate of the heap memory protobuf allocates to parse `wire` as `type` (the message objects,
// every string and repeated element, unknown fields). InvalidArgument for wire data that is not a valid
// message (malformed, groups, nested deeper than protobuf's own limit of 100).
StatusOr<size_t> EstimateParsedBytes(const google::protobuf::Descriptor& type, std::string_view wire);

// Charges the estimate (and the wire bytes, when they must be joined into one buffer) to the calling
// thread's request, then parses. RESOURCE_EXHAUSTED / UNAVAILABLE from the budget, InvalidArgument when
// the bytes do not parse.
Status ParseWithinBudget(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);

// The arena of one call's messages (request and response), with its first block inside the object: declared
// on a worker's stack, a small call's messages take nothing from the heap; larger ones grow it in blocks, all
// freed when it goes. Messages created on it must not outlive it.
class CallArena {
 public:
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): first_block_ is raw storage the arena takes over
  CallArena() : arena_(FirstBlock(first_block_, sizeof first_block_)) {}
  CallArena(const CallArena&) = delete;
  CallArena& operator=(const CallArena&) = delete;

  template <typename Message>
  Message* Create() {
    return google::protobuf::Arena::CreateMessage<Message>(&arena_);
  }

 private:
  static google::protobuf::ArenaOptions FirstBlock(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }

  alignas(16) char first_block_[8192];
  google::protobuf::Arena arena_;
};

// Serializes a response into the raw method's response buffer.
Status SerializeToByteBuffer(const google::protobuf::Message& message, grpc::ByteBuffer* buffer);

}  // namespace serval

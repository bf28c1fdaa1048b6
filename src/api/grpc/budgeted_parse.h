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

// Serializes a response into the raw method's response buffer.
Status SerializeToByteBuffer(const google::protobuf::Message& message, grpc::ByteBuffer* buffer);

}  // namespace serval

// ParseTextProto: one protobuf text-format parse for every config file Serval reads (model server config,
// monitoring config, batching parameters), with the parser's complaints gathered into the returned status
// ("line L column C: message; ...") instead of protobuf's own logging. Hand-written; the only code in this
// folder that is not generated.
#pragma once

#include <string_view>

#include <google/protobuf/message.h>

#include "core/status.h"

namespace serval {

// Parses `text` into `*out` (cleared first). INVALID_ARGUMENT "cannot parse <what>: <where and why>" when
// the text is not a valid `out` message.
Status ParseTextProto(std::string_view text, std::string_view what, google::protobuf::Message* out);

}  // namespace serval

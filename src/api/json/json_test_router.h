// Test helper shared by the JSON library's tests: a router that hands the whole document to one
// JsonTensorBuilder and treats any event after that value as an internal error.
#pragma once

#include <string_view>

#include "api/json/json_tensor_builder.h"
#include "core/status.h"

namespace serval {

class RootRouter : public JsonValueRouter {
 public:
  explicit RootRouter(JsonTensorBuilder* builder) { RouteNextValue(builder); }

 private:
  bool OnNull() override { return Unexpected(); }
  bool OnBool(bool) override { return Unexpected(); }
  bool OnNumber(std::string_view) override { return Unexpected(); }
  bool OnString(std::string_view) override { return Unexpected(); }
  bool OnStartObject() override { return Unexpected(); }
  bool OnKey(std::string_view) override { return Unexpected(); }
  bool OnEndObject() override { return Unexpected(); }
  bool OnStartArray(JsonArrayBody&) override { return Unexpected(); }
  bool OnEndArray() override { return Unexpected(); }
  bool OnRoutedValueEnd() override { return true; }
  bool Unexpected() { return Fail(Internal("event after the value")); }
};

}  // namespace serval

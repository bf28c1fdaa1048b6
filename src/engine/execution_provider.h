// Private to the engine layer: the execution provider names Serval accepts, shared by the ORT-free
// option parsing (engine.cc) and Engine::Create (ort_engine.cc).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace serval {

inline constexpr std::array<std::string_view, 5> kExecutionProviderNames = {"cpu", "cuda", "tensorrt", "openvino",
                                                                            "dnnl"};

bool IsKnownExecutionProvider(std::string_view name);
// INVALID_ARGUMENT naming the first unknown name.
Status CheckExecutionProviders(const std::vector<std::string>& names);

}  // namespace serval

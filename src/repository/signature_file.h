// signatures.json: the signature file `serval-model convert` writes beside one ONNX graph per TensorFlow
// signature (docs/signature-file.md). A version directory that holds one is served with every signature it
// lists (engine/signature_graphs.h).
//
// The file is hostile input, like a model file: it is read with a size cap, parsed without recursion, and
// every value is checked before anything is loaded. Each `graph` must be a relative path without '..' that
// names a regular file inside the version directory (symlinks resolved); the same graph may serve several
// signatures. Every failure is INVALID_ARGUMENT (never retried until the file changes) with a message that
// starts "signatures.json: " and names the signature and key at fault.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/signature_graphs.h"

namespace serval {

inline constexpr std::string_view kSignatureFileName = "signatures.json";
inline constexpr std::string_view kSignatureFileFormat = "serval.signatures.v1";
inline constexpr size_t kMaxSignatureFileBytes = static_cast<size_t>(16) << 20;

// Parses the file's text. Each spec's `graph` is the resolved path of its graph file
// (<version_dir>/<graph>). Inputs and outputs keep the file's alias order (RapidJSON keeps member order).
StatusOr<std::vector<GraphSignatureSpec>> ParseSignatureFile(std::string_view json, const std::string& version_dir);

// Reads <version_dir>/signatures.json (at most kMaxSignatureFileBytes) and parses it.
StatusOr<std::vector<GraphSignatureSpec>> ReadSignatureFile(const std::string& version_dir);

}  // namespace serval

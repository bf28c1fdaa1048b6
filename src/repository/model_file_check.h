// CheckModelFile: a model file is hostile input. Before ONNX Runtime sees it, every external-data
// reference it makes must stay inside its version directory (docs/reliability.md lesson 6, §5 "Model load",
// test plan §6.E item 24).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace serval {

// Checks `model_path` (a file inside `version_dir`, usually <version_dir>/model.onnx) before it is loaded.
//
// The file is streamed through protobuf's wire-format reader (never read whole: peak memory is a read
// buffer plus one tensor's external_data, whatever the model's size), descending only into the ONNX
// messages that can hold a TensorProto (the subset in proto/onnx/onnx_external_data.proto): graph
// initializers and sparse initializers, tensors in node attributes (Constant and any other op), subgraphs
// of If/Loop/Scan (nesting capped at 64, walked without recursion), local functions and training-info
// graphs. A tensor name or external_data key/value over 64 KiB is rejected. Each occurrence of a tensor is
// checked on its own (protobuf would merge repeated occurrences; checking each part is stricter). For each
// tensor that uses external data (data_location EXTERNAL or any external_data entry), the `location` must:
//   - be a relative path with no '..' component and no "_ORT_MEM_ADDR_" (ORT's in-memory marker);
//   - resolve (against the model file's directory, as ONNX Runtime does) to an existing regular file
//     that is not a symlink, has exactly one hard link, and has no symlinked directory between it and
//     the model's directory; its weakly_canonical path must lie inside weakly_canonical(version_dir);
//   - have `offset` and `length` (when given) that are non-negative decimal integers with
//     offset + length <= file size (no length: offset <= file size).
// Duplicate keys are rejected. Each failure is INVALID_ARGUMENT
// "model file '<path>': external data '<location>' <reason>".
//
// Files larger than 2 GiB are rejected (protobuf cannot parse them; ONNX Runtime neither). A file that
// does not parse as a ModelProto is left to the engine, which rejects it with its own error — unless its
// bytes contain "location" (the key every external-data reference must spell out; searched in bounded
// chunks), in which case it is rejected here: a file this reader cannot walk must not be able to carry
// an unchecked reference.
//
// Not covered: a file swapped between this check and the load (the version directory must be writable
// only by whoever publishes models).
//
// `unknown_rank_inputs` (optional): set to the main graph's tensor inputs that declare no shape at all, which
// accept any rank (ONNX Runtime reports them like scalars).
Status CheckModelFile(const std::string& model_path, const std::string& version_dir,
                      std::vector<std::string>* unknown_rank_inputs = nullptr);

}  // namespace serval

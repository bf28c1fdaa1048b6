// TfEngine: serves TensorFlow SavedModels behind the same Engine / ModelSession interface as ONNX Runtime,
// by handing them to a worker process, serval-tf-worker (engine/tf/tf_worker_main.cc), that links
// TensorFlow. The server itself never maps TensorFlow's libraries: an ONNX-only server pays nothing, and a
// TensorFlow crash or leak never takes the server down.
//
// Contracts:
//   * The worker is started by the first Load (not by Create). When it dies, every call in flight fails
//     UNAVAILABLE; the next call starts a new worker and each session reloads its SavedModel there before
//     running (a version stays AVAILABLE through a worker restart).
//   * Tensors cross one UNIX socket per worker (copied once each way); thread counts: TensorFlow's
//     process-wide intra/inter-op pools (sized at the worker's start) plus `worker_threads` callers.
//   * Load(path): `path` is a version directory holding saved_model.pb; the MetaGraphDef tagged with
//     `saved_model_tags` is loaded and every SignatureDef is served (signature_defs()). signature() is
//     "serving_default" (empty when the model has none: Run then fails FAILED_PRECONDITION).
//   * Shapes are checked by TensorFlow only (check_shapes = false), as TF Serving does.
//   * Deadlines: a run whose deadline has passed or whose client is gone never starts; a running step gets
//     the remaining time as RunOptions.timeout_in_ms and TensorFlow stops it (DEADLINE_EXCEEDED). TensorFlow
//     offers no way to stop a step for a client that left: the caller is answered CANCELLED at once and the
//     step's result is dropped when it ends.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace serval {

struct TfEngineOptions {
  std::string worker_path;   // serval-tf-worker; empty = beside the running executable
  int intra_op_threads = 0;  // TensorFlow's intra-op pool; 0 = the cores this process may use
  int inter_op_threads = 0;  // TensorFlow's inter-op pool; 0 = the cores this process may use
  int worker_threads = 0;    // runs the worker does at once; 0 = 4 × cores
  std::vector<std::string> saved_model_tags = {"serve"};
};

// Creates the engine; starts nothing. INVALID_ARGUMENT for negative thread counts or no tags.
StatusOr<std::unique_ptr<Engine>> CreateTfEngine(const TfEngineOptions& options);

// The worker executable that `options` names (resolved), or NOT_FOUND when it is missing (a build without
// TensorFlow). Used for --version and for a clear load error.
StatusOr<std::string> FindTfWorker(const TfEngineOptions& options);
// TensorFlow's version as the worker reports it ("2.21.0"), or the error.
StatusOr<std::string> TfVersion(const TfEngineOptions& options);

// Reads the SignatureDefs out of a serialized MetaGraphDef without parsing its graph. Signatures with
// tensors Serval cannot feed (sparse or composite tensors, unknown dtypes) are left out, each named in
// `*skipped` ("name: why"). Sorted by name. DATA_LOSS for bytes that are not a MetaGraphDef.
StatusOr<std::vector<SignatureDef>> ReadSignatureDefs(std::string_view meta_graph_def,
                                                      std::vector<std::string>* skipped);

}  // namespace serval

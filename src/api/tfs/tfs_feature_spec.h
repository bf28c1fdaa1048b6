// TfsFeatureSpec: TensorFlow's ParseExample done by the server, for ONNX graphs cut after it
// (core/example_spec.h, docs/signature-file.md). Pure functions; safe from any thread.
//
// Semantics (TensorFlow's FixedLenFeature / VarLenFeature, texts as TensorFlow words them):
//   * Each example's own feature wins; a feature it lacks is taken from the batch's context (TF Serving's
//     ExampleListWithContext merge). A feature with no value list set counts as absent.
//   * fixed_len: the tensor is [batch] + shape. An example must give exactly prod(shape) values of the
//     feature's type; without the feature it takes the default, and with no default the request fails
//     ("... is required but could not be found.").
//   * var_len: values (flat, every example's list in order), indices int64 [N, 2] (example, position) and
//     dense_shape int64 [2] (batch, longest list). An example without the feature adds nothing.
//   * A value list of another type than the feature's is INVALID_ARGUMENT ("Data types don't match").
//   * Every count is checked before anything is allocated; a tensor beyond CodecLimits::max_tensor_bytes is
//     RESOURCE_EXHAUSTED (a context feature or a default is repeated once per example).
#pragma once

#include <vector>

#include "api/json/codec_limits.h"
#include "api/tfs/tfs_examples.h"
#include "core/example_spec.h"
#include "core/status.h"
#include "core/tensor.h"

namespace serval {

// The graph inputs `spec` describes, filled from `batch`, in spec order (values; then indices and
// dense_shape for a var_len feature), each named by its graph input.
StatusOr<std::vector<Tensor>> FeaturesToTensors(const ExampleParseSpec& spec, const ExampleBatch& batch,
                                                const CodecLimits& limits = {});

// Parses a STRING tensor of serialized tf.Examples of shape [batch] (TensorFlow's ParseExample wants a
// vector) into a batch that owns its storage. INVALID_ARGUMENT for another shape or a string that is not a
// tf.Example.
StatusOr<ExampleBatch> ParseSerializedExamples(const Tensor& serialized);

// ParseSerializedExamples then FeaturesToTensors: the parser the server gives the model manager.
ExampleParser MakeExampleParser(CodecLimits limits = {});

}  // namespace serval

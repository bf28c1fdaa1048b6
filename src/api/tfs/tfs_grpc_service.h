// The TF Serving gRPC API (tensorflow.serving.PredictionService and ModelService, protocols.md §2.2) over
// the ModelManager. Synchronous services: each call runs on the gRPC server thread that received it (the
// server caps those threads). Thread-safe; no per-call state is kept between calls.
//
// PredictionService:
//   * Predict: TensorProto inputs in every encoding (tfs_grpc_codec.h), output_filter, model_spec with
//     version / version_label / signature_name. tensor_content inputs are NOT copied: the tensors borrow
//     the request message's bytes, which gRPC keeps alive until the handler returns (after Run). Outputs
//     use the typed *_val fields unless TfsGrpcOptions::serialize_as_tensor_content.
//   * GetModelMetadata: metadata_field ["signature_def"] → a SignatureDefMap packed in Any.
//   * Classify / Regress / MultiInference: tf.Example input mapped onto the model's inputs and outputs as
//     tfs_examples.h and TFS_EXAMPLES.md describe. MultiInference runs the model ONCE for all its tasks;
//     every task must name the same model and version choice, method_name must be
//     "tensorflow/serving/classify" or "tensorflow/serving/regress", and a (signature, method) pair may
//     appear once.
// ModelService:
//   * GetModelStatus: every version (or the one the spec selects) with its state and status.
//   * HandleReloadConfigRequest: UNIMPLEMENTED for now.
//
// Errors: serval::Status → grpc::Status code for code. A missing model or version is NOT_FOUND with TF
// Serving's "Servable not found for request: Latest(name)" text (harnesses wait on it). The client's
// deadline becomes InferenceRequest::deadline.
#pragma once

#include <grpcpp/grpcpp.h>

#include "api/json/codec_limits.h"
#include "core/status.h"
#include "repository/model_manager.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace serval {

struct TfsGrpcOptions {
  // --enable_serialization_as_tensor_content: numeric outputs in tensor_content instead of *_val.
  bool serialize_as_tensor_content = false;
  CodecLimits limits = {};  // (an initializer, so that designated initialization may leave it out)
};

class TfsPredictionService final : public tensorflow::serving::PredictionService::Service {
 public:
  // REQUIRES: `models` outlives the service.
  TfsPredictionService(const ModelManager& models, TfsGrpcOptions options);
  TfsPredictionService(const TfsPredictionService&) = delete;
  TfsPredictionService& operator=(const TfsPredictionService&) = delete;

  grpc::Status Classify(grpc::ServerContext* context, const tensorflow::serving::ClassificationRequest* request,
                        tensorflow::serving::ClassificationResponse* response) override;
  grpc::Status Regress(grpc::ServerContext* context, const tensorflow::serving::RegressionRequest* request,
                       tensorflow::serving::RegressionResponse* response) override;
  grpc::Status Predict(grpc::ServerContext* context, const tensorflow::serving::PredictRequest* request,
                       tensorflow::serving::PredictResponse* response) override;
  grpc::Status MultiInference(grpc::ServerContext* context, const tensorflow::serving::MultiInferenceRequest* request,
                              tensorflow::serving::MultiInferenceResponse* response) override;
  grpc::Status GetModelMetadata(grpc::ServerContext* context,
                                const tensorflow::serving::GetModelMetadataRequest* request,
                                tensorflow::serving::GetModelMetadataResponse* response) override;

 private:
  Status DoPredict(const grpc::ServerContext& context, const tensorflow::serving::PredictRequest& request,
                   tensorflow::serving::PredictResponse* response) const;
  Status DoClassify(const grpc::ServerContext& context, const tensorflow::serving::ClassificationRequest& request,
                    tensorflow::serving::ClassificationResponse* response) const;
  Status DoRegress(const grpc::ServerContext& context, const tensorflow::serving::RegressionRequest& request,
                   tensorflow::serving::RegressionResponse* response) const;
  Status DoMultiInference(const grpc::ServerContext& context, const tensorflow::serving::MultiInferenceRequest& request,
                          tensorflow::serving::MultiInferenceResponse* response) const;
  Status DoGetModelMetadata(const tensorflow::serving::GetModelMetadataRequest& request,
                            tensorflow::serving::GetModelMetadataResponse* response) const;

  const ModelManager& models_;
  const TfsGrpcOptions options_;
};

class TfsModelService final : public tensorflow::serving::ModelService::Service {
 public:
  // REQUIRES: `models` outlives the service.
  explicit TfsModelService(const ModelManager& models);
  TfsModelService(const TfsModelService&) = delete;
  TfsModelService& operator=(const TfsModelService&) = delete;

  grpc::Status GetModelStatus(grpc::ServerContext* context, const tensorflow::serving::GetModelStatusRequest* request,
                              tensorflow::serving::GetModelStatusResponse* response) override;
  grpc::Status HandleReloadConfigRequest(grpc::ServerContext* context,
                                         const tensorflow::serving::ReloadConfigRequest* request,
                                         tensorflow::serving::ReloadConfigResponse* response) override;

 private:
  const ModelManager& models_;
};

}  // namespace serval

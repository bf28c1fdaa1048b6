// The TF Serving gRPC API (tensorflow.serving.PredictionService and ModelService, docs/protocols.md §2.2) over
// the ModelManager, on gRPC's callback API. Predict, Classify, Regress, MultiInference and
// HandleReloadConfigRequest run on the gRPC WorkerPool (TfsGrpcOptions::workers / the TfsModelService
// constructor), not on a gRPC thread, except inference calls of short unbatched models that the inline gate
// admits (TfsGrpcOptions::inline_gate, core/inline_run.h); a full worker queue answers RESOURCE_EXHAUSTED.
// GetModelMetadata and GetModelStatus answer on the gRPC thread that received them. Thread-safe; no per-call state is
// kept between calls.
//
// PredictionService:
//   * Predict: TensorProto inputs in every encoding (tfs_grpc_codec.h), output_filter, model_spec with
//     version / version_label / signature_name. tensor_content inputs are NOT copied: the tensors borrow
//     the request message's bytes, which gRPC keeps alive until the call is finished (after Run). Outputs
//     use the typed *_val fields unless TfsGrpcOptions::serialize_as_tensor_content.
//   * GetModelMetadata: metadata_field ["signature_def"] → a SignatureDefMap packed in Any.
//   * Classify / Regress / MultiInference: tf.Example input mapped onto the model's inputs and outputs as
//     tfs_examples.h and TFS_EXAMPLES.md describe. MultiInference runs the model ONCE for all its tasks;
//     every task must name the same model and version choice, method_name must be
//     "tensorflow/serving/classify" or "tensorflow/serving/regress", and a (signature, method) pair may
//     appear once.
// ModelService:
//   * GetModelStatus: every version (or the one the spec selects) with its state and status.
//   * HandleReloadConfigRequest: through ModelControl — authorised first (the "authorization: Bearer
//     <token>" metadata), PERMISSION_DENIED unless model control is on; then the config must be a
//     model_config_list (custom_model_config → INVALID_ARGUMENT, TF Serving's text), every entry valid
//     as in --model_config_file and its base_path under --model_root, else nothing changes. Realises
//     exactly that list; answers when the loads are done. As TF Serving does, the outcome is both the
//     gRPC status and ReloadConfigResponse.status.
//
// Each method decodes, asks the serving frontend (api/serving/serving_frontend.h: resolution, signature,
// deadline, cancellation before run, tf.Example tasks, status) and encodes; gRPC's types are adapted by
// api/grpc/grpc_glue.h. Errors: serval::Status → grpc::Status code for code. A missing model or version is
// NOT_FOUND with TF Serving's "Servable not found for request: Latest(name)" text (harnesses wait on it).
#pragma once

#include <grpcpp/grpcpp.h>

#include "api/json/codec_limits.h"
#include "api/model_control.h"
#include "api/request_metrics.h"
#include "api/serving/serving_frontend.h"
#include "core/inline_run.h"
#include "core/status.h"
#include "core/worker_pool.h"
#include "repository/model_manager.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace serval {

struct TfsGrpcOptions {
  // --enable_serialization_as_tensor_content: numeric outputs in tensor_content instead of *_val.
  bool serialize_as_tensor_content = false;
  CodecLimits limits = {};                     // (an initializer, so that designated initialization may leave it out)
  metrics::ServingMetrics* metrics = nullptr;  // request counts and latencies; null = not recorded
  // Runs the inference methods. REQUIRES: non-null; outlives every call (stop it only after the gRPC server
  // has shut down).
  WorkerPool* workers = nullptr;
  // Inference calls it admits run on the gRPC callback thread (core/inline_run.h); null = never. REQUIRES:
  // outlives every call.
  InlineGate* inline_gate = nullptr;
};

// Predict, Classify, Regress and MultiInference are registered raw: their requests are parsed on a worker
// within the request memory budget (api/grpc/budgeted_parse.h), not by gRPC before any check.
using TfsPredictionServiceBase = tensorflow::serving::PredictionService::WithRawCallbackMethod_Predict<
    tensorflow::serving::PredictionService::WithRawCallbackMethod_Classify<
        tensorflow::serving::PredictionService::WithRawCallbackMethod_Regress<
            tensorflow::serving::PredictionService::WithRawCallbackMethod_MultiInference<
                tensorflow::serving::PredictionService::CallbackService>>>>;

class TfsPredictionService final : public TfsPredictionServiceBase {
 public:
  // REQUIRES: `models` outlives the service.
  TfsPredictionService(const ModelManager& models, TfsGrpcOptions options);
  TfsPredictionService(const TfsPredictionService&) = delete;
  TfsPredictionService& operator=(const TfsPredictionService&) = delete;

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Regress(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Predict(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* MultiInference(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelMetadata(grpc::CallbackServerContext* context,
                                             const tensorflow::serving::GetModelMetadataRequest* request,
                                             tensorflow::serving::GetModelMetadataResponse* response) override;

 private:
  Status DoPredict(const grpc::CallbackServerContext& context, const tensorflow::serving::PredictRequest& request,
                   tensorflow::serving::PredictResponse* response, RequestTrace& trace) const;
  Status DoClassify(const grpc::CallbackServerContext& context,
                    const tensorflow::serving::ClassificationRequest& request,
                    tensorflow::serving::ClassificationResponse* response, RequestTrace& trace) const;
  Status DoRegress(const grpc::CallbackServerContext& context, const tensorflow::serving::RegressionRequest& request,
                   tensorflow::serving::RegressionResponse* response, RequestTrace& trace) const;
  Status DoMultiInference(const grpc::CallbackServerContext& context,
                          const tensorflow::serving::MultiInferenceRequest& request,
                          tensorflow::serving::MultiInferenceResponse* response, RequestTrace& trace) const;
  Status DoGetModelMetadata(const tensorflow::serving::GetModelMetadataRequest& request,
                            tensorflow::serving::GetModelMetadataResponse* response) const;

  const TfsGrpcOptions options_;
  const ServingFrontend frontend_;
};

class TfsModelService final : public tensorflow::serving::ModelService::CallbackService {
 public:
  // REQUIRES: `models`, `model_control` and `workers` outlive the service; `workers` is non-null (reloads
  // run there). A null `model_control` refuses every reload with PERMISSION_DENIED.
  TfsModelService(const ModelManager& models, ModelControl* model_control, WorkerPool* workers);
  TfsModelService(const TfsModelService&) = delete;
  TfsModelService& operator=(const TfsModelService&) = delete;

  grpc::ServerUnaryReactor* GetModelStatus(grpc::CallbackServerContext* context,
                                           const tensorflow::serving::GetModelStatusRequest* request,
                                           tensorflow::serving::GetModelStatusResponse* response) override;
  grpc::ServerUnaryReactor* HandleReloadConfigRequest(grpc::CallbackServerContext* context,
                                                      const tensorflow::serving::ReloadConfigRequest* request,
                                                      tensorflow::serving::ReloadConfigResponse* response) override;

 private:
  Status ReloadConfig(const grpc::CallbackServerContext& context,
                      const tensorflow::serving::ReloadConfigRequest& request);

  const ServingFrontend frontend_;
  ModelControl* const model_control_;
  WorkerPool* const workers_;
};

}  // namespace serval

// serval-bench's gRPC targets (tfs-grpc, kserve-grpc, grpc-echo): protobuf messages built once from
// tensors, one channel per client.
#include <grpcpp/grpcpp.h>

#include <cstring>
#include <functional>

#include "echo.grpc.pb.h"
#include "inference/grpc_service.grpc.pb.h"
#include "targets_internal.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace serval::bench {

namespace {

// ---- protobuf conversions -----------------------------------------------------------------------------

struct TfTypePair {
  DataType dtype;
  tensorflow::DataType tf;
};
constexpr TfTypePair kTfTypes[] = {
    {DataType::kFp32, tensorflow::DT_FLOAT},    {DataType::kFp64, tensorflow::DT_DOUBLE},
    {DataType::kInt32, tensorflow::DT_INT32},   {DataType::kUint8, tensorflow::DT_UINT8},
    {DataType::kInt16, tensorflow::DT_INT16},   {DataType::kInt8, tensorflow::DT_INT8},
    {DataType::kInt64, tensorflow::DT_INT64},   {DataType::kBool, tensorflow::DT_BOOL},
    {DataType::kUint16, tensorflow::DT_UINT16}, {DataType::kFp16, tensorflow::DT_HALF},
    {DataType::kUint32, tensorflow::DT_UINT32}, {DataType::kUint64, tensorflow::DT_UINT64},
};

tensorflow::DataType ToTf(DataType t) {
  for (const auto& p : kTfTypes) {
    if (p.dtype == t) return p.tf;
  }
  return tensorflow::DT_INVALID;
}

DataType FromTf(tensorflow::DataType t) {
  for (const auto& p : kTfTypes) {
    if (p.tf == t) return p.dtype;
  }
  return DataType::kInvalid;
}

StatusOr<std::vector<double>> TensorProtoValues(const tensorflow::TensorProto& proto) {
  const DataType type = FromTf(proto.dtype());
  if (!proto.tensor_content().empty()) {
    return ToDoubles(type, std::as_bytes(std::span(proto.tensor_content().data(), proto.tensor_content().size())));
  }
  std::vector<double> values;
  for (float v : proto.float_val()) values.push_back(v);
  for (double v : proto.double_val()) values.push_back(v);
  for (int v : proto.int_val()) values.push_back(v);
  for (int64_t v : proto.int64_val()) values.push_back(static_cast<double>(v));
  for (bool v : proto.bool_val()) values.push_back(v ? 1.0 : 0.0);
  return values;
}

Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  return Status(static_cast<StatusCode>(status.error_code()), "gRPC: " + status.error_message());
}

std::shared_ptr<grpc::Channel> NewChannel(const TargetConfig& config, int index) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // A distinct argument per worker gives each worker its own subchannel, i.e. its own TCP connection.
  args.SetInt("serval_bench.worker", index);
  return grpc::CreateCustomChannel(config.host + ":" + std::to_string(config.port), grpc::InsecureChannelCredentials(),
                                   args);
}

Status WaitConnected(const std::shared_ptr<grpc::Channel>& channel) {
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return Unavailable("gRPC channel did not connect within 10 s");
  }
  return Status::Ok();
}

// ---- gRPC targets -------------------------------------------------------------------------------------

class TfsGrpcClient final : public Client {
 public:
  TfsGrpcClient(const TargetConfig& config, int index, std::function<tensorflow::serving::PredictRequest()> encode,
                std::shared_ptr<const tensorflow::serving::PredictRequest> request)
      : config_(config),
        channel_(NewChannel(config, index)),
        stub_(tensorflow::serving::PredictionService::NewStub(channel_)),
        encode_(std::move(encode)),
        request_(std::move(request)) {}
  Status Connect() { return WaitConnected(channel_); }

  Status Call(bool check) override {
    grpc::ClientContext context;
    tensorflow::serving::PredictResponse response;
    grpc::Status status;
    if (config_.encode_per_request) {
      const auto request = encode_();
      status = stub_->Predict(&context, request, &response);
    } else {
      status = stub_->Predict(&context, *request_, &response);
    }
    SERVAL_RETURN_IF_ERROR(FromGrpc(status));
    if (!check) return Status::Ok();
    for (const ExpectedOutput& expected : config_.expected) {
      auto it = response.outputs().find(expected.name);
      if (it == response.outputs().end()) return Internal("wrong answer: no output " + expected.name);
      auto values = TensorProtoValues(it->second);
      if (!values.ok()) return values.status();
      SERVAL_RETURN_IF_ERROR(CheckValues(expected, *values));
    }
    return Status::Ok();
  }

 private:
  const TargetConfig& config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<tensorflow::serving::PredictionService::Stub> stub_;
  std::function<tensorflow::serving::PredictRequest()> encode_;
  std::shared_ptr<const tensorflow::serving::PredictRequest> request_;
};

class KServeGrpcClient final : public Client {
 public:
  KServeGrpcClient(const TargetConfig& config, int index, std::function<inference::ModelInferRequest()> encode,
                   std::shared_ptr<const inference::ModelInferRequest> request)
      : config_(config),
        channel_(NewChannel(config, index)),
        stub_(inference::GRPCInferenceService::NewStub(channel_)),
        encode_(std::move(encode)),
        request_(std::move(request)) {}
  Status Connect() { return WaitConnected(channel_); }

  Status Call(bool check) override {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    grpc::Status status;
    if (config_.encode_per_request) {
      const auto request = encode_();
      status = stub_->ModelInfer(&context, request, &response);
    } else {
      status = stub_->ModelInfer(&context, *request_, &response);
    }
    SERVAL_RETURN_IF_ERROR(FromGrpc(status));
    if (!check) return Status::Ok();
    for (const ExpectedOutput& expected : config_.expected) {
      int found = -1;
      for (int i = 0; i < response.outputs_size(); ++i) {
        if (response.outputs(i).name() == expected.name) found = i;
      }
      if (found < 0) return Internal("wrong answer: no output " + expected.name);
      const auto& output = response.outputs(found);
      std::vector<double> got;
      if (found < response.raw_output_contents_size()) {
        const std::string& raw = response.raw_output_contents(found);
        auto values =
            ToDoubles(DataTypeFromKServeName(output.datatype()), std::as_bytes(std::span(raw.data(), raw.size())));
        if (!values.ok()) return values.status();
        got = std::move(values).value();
      } else {
        const auto& c = output.contents();
        for (float v : c.fp32_contents()) got.push_back(v);
        for (double v : c.fp64_contents()) got.push_back(v);
        for (int v : c.int_contents()) got.push_back(v);
        for (int64_t v : c.int64_contents()) got.push_back(static_cast<double>(v));
        for (unsigned v : c.uint_contents()) got.push_back(v);
        for (uint64_t v : c.uint64_contents()) got.push_back(static_cast<double>(v));
        for (bool v : c.bool_contents()) got.push_back(v ? 1.0 : 0.0);
      }
      SERVAL_RETURN_IF_ERROR(CheckValues(expected, got));
    }
    return Status::Ok();
  }

 private:
  const TargetConfig& config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  std::function<inference::ModelInferRequest()> encode_;
  std::shared_ptr<const inference::ModelInferRequest> request_;
};

class EchoClient final : public Client {
 public:
  EchoClient(const TargetConfig& config, int index)
      : channel_(NewChannel(config, index)), stub_(serval::bench::Echo::NewStub(channel_)) {
    request_.set_payload(std::string(static_cast<size_t>(config.payload_bytes), 'x'));
  }
  Status Connect() { return WaitConnected(channel_); }
  Status Call(bool check) override {
    grpc::ClientContext context;
    EchoMessage response;
    SERVAL_RETURN_IF_ERROR(FromGrpc(stub_->Echo(&context, request_, &response)));
    if (check && response.payload() != request_.payload()) return Internal("wrong answer: echo payload differs");
    return Status::Ok();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<serval::bench::Echo::Stub> stub_;
  EchoMessage request_;
};

// Owns the config (and so the references) for the clients it creates; clients must not outlive it.
template <typename ClientType, typename Encoder>
class GrpcTarget final : public Target {
 public:
  GrpcTarget(TargetConfig config, Encoder encode) : config_(std::move(config)), encode_(std::move(encode)) {
    request_ = std::make_shared<const decltype(encode_())>(encode_());
  }
  StatusOr<std::unique_ptr<Client>> NewClient(int index) override {
    auto client = std::make_unique<ClientType>(config_, index, encode_, request_);
    SERVAL_RETURN_IF_ERROR(client->Connect());
    return std::unique_ptr<Client>(std::move(client));
  }

 private:
  TargetConfig config_;
  Encoder encode_;
  std::shared_ptr<const decltype(std::declval<Encoder>()())> request_;
};

class EchoTarget final : public Target {
 public:
  explicit EchoTarget(TargetConfig config) : config_(std::move(config)) {}
  StatusOr<std::unique_ptr<Client>> NewClient(int index) override {
    auto client = std::make_unique<EchoClient>(config_, index);
    SERVAL_RETURN_IF_ERROR(client->Connect());
    return std::unique_ptr<Client>(std::move(client));
  }

 private:
  TargetConfig config_;
};

}  // namespace

StatusOr<std::unique_ptr<Target>> MakeGrpcTarget(TargetConfig config) {
  const std::string& kind = config.kind;
  auto expected = std::make_shared<const std::vector<ExpectedOutput>>(config.expected);
  auto inputs = std::make_shared<const std::vector<Tensor>>(config.inputs);
  if (kind == "tfs-grpc") {
    const std::string model = config.model_name;
    auto encode = [inputs, model] {
      tensorflow::serving::PredictRequest request;
      request.mutable_model_spec()->set_name(model);
      for (const Tensor& t : *inputs) {
        tensorflow::TensorProto& proto = (*request.mutable_inputs())[t.name()];
        proto.set_dtype(ToTf(t.dtype()));
        for (int64_t d : t.shape()) proto.mutable_tensor_shape()->add_dim()->set_size(d);
        proto.set_tensor_content(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
      }
      return request;
    };
    return std::unique_ptr<Target>(
        std::make_unique<GrpcTarget<TfsGrpcClient, std::function<tensorflow::serving::PredictRequest()>>>(
            std::move(config), encode));
  }
  if (kind == "kserve-grpc") {
    const std::string model = config.model_name;
    auto encode = [inputs, model] {
      inference::ModelInferRequest request;
      request.set_model_name(model);
      for (const Tensor& t : *inputs) {
        auto* input = request.add_inputs();
        input->set_name(t.name());
        input->set_datatype(std::string(KServeName(t.dtype())));
        for (int64_t d : t.shape()) input->add_shape(d);
        request.add_raw_input_contents(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
      }
      return request;
    };
    return std::unique_ptr<Target>(
        std::make_unique<GrpcTarget<KServeGrpcClient, std::function<inference::ModelInferRequest()>>>(std::move(config),
                                                                                                      encode));
  }
  if (kind == "grpc-echo") return std::unique_ptr<Target>(std::make_unique<EchoTarget>(std::move(config)));
  return InvalidArgument("not a gRPC target: " + kind);
}

}  // namespace serval::bench

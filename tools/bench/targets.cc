#include "targets.h"

#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <map>

#include "core/shape.h"
#include "echo.grpc.pb.h"
#include "http_client.h"
#include "inference/grpc_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace serval::bench {

namespace {

// ---- JSON encoding ------------------------------------------------------------------------------------

template <typename T>
void AppendValue(std::string* out, const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  char text[64];
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
    out->append(text, end);
  } else {
    auto [end, ec] = std::to_chars(text, text + sizeof(text), static_cast<int64_t>(value));
    out->append(text, end);
  }
}

void AppendElement(std::string* out, DataType type, const std::byte* p) {
  switch (type) {
    case DataType::kFp32:
      AppendValue<float>(out, p);
      break;
    case DataType::kFp64:
      AppendValue<double>(out, p);
      break;
    case DataType::kInt64:
      AppendValue<int64_t>(out, p);
      break;
    case DataType::kInt32:
      AppendValue<int32_t>(out, p);
      break;
    case DataType::kInt8:
      AppendValue<int8_t>(out, p);
      break;
    case DataType::kUint8:
      AppendValue<uint8_t>(out, p);
      break;
    case DataType::kBool:
      out->append(*reinterpret_cast<const uint8_t*>(p) ? "true" : "false");
      break;
    default:
      out->append("null");
      break;  // MakeInputs never produces other types
  }
}

// Row-major nested arrays following the tensor's shape (TF Serving's columnar format).
void AppendNested(std::string* out, const Tensor& t, size_t dim, size_t* index) {
  const size_t element = ElementSize(t.dtype());
  if (dim == t.shape().size()) {
    AppendElement(out, t.dtype(), t.bytes().data() + (*index)++ * element);
    return;
  }
  out->push_back('[');
  for (int64_t i = 0; i < t.shape()[dim]; ++i) {
    if (i) out->push_back(',');
    AppendNested(out, t, dim + 1, index);
  }
  out->push_back(']');
}

void AppendFlat(std::string* out, const Tensor& t) {
  const size_t element = ElementSize(t.dtype());
  out->push_back('[');
  for (int64_t i = 0; i < t.element_count(); ++i) {
    if (i) out->push_back(',');
    AppendElement(out, t.dtype(), t.bytes().data() + i * element);
  }
  out->push_back(']');
}

void AppendShape(std::string* out, const Shape& shape) {
  out->push_back('[');
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out->push_back(',');
    out->append(std::to_string(shape[i]));
  }
  out->push_back(']');
}

std::string HttpPost(const std::string& path, const std::string& content_type, const std::string& body,
                     int64_t inference_header_length) {
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type +
                        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (inference_header_length >= 0) {
    request += "Inference-Header-Content-Length: " + std::to_string(inference_header_length) + "\r\n";
  }
  request += "\r\n";
  request += body;
  return request;
}

// ---- JSON decoding ------------------------------------------------------------------------------------

Status Flatten(const rapidjson::Value& v, int depth, std::vector<double>* out) {
  if (depth > 64) return Internal("response JSON nested deeper than 64");
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) SERVAL_RETURN_IF_ERROR(Flatten(item, depth + 1, out));
  } else if (v.IsNumber()) {
    out->push_back(v.GetDouble());
  } else if (v.IsBool()) {
    out->push_back(v.GetBool() ? 1.0 : 0.0);
  } else {
    return Internal("response JSON holds a non-numeric output value");
  }
  return Status::Ok();
}

Status ParseJson(std::string_view text, rapidjson::Document* doc) {
  doc->Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag>(text.data(), text.size());
  if (doc->HasParseError()) return Internal("response is not valid JSON");
  return Status::Ok();
}

Status CheckJsonOutput(const ExpectedOutput& expected, const rapidjson::Value& value) {
  std::vector<double> got;
  SERVAL_RETURN_IF_ERROR(Flatten(value, 0, &got));
  return CheckValues(expected, got);
}

Status HttpError(const HttpResponse& response) {
  return Internal("HTTP " + std::to_string(response.status) + ": " + std::string(response.body.substr(0, 300)));
}

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

// ---- HTTP targets -------------------------------------------------------------------------------------

// One kind of REST exchange: how to build the request bytes and how to check a response.
struct RestProtocol {
  std::function<std::string()> encode;
  std::function<Status(const HttpResponse&)> check;
};

class RestClient final : public Client {
 public:
  RestClient(std::shared_ptr<const RestProtocol> protocol, std::shared_ptr<const std::string> request,
             bool encode_per_request)
      : protocol_(std::move(protocol)), request_(std::move(request)), encode_per_request_(encode_per_request) {}

  Status Connect(const TargetConfig& config) { return http_.Connect(config.host, config.port); }

  Status Call(bool check) override {
    HttpResponse response;
    if (encode_per_request_) {
      const std::string request = protocol_->encode();
      SERVAL_RETURN_IF_ERROR(http_.Exchange(request, &response));
    } else {
      SERVAL_RETURN_IF_ERROR(http_.Exchange(*request_, &response));
    }
    if (response.status != 200) return HttpError(response);
    return check ? protocol_->check(response) : Status::Ok();
  }

 private:
  std::shared_ptr<const RestProtocol> protocol_;
  std::shared_ptr<const std::string> request_;
  bool encode_per_request_;
  HttpClient http_;
};

class RestTarget final : public Target {
 public:
  RestTarget(TargetConfig config, RestProtocol protocol)
      : config_(std::move(config)), protocol_(std::make_shared<const RestProtocol>(std::move(protocol))) {
    request_ = std::make_shared<const std::string>(protocol_->encode());
  }
  StatusOr<std::unique_ptr<Client>> NewClient(int) override {
    auto client = std::make_unique<RestClient>(protocol_, request_, config_.encode_per_request);
    SERVAL_RETURN_IF_ERROR(client->Connect(config_));
    return std::unique_ptr<Client>(std::move(client));
  }

 private:
  TargetConfig config_;
  std::shared_ptr<const RestProtocol> protocol_;
  std::shared_ptr<const std::string> request_;
};

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

// ---- in process ---------------------------------------------------------------------------------------

class InProcessClient final : public Client {
 public:
  explicit InProcessClient(const TargetConfig& config) : config_(config) {}
  Status Call(bool check) override {
    SERVAL_RETURN_IF_ERROR(config_.session->Run(config_.inputs, {}, &outputs_));
    if (!check) return Status::Ok();
    if (outputs_.size() != config_.expected.size()) return Internal("wrong answer: output count differs");
    for (size_t i = 0; i < outputs_.size(); ++i) {
      auto values = ToDoubles(outputs_[i].dtype(), outputs_[i].bytes());
      if (!values.ok()) return values.status();
      SERVAL_RETURN_IF_ERROR(CheckValues(config_.expected[i], *values));
    }
    return Status::Ok();
  }

 private:
  const TargetConfig& config_;
  std::vector<Tensor> outputs_;
};

class InProcessTarget final : public Target {
 public:
  explicit InProcessTarget(TargetConfig config) : config_(std::move(config)) {}
  StatusOr<std::unique_ptr<Client>> NewClient(int) override {
    return std::unique_ptr<Client>(std::make_unique<InProcessClient>(config_));
  }

 private:
  TargetConfig config_;
};

}  // namespace

const std::vector<std::string>& TargetKinds() {
  static const std::vector<std::string> kinds = {"tfs-rest",    "tfs-grpc",  "kserve-rest", "kserve-rest-binary",
                                                 "kserve-grpc", "inprocess", "http-get",    "grpc-echo"};
  return kinds;
}

bool IsModelTarget(const std::string& kind) { return kind != "http-get" && kind != "grpc-echo"; }

std::string TfsRestBody(const std::vector<Tensor>& inputs) {
  std::string body = "{\"inputs\":{";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) body.push_back(',');
    body += "\"" + inputs[i].name() + "\":";
    size_t index = 0;
    AppendNested(&body, inputs[i], 0, &index);
  }
  body += "}}";
  return body;
}

std::string KServeJsonBody(const std::vector<Tensor>& inputs) {
  std::string body = "{\"inputs\":[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) body.push_back(',');
    body += "{\"name\":\"" + inputs[i].name() + "\",\"shape\":";
    AppendShape(&body, inputs[i].shape());
    body += ",\"datatype\":\"" + std::string(KServeName(inputs[i].dtype())) + "\",\"data\":";
    AppendFlat(&body, inputs[i]);
    body += "}";
  }
  body += "]}";
  return body;
}

std::string KServeBinaryBody(const std::vector<Tensor>& inputs, const std::vector<ExpectedOutput>& outputs,
                             size_t* header_length) {
  std::string body = "{\"inputs\":[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) body.push_back(',');
    body += "{\"name\":\"" + inputs[i].name() + "\",\"shape\":";
    AppendShape(&body, inputs[i].shape());
    body += ",\"datatype\":\"" + std::string(KServeName(inputs[i].dtype())) +
            "\",\"parameters\":{\"binary_data_size\":" + std::to_string(inputs[i].bytes().size()) + "}}";
  }
  body += "],\"outputs\":[";
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (i) body.push_back(',');
    body += "{\"name\":\"" + outputs[i].name + "\",\"parameters\":{\"binary_data\":true}}";
  }
  body += "]}";
  *header_length = body.size();
  for (const Tensor& t : inputs) body.append(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
  return body;
}

Status CheckTfsRestResponse(std::string_view body, const std::vector<ExpectedOutput>& expected) {
  rapidjson::Document doc;
  SERVAL_RETURN_IF_ERROR(ParseJson(body, &doc));
  if (!doc.IsObject() || !doc.HasMember("outputs")) return Internal("wrong answer: no \"outputs\" in response");
  const rapidjson::Value& outputs = doc["outputs"];
  if (!outputs.IsObject()) {
    // TF Serving's columnar format drops the name when the signature has a single output.
    if (expected.size() != 1) return Internal("wrong answer: unnamed output for a multi-output model");
    return CheckJsonOutput(expected[0], outputs);
  }
  for (const ExpectedOutput& e : expected) {
    auto it = outputs.FindMember(e.name.c_str());
    if (it == outputs.MemberEnd()) return Internal("wrong answer: no output " + e.name);
    SERVAL_RETURN_IF_ERROR(CheckJsonOutput(e, it->value));
  }
  return Status::Ok();
}

Status CheckKServeRestResponse(std::string_view body, int64_t header_length,
                               const std::vector<ExpectedOutput>& expected) {
  std::string_view json = body, binary;
  if (header_length >= 0) {
    if (static_cast<size_t>(header_length) > body.size()) {
      return Internal("Inference-Header-Content-Length exceeds the body");
    }
    json = body.substr(0, static_cast<size_t>(header_length));
    binary = body.substr(static_cast<size_t>(header_length));
  }
  rapidjson::Document doc;
  SERVAL_RETURN_IF_ERROR(ParseJson(json, &doc));
  if (!doc.IsObject() || !doc.HasMember("outputs") || !doc["outputs"].IsArray()) {
    return Internal("wrong answer: no \"outputs\" array in response");
  }
  std::map<std::string, std::vector<double>> got;
  for (const auto& output : doc["outputs"].GetArray()) {
    if (!output.IsObject() || !output.HasMember("name") || !output["name"].IsString()) {
      return Internal("wrong answer: output without a name");
    }
    std::vector<double>& values = got[output["name"].GetString()];
    if (output.HasMember("data")) {
      SERVAL_RETURN_IF_ERROR(Flatten(output["data"], 0, &values));
      continue;
    }
    const auto params = output.FindMember("parameters");
    if (params == output.MemberEnd() || !params->value.IsObject() || !params->value.HasMember("binary_data_size") ||
        !params->value["binary_data_size"].IsUint64() || !output.HasMember("datatype") ||
        !output["datatype"].IsString()) {
      return Internal("wrong answer: output with neither data nor binary_data_size");
    }
    const uint64_t size = params->value["binary_data_size"].GetUint64();
    if (size > binary.size()) return Internal("binary output larger than the body");
    auto values_or = ToDoubles(DataTypeFromKServeName(output["datatype"].GetString()),
                               std::as_bytes(std::span(binary.data(), static_cast<size_t>(size))));
    if (!values_or.ok()) return values_or.status();
    values = std::move(values_or).value();
    binary.remove_prefix(static_cast<size_t>(size));
  }
  for (const ExpectedOutput& e : expected) {
    auto it = got.find(e.name);
    if (it == got.end()) return Internal("wrong answer: no output " + e.name);
    SERVAL_RETURN_IF_ERROR(CheckValues(e, it->second));
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Target>> MakeTarget(TargetConfig config) {
  const std::string& kind = config.kind;
  if (IsModelTarget(kind)) {
    if (config.inputs.empty()) return InvalidArgument(kind + " needs the model's inputs (--model_file)");
    if (kind != "inprocess" && config.model_name.empty()) return InvalidArgument(kind + " needs --model_name");
  }
  if (kind != "inprocess" && config.port <= 0) return InvalidArgument(kind + " needs --port");
  auto expected = std::make_shared<const std::vector<ExpectedOutput>>(config.expected);
  auto inputs = std::make_shared<const std::vector<Tensor>>(config.inputs);
  if (kind == "tfs-rest") {
    const std::string path = "/v1/models/" + config.model_name + ":predict";
    RestProtocol protocol{[inputs, path] { return HttpPost(path, "application/json", TfsRestBody(*inputs), -1); },
                          [expected](const HttpResponse& r) { return CheckTfsRestResponse(r.body, *expected); }};
    return std::unique_ptr<Target>(std::make_unique<RestTarget>(std::move(config), std::move(protocol)));
  }
  if (kind == "kserve-rest" || kind == "kserve-rest-binary") {
    const std::string path = "/v2/models/" + config.model_name + "/infer";
    std::function<std::string()> encode;
    if (kind == "kserve-rest") {
      encode = [inputs, path] { return HttpPost(path, "application/json", KServeJsonBody(*inputs), -1); };
    } else {
      encode = [inputs, expected, path] {
        size_t header_length = 0;
        std::string body = KServeBinaryBody(*inputs, *expected, &header_length);
        return HttpPost(path, "application/octet-stream", body, static_cast<int64_t>(header_length));
      };
    }
    RestProtocol protocol{std::move(encode), [expected](const HttpResponse& r) {
                            return CheckKServeRestResponse(r.body, r.inference_header_length, *expected);
                          }};
    return std::unique_ptr<Target>(std::make_unique<RestTarget>(std::move(config), std::move(protocol)));
  }
  if (kind == "http-get") {
    const std::string request = "GET " + config.http_path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    RestProtocol protocol{[request] { return request; }, [](const HttpResponse&) { return Status::Ok(); }};
    return std::unique_ptr<Target>(std::make_unique<RestTarget>(std::move(config), std::move(protocol)));
  }
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
  if (kind == "inprocess") {
    if (!config.session) return InvalidArgument("inprocess needs a loaded session");
    return std::unique_ptr<Target>(std::make_unique<InProcessTarget>(std::move(config)));
  }
  return InvalidArgument("unknown target " + kind);
}

}  // namespace serval::bench

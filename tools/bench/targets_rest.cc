// serval-bench's REST targets (tfs-rest, kserve-rest, kserve-rest-binary, http-get): JSON bodies built from
// tensors, responses checked against the references, one HTTP/1.1 connection per client.
#include <rapidjson/document.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <map>

#include "core/shape.h"
#include "http_client.h"
#include "targets_internal.h"

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

}  // namespace

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

StatusOr<std::unique_ptr<Target>> MakeRestTarget(TargetConfig config) {
  const std::string& kind = config.kind;
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
    // Each call hands out its own copy of the request text.
    auto encode = [request] { return request; };  // NOLINT(performance-no-automatic-move)
    RestProtocol protocol{std::move(encode), [](const HttpResponse&) { return Status::Ok(); }};
    return std::unique_ptr<Target>(std::make_unique<RestTarget>(std::move(config), std::move(protocol)));
  }
  return InvalidArgument("not a REST target: " + kind);
}

}  // namespace serval::bench

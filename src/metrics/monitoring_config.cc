#include "metrics/monitoring_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>

#include "tensorflow_serving/config/monitoring_config.pb.h"

namespace serval::metrics {
namespace {

// Collects the parser's messages instead of letting protobuf log them.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!text_.empty()) text_ += "; ";
    text_ += "line " + std::to_string(line + 1) + " column " + std::to_string(column + 1) + ": " + message;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace

StatusOr<MonitoringConfig> ParseMonitoringConfig(std::string_view text) {
  tensorflow::serving::MonitoringConfig proto;
  ErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &proto)) {
    return InvalidArgument("cannot parse monitoring config: " + errors.text());
  }
  MonitoringConfig config;
  config.prometheus_enabled = proto.prometheus_config().enable();
  const std::string& path = proto.prometheus_config().path();
  if (!path.empty()) {
    if (path.front() != '/') {
      return InvalidArgument("prometheus_config.path must start with '/', got '" + path + "'");
    }
    for (char c : path) {
      auto byte = static_cast<unsigned char>(c);
      if (byte <= 0x20 || byte == 0x7f || c == '?' || c == '#') {
        return InvalidArgument("prometheus_config.path holds a character not allowed in a URL path");
      }
    }
    config.prometheus_path = path;
  }
  return config;
}

StatusOr<MonitoringConfig> ReadMonitoringConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return InvalidArgument("cannot read monitoring config file '" + path + "'");
  std::stringstream text;
  text << file.rdbuf();
  StatusOr<MonitoringConfig> config = ParseMonitoringConfig(text.str());
  if (!config.ok()) {
    return InvalidArgument("Invalid protobuf file: '" + path + "': " + config.status().message());
  }
  return config;
}

}  // namespace serval::metrics

#include "metrics/monitoring_config.h"

#include <fstream>
#include <sstream>

#include "proto/text_proto.h"
#include "tensorflow_serving/config/monitoring_config.pb.h"

namespace serval::metrics {
StatusOr<MonitoringConfig> ParseMonitoringConfig(std::string_view text) {
  tensorflow::serving::MonitoringConfig proto;
  SERVAL_RETURN_IF_ERROR(ParseTextProto(text, "monitoring config", &proto));
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

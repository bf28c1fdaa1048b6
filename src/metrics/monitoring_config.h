// MonitoringConfig: what TF Serving's --monitoring_config_file says, read from its text format
// (`prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }`), accepted as TF Serving
// users write it.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace serval::metrics {

// TF Serving's PrometheusExporter::kPrometheusPath: the path used when the config names none.
inline constexpr std::string_view kDefaultPrometheusPath = "/monitoring/prometheus/metrics";

struct MonitoringConfig {
  bool prometheus_enabled = false;
  std::string prometheus_path{kDefaultPrometheusPath};  // starts with '/'
};

// Parses the text of a MonitoringConfig. INVALID_ARGUMENT on unparsable text or a path that does not start
// with '/' or holds whitespace, control characters, '?' or '#'.
StatusOr<MonitoringConfig> ParseMonitoringConfig(std::string_view text);
// Reads and parses a file; errors name the file ("Invalid protobuf file: '<path>': ...").
StatusOr<MonitoringConfig> ReadMonitoringConfigFile(const std::string& path);

}  // namespace serval::metrics

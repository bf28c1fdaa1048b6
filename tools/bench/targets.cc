#include "targets.h"

#include "targets_internal.h"

namespace serval::bench {

const std::vector<std::string>& TargetKinds() {
  static const std::vector<std::string> kinds = {"tfs-rest",    "tfs-grpc",  "kserve-rest", "kserve-rest-binary",
                                                 "kserve-grpc", "inprocess", "http-get",    "grpc-echo"};
  return kinds;
}

bool IsModelTarget(const std::string& kind) { return kind != "http-get" && kind != "grpc-echo"; }

StatusOr<std::unique_ptr<Target>> MakeTarget(TargetConfig config) {
  const std::string& kind = config.kind;
  if (IsModelTarget(kind)) {
    if (config.inputs.empty()) return InvalidArgument(kind + " needs the model's inputs (--model_file)");
    if (kind != "inprocess" && config.model_name.empty()) return InvalidArgument(kind + " needs --model_name");
  }
  if (kind != "inprocess" && config.port <= 0) return InvalidArgument(kind + " needs --port");
  if (kind == "tfs-rest" || kind == "kserve-rest" || kind == "kserve-rest-binary" || kind == "http-get") {
    return MakeRestTarget(std::move(config));
  }
  if (kind == "tfs-grpc" || kind == "kserve-grpc" || kind == "grpc-echo") return MakeGrpcTarget(std::move(config));
  if (kind == "inprocess") return MakeInProcessTarget(std::move(config));
  return InvalidArgument("unknown target " + kind);
}

}  // namespace serval::bench

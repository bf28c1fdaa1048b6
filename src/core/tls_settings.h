// TlsSettings: the server's TLS identity and client-certificate policy, shared by the gRPC and REST
// listeners (read from TF Serving's --ssl_config_file).
#pragma once

#include <string>

namespace serval {

struct TlsSettings {
  std::string server_key;      // PEM private key
  std::string server_cert;     // PEM certificate chain (leaf first)
  std::string custom_ca;       // PEM CA certificates client certificates must chain to; empty = none
  bool client_verify = false;  // require and verify a client certificate (mTLS); REQUIRES custom_ca

  bool enabled() const { return !server_cert.empty(); }
};

}  // namespace serval

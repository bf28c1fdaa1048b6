// TlsReloader: certificate reload on file change for TF Serving's --ssl_config_file.
//
// gRPC reads its key, chain and CA from PEM files in a private directory (mode 0700, files 0600) that this
// class writes from the SSLConfig, and re-reads them itself (GrpcServerOptions::tls_files); REST swaps its
// TLS context (HttpServer::ReloadTls). Every period the config file is read again; when its text changed
// and the new settings are usable (CheckTlsSettings: the PEMs parse and the key matches the certificate),
// both listeners use them for new connections. Connections already open keep their certificates: nothing is
// dropped. An unusable or unreadable file changes nothing (logged; tried again next period).
// client_verify cannot change without a restart (gRPC fixes the client-certificate policy when the port
// opens): such a file is refused the same way, with that reason.
//
// Thread-safety: PollOnce may be called from any thread; the destructor stops and joins the watcher's thread
// and removes the directory.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/grpc/grpc_server.h"
#include "api/http/http_server.h"
#include "core/periodic_thread.h"
#include "core/status.h"
#include "core/tls_settings.h"

namespace serval {

class TlsReloader {
 public:
  // `applied_text`/`applied`: the config file's text and settings the server starts with. Writes the PEM
  // files; `period_seconds` > 0.
  static StatusOr<std::unique_ptr<TlsReloader>> Create(std::string config_path, std::string applied_text,
                                                       const TlsSettings& applied, int period_seconds);
  ~TlsReloader();
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // What the gRPC server should watch.
  GrpcServerOptions::TlsFiles grpc_files() const;
  // The REST server that takes new settings too (null: none, or REST without TLS). REQUIRES: before Start.
  void set_http_server(HttpServer* http) { http_ = http; }

  // Starts the thread that calls PollOnce every period.
  void Start();
  // Reads the file once: OK when unchanged or applied; otherwise why nothing changed.
  Status PollOnce();

 private:
  TlsReloader(std::string config_path, std::string applied_text, const TlsSettings& applied, int period_seconds);
  Status WritePemFiles(const TlsSettings& settings) const;

  const std::string config_path_;
  const bool client_verify_;
  const bool has_ca_;  // custom_ca at start: gRPC watches a CA file (it cannot start watching one later)
  const int period_seconds_;
  std::string directory_;  // the private directory of the PEM files gRPC watches
  HttpServer* http_ = nullptr;

  std::mutex poll_mutex_;  // one PollOnce at a time; guards applied_text_
  std::string applied_text_;

  PeriodicThread thread_;  // last: stopped and joined before the members its task uses go
};

}  // namespace serval

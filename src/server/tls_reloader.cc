#include "server/tls_reloader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include <spdlog/spdlog.h>

#include "repository/config_file_watcher.h"
#include "server/server_options.h"

namespace serval {
namespace {

constexpr const char* kKeyFile = "server_key.pem";
constexpr const char* kCertFile = "server_cert.pem";
constexpr const char* kCaFile = "custom_ca.pem";

// Writes `text` to `path` whole, owner-only, through a temporary file renamed over it: gRPC's watcher never
// reads a half-written file.
Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("tls: cannot write " + temporary + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      return Internal("tls: cannot write " + temporary + ": " + std::strerror(error));
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
    return Internal("tls: cannot replace " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

TlsReloader::TlsReloader(std::string config_path, std::string applied_text, const TlsSettings& applied,
                         int period_seconds)
    : config_path_(std::move(config_path)),
      client_verify_(applied.client_verify),
      has_ca_(!applied.custom_ca.empty()),
      period_seconds_(period_seconds),
      applied_text_(std::move(applied_text)) {}

StatusOr<std::unique_ptr<TlsReloader>> TlsReloader::Create(std::string config_path, std::string applied_text,
                                                           const TlsSettings& applied, int period_seconds) {
  if (period_seconds <= 0) return InvalidArgument("tls: the reload period must be positive");
  std::unique_ptr<TlsReloader> reloader(
      new TlsReloader(std::move(config_path), std::move(applied_text), applied, period_seconds));
  std::error_code ec;
  std::string pattern = (std::filesystem::temp_directory_path(ec) / "serval-tls-XXXXXX").string();
  if (ec) pattern = "/tmp/serval-tls-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {  // mode 0700
    return Internal("tls: cannot create a private directory for the certificates: " +
                    std::string(std::strerror(errno)));
  }
  reloader->directory_ = pattern;
  SERVAL_RETURN_IF_ERROR(reloader->WritePemFiles(applied));
  return reloader;
}

TlsReloader::~TlsReloader() {
  thread_.Stop();
  if (!directory_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(directory_, ec);
  }
}

GrpcServerOptions::TlsFiles TlsReloader::grpc_files() const {
  GrpcServerOptions::TlsFiles files;
  files.key_path = directory_ + "/" + kKeyFile;
  files.cert_path = directory_ + "/" + kCertFile;
  if (has_ca_) files.ca_path = directory_ + "/" + kCaFile;
  files.refresh_seconds = 1;  // reading three small files a second costs nothing; the config file sets the pace
  return files;
}

Status TlsReloader::WritePemFiles(const TlsSettings& settings) const {
  const GrpcServerOptions::TlsFiles files = grpc_files();
  // The CA first (it checks clients, not the identity), then the key and the chain: gRPC's watcher checks the
  // files' times around its reads and retries a pair caught between the two renames.
  if (has_ca_) SERVAL_RETURN_IF_ERROR(WriteAtomically(files.ca_path, settings.custom_ca));
  SERVAL_RETURN_IF_ERROR(WriteAtomically(files.key_path, settings.server_key));
  return WriteAtomically(files.cert_path, settings.server_cert);
}

void TlsReloader::Start() {
  thread_.Start(std::chrono::seconds(period_seconds_), [this] {
    if (Status polled = PollOnce(); !polled.ok()) {
      spdlog::error("--ssl_config_file: certificates not reloaded, the previous ones stay: {}", polled.message());
    }
  });
}

Status TlsReloader::PollOnce() {
  std::lock_guard<std::mutex> lock(poll_mutex_);
  std::string text;
  SERVAL_RETURN_IF_ERROR(ReadConfigText(config_path_, &text));
  if (text == applied_text_) return Status::Ok();
  StatusOr<TlsSettings> settings = ParseSslConfig(text);
  if (!settings.ok()) return settings.status();
  if (!settings->enabled()) return InvalidArgument("the new file has no server_cert (TLS cannot be turned off live)");
  if (settings->client_verify != client_verify_) {
    return InvalidArgument("client_verify changed; that takes a restart");
  }
  if (settings->custom_ca.empty() == has_ca_) {
    return InvalidArgument(has_ca_ ? "custom_ca was removed; that takes a restart"
                                   : "custom_ca was added; that takes a restart");
  }
  SERVAL_RETURN_IF_ERROR(CheckTlsSettings(*settings));
  if (http_ != nullptr) SERVAL_RETURN_IF_ERROR(http_->ReloadTls(*settings));
  SERVAL_RETURN_IF_ERROR(WritePemFiles(*settings));
  applied_text_ = std::move(text);
  spdlog::info("--ssl_config_file changed: new connections use the new key and certificates (gRPC within a second)");
  return Status::Ok();
}

}  // namespace serval

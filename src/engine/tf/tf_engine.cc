#include "engine/tf/tf_engine.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <spdlog/spdlog.h>

#include "core/usable_cores.h"
#include "engine/engine_stats.h"
#include "engine/tf/tf_wire.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"

extern char** environ;

namespace serval {
namespace {

using tfwire::Kind;

// How long a caller whose deadline passed waits for TensorFlow to report the timeout itself before it is
// answered anyway (the step's late result is then dropped).
constexpr auto kDeadlineGrace = std::chrono::milliseconds(250);
// How often a waiting caller looks at its client-gone probe.
constexpr auto kClientProbeInterval = std::chrono::milliseconds(20);
// How long an unload waits for the worker to close a session (a hung worker must not hang an unload).
constexpr auto kUnloadTimeout = std::chrono::seconds(5);
// A worker that dies again within this long after starting is not restarted before it has passed.
constexpr auto kRestartBackoff = std::chrono::seconds(1);

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool IsExecutable(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// One reply of the worker.
struct Reply {
  Kind kind = Kind::kError;
  std::shared_ptr<std::string> payload;
};

// The connection to one worker process and its restarts. Shared by the engine and every session.
class WorkerClient {
 public:
  explicit WorkerClient(TfEngineOptions options) : options_(std::move(options)) {}
  ~WorkerClient() { Shutdown(); }

  // Sends one call built by `fill` and waits for its reply, or for `context` to give up (then
  // DEADLINE_EXCEEDED / CANCELLED). `*generation` is the worker generation that got the call.
  // `start`: start the worker when it is not running (false: fail UNAVAILABLE instead).
  StatusOr<Reply> Call(Kind kind, const std::function<Status(tfwire::Writer&)>& fill, const RunContext& context,
                       uint64_t* generation, bool start = true) {
    auto pending = std::make_shared<Pending>();
    uint64_t id;
    {
      std::unique_lock lock(mutex_);
      if (!running_ && !start) return Unavailable("the TensorFlow worker is not running");
      SERVAL_RETURN_IF_ERROR(EnsureStartedLocked());
      id = ++next_call_id_;
      pending_.emplace(id, pending);
      if (generation != nullptr) *generation = generation_;
    }
    tfwire::Writer writer(kind, id);
    Status filled = fill(writer);
    StatusOr<std::string> frame = filled.ok() ? std::move(writer).Finish() : StatusOr<std::string>(filled);
    if (!frame.ok()) {
      Forget(id);
      return frame.status();
    }
    {
      std::lock_guard write_lock(write_mutex_);
      if (!tfwire::WriteAll(fd_, *frame)) {
        Forget(id);
        return Unavailable("the TensorFlow worker is not reachable");
      }
    }
    std::unique_lock lock(pending->mutex);
    while (!pending->done) {
      if (context.Unbounded()) {
        pending->ready.wait(lock);
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      if (context.deadline != kNoDeadline && now >= context.deadline + kDeadlineGrace) {
        lock.unlock();
        Forget(id);
        return DeadlineExceeded("the TensorFlow run passed its deadline");
      }
      if (context.client_gone && context.client_gone()) {
        lock.unlock();
        Forget(id);
        GlobalEngineStats().runs_cancelled_client_gone.fetch_add(1, std::memory_order_relaxed);
        return Cancelled("the client went away while the model ran");
      }
      auto wake = now + kClientProbeInterval;
      if (context.deadline != kNoDeadline) wake = std::min(wake, context.deadline + kDeadlineGrace);
      pending->ready.wait_until(lock, wake);
    }
    if (!pending->error.ok()) return pending->error;
    if (pending->reply.kind == Kind::kError) return tfwire::ReadError(*pending->reply.payload);
    return pending->reply;
  }

  uint64_t generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }

  void Shutdown() {
    std::thread reader;
    {
      std::lock_guard lock(mutex_);
      shutting_down_ = true;
      if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // the worker sees EOF and exits; the reader sees EOF
      reader = std::move(reader_);
    }
    if (reader.joinable()) reader.join();
  }

 private:
  struct Pending {
    std::mutex mutex;
    std::condition_variable ready;
    bool done = false;
    Status error;
    Reply reply;
  };

  void Forget(uint64_t id) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
  }

  // REQUIRES: mutex_ held.
  Status EnsureStartedLocked() {
    if (running_) return Status::Ok();
    if (reader_.joinable()) reader_.join();  // the old reader has seen EOF and is leaving
    const auto now = std::chrono::steady_clock::now();
    if (generation_ > 0 && now - last_start_ < kRestartBackoff) {
      return Unavailable("the TensorFlow worker exited and is restarting; try again");
    }
    StatusOr<std::string> worker = FindTfWorker(options_);
    if (!worker.ok()) return worker.status();
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return Unavailable(std::string("socketpair: ") + std::strerror(errno));
    }
    const int cores = UsableCores();
    const int threads = options_.worker_threads > 0 ? options_.worker_threads : 4 * cores;
    const int intra = options_.intra_op_threads > 0 ? options_.intra_op_threads : cores;
    const int inter = options_.inter_op_threads > 0 ? options_.inter_op_threads : cores;
    std::vector<std::string> args = {*worker, "--fd=3", "--intra=" + std::to_string(intra),
                                     "--inter=" + std::to_string(inter), "--threads=" + std::to_string(threads)};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    // TensorFlow's informational start-up lines would flood the server log; its warnings still show.
    std::vector<std::string> env_strings;
    bool has_log_level = false;
    for (char** e = environ; *e != nullptr; ++e) {
      env_strings.emplace_back(*e);
      if (std::strncmp(*e, "TF_CPP_MIN_LOG_LEVEL=", 21) == 0) has_log_level = true;
    }
    if (!has_log_level) env_strings.emplace_back("TF_CPP_MIN_LOG_LEVEL=1");
    std::vector<char*> envp;
    envp.reserve(env_strings.size() + 1);
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 3);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, worker->c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return Unavailable("cannot start the TensorFlow worker " + *worker + ": " + std::strerror(rc));
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fds[0];
    pid_ = pid;
    running_ = true;
    ++generation_;
    last_start_ = now;
    spdlog::info("TensorFlow worker started (pid {}, generation {}; intra-op {}, inter-op {}, {} run threads)", pid,
                 generation_, intra, inter, threads);
    reader_ = std::thread([this, fd = fd_, pid] { ReadLoop(fd, pid); });
    return Status::Ok();
  }

  void ReadLoop(int fd, pid_t pid) {
    char header_bytes[tfwire::kHeaderBytes];
    while (tfwire::ReadAll(fd, header_bytes, sizeof header_bytes)) {
      const tfwire::FrameHeader header = tfwire::DecodeHeader(header_bytes);
      auto payload = std::make_shared<std::string>(header.payload_bytes, '\0');
      if (!tfwire::ReadAll(fd, payload->data(), payload->size())) break;
      std::shared_ptr<Pending> pending;
      {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(header.call_id);
        if (it == pending_.end()) continue;  // the caller gave up (deadline, client gone)
        pending = std::move(it->second);
        pending_.erase(it);
      }
      std::lock_guard lock(pending->mutex);
      pending->reply = Reply{header.kind, std::move(payload)};
      pending->done = true;
      pending->ready.notify_all();
    }
    // EOF: the worker exited (or Shutdown). Everything in flight fails; the next call restarts it.
    int wait_status = 0;
    ::kill(pid, SIGKILL);  // a worker that closed its socket but lingers is no use
    ::waitpid(pid, &wait_status, 0);
    std::string how = WIFSIGNALED(wait_status) ? "killed by signal " + std::to_string(WTERMSIG(wait_status))
                                               : "exit status " + std::to_string(WEXITSTATUS(wait_status));
    std::map<uint64_t, std::shared_ptr<Pending>> orphans;
    bool expected;
    {
      std::lock_guard lock(mutex_);
      orphans.swap(pending_);
      running_ = false;
      expected = shutting_down_;
    }
    if (!orphans.empty() || !expected) {
      spdlog::warn("TensorFlow worker (pid {}) ended ({}); {} calls in flight failed", pid, how, orphans.size());
    }
    for (auto& [id, pending] : orphans) {
      std::lock_guard lock(pending->mutex);
      pending->error = Unavailable("the TensorFlow worker ended (" + how + ") while the model ran");
      pending->done = true;
      pending->ready.notify_all();
    }
  }

  const TfEngineOptions options_;
  mutable std::mutex mutex_;  // guards everything below but write_mutex_'s writes
  std::mutex write_mutex_;    // one frame at a time on fd_
  int fd_ = -1;
  pid_t pid_ = -1;
  bool running_ = false;
  bool shutting_down_ = false;
  uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point last_start_{};
  uint64_t next_call_id_ = 0;
  std::map<uint64_t, std::shared_ptr<Pending>> pending_;
  std::thread reader_;
};

class TfModelSession final : public ModelSession {
 public:
  TfModelSession(std::shared_ptr<WorkerClient> client, std::string export_dir, std::vector<std::string> tags)
      : client_(std::move(client)), export_dir_(std::move(export_dir)), tags_(std::move(tags)) {
    default_.check_shapes = false;
  }

  // REQUIRES: before the session is shared with any other thread.
  void SetSignatures(std::vector<SignatureDef> defs) {
    defs_ = std::move(defs);
    for (const SignatureDef& def : defs_) {
      if (def.name == kDefaultSignatureName) default_ = def.io;
    }
    default_.check_shapes = false;
  }
  ~TfModelSession() override {
    std::lock_guard lock(mutex_);
    if (remote_id_ == 0 || client_->generation() != generation_) return;
    const uint64_t id = remote_id_;
    (void)client_->Call(
        Kind::kUnload,
        [id](tfwire::Writer& w) {
          w.U64(id);
          return Status::Ok();
        },
        RunContext{std::chrono::steady_clock::now() + kUnloadTimeout, nullptr}, nullptr, /*start=*/false);
  }

  // Load in the worker; also the reload after a worker restart.
  Status LoadRemote(std::string* meta_graph_def) {
    uint64_t generation = 0;
    StatusOr<Reply> reply = client_->Call(
        Kind::kLoad,
        [this](tfwire::Writer& w) {
          w.Str(export_dir_);
          w.U32(static_cast<uint32_t>(tags_.size()));
          for (const std::string& tag : tags_) w.Str(tag);
          return Status::Ok();
        },
        RunContext{}, &generation);
    if (!reply.ok()) return reply.status();
    tfwire::Reader reader(*reply->payload);
    StatusOr<uint64_t> id = reader.U64();
    StatusOr<std::string_view> meta = id.ok() ? reader.Str() : StatusOr<std::string_view>(id.status());
    if (!meta.ok()) return meta.status();
    remote_id_ = *id;
    generation_ = generation;
    if (meta_graph_def != nullptr) meta_graph_def->assign(*meta);
    return Status::Ok();
  }

  const ModelSignature& signature() const override { return default_; }
  const std::string& execution_provider() const override {
    static const std::string kCpu = "tensorflow-cpu";
    return kCpu;
  }
  const std::vector<SignatureDef>& signature_defs() const override { return defs_; }

  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>& output_names, const RunContext& context,
             std::vector<Tensor>* outputs) const override {
    return RunSignature(kDefaultSignatureName, inputs, output_names, context, outputs);
  }

  Status RunSignature(std::string_view signature_name, const std::vector<Tensor>& inputs,
                      const std::vector<std::string>& output_names, const RunContext& context,
                      std::vector<Tensor>* outputs) const override {
    const SignatureDef* def = nullptr;
    for (const SignatureDef& candidate : defs_) {
      if (candidate.name == signature_name) def = &candidate;
    }
    if (def == nullptr) return ModelSession::RunSignature(signature_name, inputs, output_names, context, outputs);
    SERVAL_RETURN_IF_ERROR(CheckBeforeRun(context));
    EngineStats& stats = GlobalEngineStats();
    // The aliases asked for, and the graph tensors behind them.
    std::vector<const TensorSpec*> fetches;
    if (output_names.empty()) {
      for (const TensorSpec& spec : def->io.outputs) fetches.push_back(&spec);
    } else {
      for (const std::string& name : output_names) {
        const TensorSpec* spec = def->io.FindOutput(name);
        if (spec == nullptr) return InvalidArgument("unknown output '" + name + "'");
        fetches.push_back(spec);
      }
    }
    std::vector<const TensorSpec*> feeds;
    for (const Tensor& input : inputs) {
      const TensorSpec* spec = def->io.FindInput(input.name());
      if (spec == nullptr) return InvalidArgument("unknown input '" + input.name() + "'");
      feeds.push_back(spec);
    }
    int64_t timeout_ms = 0;
    if (context.deadline != kNoDeadline) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(context.deadline - std::chrono::steady_clock::now());
      timeout_ms = std::max<int64_t>(1, left.count());
    }
    stats.runs_started.fetch_add(1, std::memory_order_relaxed);
    StatusOr<Reply> reply = Unavailable("not run");
    // One retry covers a worker that died since the last call: the session reloads in the new one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      uint64_t remote_id;
      {
        std::lock_guard lock(mutex_);
        if (client_->generation() != generation_ || remote_id_ == 0) {
          Status reloaded = const_cast<TfModelSession*>(this)->LoadRemote(nullptr);
          if (!reloaded.ok()) {
            stats.runs_failed.fetch_add(1, std::memory_order_relaxed);
            return reloaded;
          }
          spdlog::info("TensorFlow model {} reloaded in the restarted worker", export_dir_);
        }
        remote_id = remote_id_;
      }
      reply = client_->Call(
          Kind::kRun,
          [&](tfwire::Writer& w) {
            w.U64(remote_id);
            w.I64(timeout_ms);
            w.U32(static_cast<uint32_t>(inputs.size()));
            for (size_t i = 0; i < inputs.size(); ++i) {
              w.Str(feeds[i]->tensor_name.empty() ? feeds[i]->name : feeds[i]->tensor_name);
              SERVAL_RETURN_IF_ERROR(w.Put(inputs[i]));
            }
            w.U32(static_cast<uint32_t>(fetches.size()));
            for (const TensorSpec* spec : fetches) w.Str(spec->tensor_name.empty() ? spec->name : spec->tensor_name);
            return Status::Ok();
          },
          context, nullptr);
      // UNAVAILABLE "not loaded": the worker restarted between our check and the call.
      if (reply.ok() || reply.status().code() != StatusCode::kUnavailable ||
          reply.status().message().find("not loaded") == std::string::npos) {
        break;
      }
    }
    if (!reply.ok()) {
      const StatusCode code = reply.status().code();
      if (code == StatusCode::kDeadlineExceeded) {
        stats.runs_cancelled_deadline.fetch_add(1, std::memory_order_relaxed);
      } else if (code != StatusCode::kCancelled) {
        stats.runs_failed.fetch_add(1, std::memory_order_relaxed);
      }
      return reply.status();
    }
    tfwire::Reader reader(*reply->payload);
    StatusOr<uint32_t> count = reader.U32();
    if (!count.ok()) return count.status();
    if (*count != fetches.size()) return Internal("the TensorFlow worker returned the wrong number of outputs");
    outputs->clear();
    outputs->reserve(fetches.size());
    for (const TensorSpec* spec : fetches) {
      StatusOr<Tensor> tensor = reader.Get(spec->name, reply->payload);
      if (!tensor.ok()) return tensor.status();
      outputs->push_back(std::move(tensor).value());
    }
    stats.runs_completed.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }

 private:
  std::shared_ptr<WorkerClient> client_;
  const std::string export_dir_;
  const std::vector<std::string> tags_;
  std::vector<SignatureDef> defs_;  // set once, before the session is shared
  ModelSignature default_;
  mutable std::mutex mutex_;  // guards remote_id_ and generation_
  uint64_t remote_id_ = 0;
  uint64_t generation_ = 0;
};

class TfEngine final : public Engine {
 public:
  explicit TfEngine(const TfEngineOptions& options)
      : options_(options), client_(std::make_shared<WorkerClient>(options)) {
    engine_options_.intra_op_threads = options.intra_op_threads;
    engine_options_.inter_op_threads = options.inter_op_threads;
    engine_options_.execution_providers = {"cpu"};
  }

  StatusOr<std::unique_ptr<ModelSession>> Load(const std::string& path) const override {
    struct stat info {};
    if (::stat((path + "/saved_model.pb").c_str(), &info) != 0 &&
        ::stat((path + "/saved_model.pbtxt").c_str(), &info) != 0) {
      return NotFound("no saved_model.pb in the version directory");
    }
    // The session loads itself first; its signatures come from the MetaGraphDef the worker returns.
    auto session = std::make_unique<TfModelSession>(client_, path, options_.saved_model_tags);
    std::string meta_graph_def;
    Status loaded = session->LoadRemote(&meta_graph_def);
    if (!loaded.ok()) {
      // TensorFlow's own text says what is wrong with the SavedModel; the path stays in the server log.
      return Status(loaded.code() == StatusCode::kUnknown ? StatusCode::kInvalidArgument : loaded.code(),
                    "TensorFlow cannot load the SavedModel: " + loaded.message());
    }
    std::vector<std::string> skipped;
    StatusOr<std::vector<SignatureDef>> defs = ReadSignatureDefs(meta_graph_def, &skipped);
    if (!defs.ok()) return defs.status();
    for (const std::string& why : skipped) spdlog::warn("SavedModel {}: signature {} is not served", path, why);
    if (defs->empty()) return FailedPrecondition("the SavedModel has no signature Serval can serve");
    session->SetSignatures(std::move(defs).value());
    return std::unique_ptr<ModelSession>(std::move(session));
  }

  const EngineOptions& options() const override { return engine_options_; }
  int intra_op_threads() const override {
    return options_.intra_op_threads > 0 ? options_.intra_op_threads : UsableCores();
  }
  std::string runtime_version() const override {
    StatusOr<std::string> version = TfVersion(options_);
    return version.ok() ? *version : "unknown";
  }

 private:
  TfEngineOptions options_;
  EngineOptions engine_options_;
  std::shared_ptr<WorkerClient> client_;
};

}  // namespace

StatusOr<std::unique_ptr<Engine>> CreateTfEngine(const TfEngineOptions& options) {
  if (options.intra_op_threads < 0 || options.inter_op_threads < 0 || options.worker_threads < 0) {
    return InvalidArgument("TensorFlow thread counts must not be negative");
  }
  if (options.saved_model_tags.empty()) return InvalidArgument("--saved_model_tags must name at least one tag");
  return std::unique_ptr<Engine>(std::make_unique<TfEngine>(options));
}

StatusOr<std::string> FindTfWorker(const TfEngineOptions& options) {
  std::vector<std::string> candidates;
  if (!options.worker_path.empty()) candidates.push_back(options.worker_path);
  if (const char* env = std::getenv("SERVAL_TF_WORKER"); env != nullptr && *env != '\0') candidates.emplace_back(env);
  std::array<char, 4096> self{};
  ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0) candidates.push_back(Dirname(std::string(self.data(), static_cast<size_t>(n))) + "/serval-tf-worker");
#ifdef SERVAL_TF_WORKER_BUILD_PATH
  candidates.emplace_back(SERVAL_TF_WORKER_BUILD_PATH);
#endif
  for (const std::string& candidate : candidates) {
    if (IsExecutable(candidate)) return candidate;
  }
  return FailedPrecondition(
      "this Serval has no TensorFlow engine (serval-tf-worker was not built: configure with TensorFlow, see "
      "README \"TensorFlow models\"), so it cannot serve a SavedModel");
}

StatusOr<std::string> TfVersion(const TfEngineOptions& options) {
  StatusOr<std::string> worker = FindTfWorker(options);
  if (!worker.ok()) return worker.status();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Internal("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);  // TensorFlow's start-up chatter
  std::string path = *worker;
  std::string flag = "--version";
  char* argv[] = {path.data(), flag.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string out;
  if (rc == 0) {
    char buffer[256];
    ssize_t got;
    while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0 && out.size() < 4096) {
      out.append(buffer, static_cast<size_t>(got));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  ::close(pipe_fds[0]);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (rc != 0 || out.empty()) return Internal("the TensorFlow worker did not report a version");
  return out;
}

StatusOr<std::vector<SignatureDef>> ReadSignatureDefs(std::string_view meta_graph_def,
                                                      std::vector<std::string>* skipped) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(meta_graph_def.data()),
                                               static_cast<int>(meta_graph_def.size()));
  input.SetTotalBytesLimit(INT32_MAX);
  std::vector<SignatureDef> defs;
  constexpr int kSignatureDefField = 5;  // MetaGraphDef.signature_def
  while (uint32_t tag = input.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) != kSignatureDefField ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&input, tag)) return DataLoss("the SavedModel's MetaGraphDef is malformed");
      continue;
    }
    uint32_t length = 0;
    if (!input.ReadVarint32(&length)) return DataLoss("the SavedModel's MetaGraphDef is malformed");
    std::string entry_bytes;
    if (!input.ReadString(&entry_bytes, static_cast<int>(length))) {
      return DataLoss("the SavedModel's MetaGraphDef is truncated");
    }
    tensorflow::SignatureDefMapEntry entry;
    if (!entry.ParseFromString(entry_bytes)) return DataLoss("a SignatureDef of the SavedModel is malformed");
    // TensorFlow's own initialisation entry (TF2 exports), not a signature a client can call.
    if (entry.key() == "__saved_model_init_op") continue;
    SignatureDef def;
    def.name = entry.key();
    def.method_name = entry.value().method_name();
    def.io.check_shapes = false;
    std::string why;
    auto convert = [&](const google::protobuf::Map<std::string, tensorflow::TensorInfo>& infos,
                       std::vector<TensorSpec>* specs) {
      std::vector<std::string> keys;
      for (const auto& [alias, info] : infos) keys.push_back(alias);
      std::sort(keys.begin(), keys.end());
      for (const std::string& alias : keys) {
        const tensorflow::TensorInfo& info = infos.at(alias);
        if (info.encoding_case() != tensorflow::TensorInfo::kName) {
          why = "'" + alias + "' is a sparse or composite tensor";
          return;
        }
        TensorSpec spec;
        spec.name = alias;
        spec.tensor_name = info.name();
        spec.dtype = tfwire::FromTfTypeCode(static_cast<int>(info.dtype()));
        if (spec.dtype == DataType::kInvalid) {
          why = "'" + alias + "' has TensorFlow dtype " + std::to_string(static_cast<int>(info.dtype()));
          return;
        }
        spec.unknown_rank = info.tensor_shape().unknown_rank();
        for (const auto& dim : info.tensor_shape().dim()) spec.shape.push_back(dim.size() < 0 ? -1 : dim.size());
        specs->push_back(std::move(spec));
      }
    };
    convert(entry.value().inputs(), &def.io.inputs);
    if (why.empty()) convert(entry.value().outputs(), &def.io.outputs);
    if (!why.empty()) {
      if (skipped != nullptr) skipped->push_back(def.name + ": " + why);
      continue;
    }
    defs.push_back(std::move(def));
  }
  if (!input.ConsumedEntireMessage()) return DataLoss("the SavedModel's MetaGraphDef is malformed");
  std::sort(defs.begin(), defs.end(), [](const SignatureDef& a, const SignatureDef& b) { return a.name < b.name; });
  return defs;
}

}  // namespace serval

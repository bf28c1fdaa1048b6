// serval-tf-worker: runs TensorFlow SavedModels for one Serval server, in a process of its own.
//
// Why a process: TensorFlow's libraries carry their own protobuf and abseil, which clash with the ones the
// server links (loading both in one process crashes unless the module is opened with RTLD_DEEPBIND, which
// AddressSanitizer refuses). A worker also isolates the server from a TensorFlow crash or leak: the
// server restarts it and reloads its models (engine/tf/tf_engine.h).
//
// Usage (started by the server, never by hand): serval-tf-worker --fd=N [--intra=N] [--inter=N]
//   [--threads=N]; or serval-tf-worker --version (prints TensorFlow's version).
// It serves the frames of engine/tf/tf_wire.h on socket N until the server closes it, then exits 0.
// Loads run one at a time on a load thread; runs on a fixed pool of --threads threads (TensorFlow's own
// intra/inter-op pools, sized by --intra/--inter, do the math).
#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <tensorflow/c/c_api.h>
#include <tensorflow/c/tf_tstring.h>

#include "core/worker_pool.h"
#include "engine/tf/tf_wire.h"

namespace serval {
namespace {

using tfwire::Kind;

struct TfStatusDeleter {
  void operator()(TF_Status* s) const { TF_DeleteStatus(s); }
};
using StatusPtr = std::unique_ptr<TF_Status, TfStatusDeleter>;

Status FromTf(const TF_Status* status, const std::string& context) {
  const int code = TF_GetCode(status);
  if (code == TF_OK) return Status::Ok();
  // TF_Code uses the canonical (gRPC) numbering, as StatusCode does.
  return Status(static_cast<StatusCode>(code > 16 ? 2 : code), context + TF_Message(status));
}

// One loaded SavedModel. Destroyed (session closed) when the last run using it ends.
class LoadedModel {
 public:
  LoadedModel(TF_Graph* graph, TF_Session* session) : graph_(graph), session_(session) {}
  ~LoadedModel() {
    StatusPtr status(TF_NewStatus());
    TF_CloseSession(session_, status.get());
    TF_DeleteSession(session_, status.get());
    TF_DeleteGraph(graph_);
  }
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;

  TF_Session* session() const { return session_; }

  // "op:index" (or "op", index 0) → the graph output. NOT_FOUND/INVALID_ARGUMENT for a name the graph lacks.
  StatusOr<TF_Output> Find(std::string_view tensor_name) {
    std::lock_guard lock(mutex_);
    auto it = outputs_.find(tensor_name);
    if (it != outputs_.end()) return it->second;
    std::string op(tensor_name);
    int index = 0;
    if (size_t colon = op.rfind(':'); colon != std::string::npos) {
      char* end = nullptr;
      long parsed = std::strtol(op.c_str() + colon + 1, &end, 10);
      if (end == op.c_str() + colon + 1 || *end != '\0' || parsed < 0 || parsed > 1 << 20) {
        return InvalidArgument("bad tensor name '" + std::string(tensor_name) + "'");
      }
      index = static_cast<int>(parsed);
      op.resize(colon);
    }
    TF_Operation* operation = TF_GraphOperationByName(graph_, op.c_str());
    if (operation == nullptr || index >= TF_OperationNumOutputs(operation)) {
      return InvalidArgument("the graph has no tensor '" + std::string(tensor_name) + "'");
    }
    TF_Output output{operation, index};
    outputs_.emplace(std::string(tensor_name), output);
    return output;
  }

 private:
  TF_Graph* graph_;
  TF_Session* session_;
  std::mutex mutex_;
  std::map<std::string, TF_Output, std::less<>> outputs_;
};

struct TensorDeleter {
  void operator()(TF_Tensor* t) const { TF_DeleteTensor(t); }
};
using TensorPtr = std::unique_ptr<TF_Tensor, TensorDeleter>;

StatusOr<TensorPtr> ToTf(const Tensor& tensor) {
  const int code = tfwire::TfTypeCode(tensor.dtype());
  if (code == 0) return InvalidArgument("unsupported element type");
  const Shape& shape = tensor.shape();
  if (tensor.dtype() == DataType::kString) {
    const size_t count = tensor.strings().size();
    TensorPtr out(
        TF_AllocateTensor(TF_STRING, shape.data(), static_cast<int>(shape.size()), count * sizeof(TF_TString)));
    if (!out) return ResourceExhausted("cannot allocate a string tensor");
    auto* elements = static_cast<TF_TString*>(TF_TensorData(out.get()));
    for (size_t i = 0; i < count; ++i) {
      TF_StringInit(&elements[i]);
      TF_StringCopy(&elements[i], tensor.strings()[i].data(), tensor.strings()[i].size());
    }
    return out;
  }
  const auto bytes = tensor.bytes();
  TensorPtr out(
      TF_AllocateTensor(static_cast<TF_DataType>(code), shape.data(), static_cast<int>(shape.size()), bytes.size()));
  if (!out) return ResourceExhausted("cannot allocate a tensor");
  if (!bytes.empty()) std::memcpy(TF_TensorData(out.get()), bytes.data(), bytes.size());
  return out;
}

Status PutTf(const TF_Tensor* tensor, tfwire::Writer& writer) {
  const DataType dtype = tfwire::FromTfTypeCode(TF_TensorType(tensor));
  if (dtype == DataType::kInvalid) {
    return FailedPrecondition("the model returned a tensor of TensorFlow type " +
                              std::to_string(TF_TensorType(tensor)) + ", which Serval does not serve");
  }
  const int rank = TF_NumDims(tensor);
  Shape shape(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) shape[static_cast<size_t>(i)] = TF_Dim(tensor, i);
  writer.U8(static_cast<uint8_t>(dtype));
  writer.U32(static_cast<uint32_t>(rank));
  for (int64_t dim : shape) writer.I64(dim);
  if (dtype == DataType::kString) {
    const auto* elements = static_cast<const TF_TString*>(TF_TensorData(tensor));
    const int64_t count = TF_TensorElementCount(tensor);
    for (int64_t i = 0; i < count; ++i) {
      writer.Str({TF_StringGetDataPointer(&elements[i]), TF_StringGetSize(&elements[i])});
    }
  } else {
    const size_t size = TF_TensorByteSize(tensor);
    writer.U64(size);
    writer.Bytes(TF_TensorData(tensor), size);
  }
  return Status::Ok();
}

// A protobuf varint, for the two tiny messages the worker writes by hand (ConfigProto, RunOptions).
void Varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

class Worker {
 public:
  Worker(int fd, int intra, int inter, int threads)
      : fd_(fd), intra_(intra), inter_(inter), loads_("tf-load", 1, 1 << 12), runs_("tf-run", threads, 1 << 16) {}

  int Serve() {
    char header_bytes[tfwire::kHeaderBytes];
    while (tfwire::ReadAll(fd_, header_bytes, sizeof header_bytes)) {
      const tfwire::FrameHeader header = tfwire::DecodeHeader(header_bytes);
      auto payload = std::make_shared<std::string>(header.payload_bytes, '\0');
      if (!tfwire::ReadAll(fd_, payload->data(), payload->size())) break;
      const uint64_t id = header.call_id;
      bool queued = false;
      switch (header.kind) {
        case Kind::kLoad:
          queued = loads_.TrySubmit([this, id, payload] { Reply(id, Load(id, *payload)); });
          break;
        case Kind::kRun:
          queued = runs_.TrySubmit([this, id, payload] { Reply(id, Run(id, payload)); });
          break;
        case Kind::kUnload:
          Reply(id, Unload(id, *payload));
          queued = true;
          break;
        default:
          Reply(id, InvalidArgument("unknown call kind"));
          queued = true;
      }
      if (!queued) Reply(id, ResourceExhausted("the TensorFlow worker's queue is full"));
    }
    // The server closed the socket (or died): finish what runs and leave.
    runs_.Stop();
    loads_.Stop();
    return 0;
  }

 private:
  void Reply(uint64_t id, StatusOr<std::string> frame) {
    std::string bytes = frame.ok() ? std::move(frame).value() : tfwire::ErrorFrame(id, frame.status());
    std::lock_guard lock(write_mutex_);
    tfwire::WriteAll(fd_, bytes);
  }

  StatusOr<std::string> Load(uint64_t id, const std::string& payload) {
    tfwire::Reader reader(payload);
    StatusOr<std::string_view> dir = reader.Str();
    StatusOr<uint32_t> ntags = dir.ok() ? reader.U32() : StatusOr<uint32_t>(dir.status());
    if (!ntags.ok() || *ntags > 64) return InvalidArgument("bad load call");
    std::vector<std::string> tags;
    for (uint32_t i = 0; i < *ntags; ++i) {
      StatusOr<std::string_view> tag = reader.Str();
      if (!tag.ok()) return tag.status();
      tags.emplace_back(*tag);
    }
    std::vector<const char*> tag_ptrs;
    tag_ptrs.reserve(tags.size());
    for (const std::string& tag : tags) tag_ptrs.push_back(tag.c_str());

    // ConfigProto { intra_op_parallelism_threads = 2; inter_op_parallelism_threads = 5; }. TensorFlow
    // makes its process-wide pools from the first session's options, so every model shares them.
    std::string config;
    if (intra_ > 0) config += '\x10', Varint(config, static_cast<uint64_t>(intra_));
    if (inter_ > 0) config += '\x28', Varint(config, static_cast<uint64_t>(inter_));
    StatusPtr status(TF_NewStatus());
    TF_SessionOptions* options = TF_NewSessionOptions();
    TF_SetConfig(options, config.data(), config.size(), status.get());
    if (TF_GetCode(status.get()) != TF_OK) {
      TF_DeleteSessionOptions(options);
      return FromTf(status.get(), "session options: ");
    }
    TF_Graph* graph = TF_NewGraph();
    TF_Buffer* meta_graph = TF_NewBuffer();
    const std::string export_dir(*dir);
    TF_Session* session =
        TF_LoadSessionFromSavedModel(options, nullptr, export_dir.c_str(), tag_ptrs.data(),
                                     static_cast<int>(tag_ptrs.size()), graph, meta_graph, status.get());
    TF_DeleteSessionOptions(options);
    if (TF_GetCode(status.get()) != TF_OK || session == nullptr) {
      Status error = FromTf(status.get(), "");
      TF_DeleteBuffer(meta_graph);
      TF_DeleteGraph(graph);
      return error.ok() ? Internal("TensorFlow returned no session") : error;
    }
    auto model = std::make_shared<LoadedModel>(graph, session);
    uint64_t session_id;
    {
      std::unique_lock lock(models_mutex_);
      session_id = ++next_session_id_;
      models_.emplace(session_id, std::move(model));
    }
    tfwire::Writer writer(Kind::kLoaded, id);
    writer.U64(session_id);
    writer.Str({static_cast<const char*>(meta_graph->data), meta_graph->length});
    TF_DeleteBuffer(meta_graph);
    return std::move(writer).Finish();
  }

  std::shared_ptr<LoadedModel> FindModel(uint64_t session_id) {
    std::shared_lock lock(models_mutex_);
    auto it = models_.find(session_id);
    return it == models_.end() ? nullptr : it->second;
  }

  StatusOr<std::string> Run(uint64_t id, const std::shared_ptr<std::string>& payload) {
    tfwire::Reader reader(*payload);
    StatusOr<uint64_t> session_id = reader.U64();
    StatusOr<int64_t> timeout_ms = session_id.ok() ? reader.I64() : StatusOr<int64_t>(session_id.status());
    StatusOr<uint32_t> ninputs = timeout_ms.ok() ? reader.U32() : StatusOr<uint32_t>(timeout_ms.status());
    if (!ninputs.ok()) return ninputs.status();
    std::shared_ptr<LoadedModel> model = FindModel(*session_id);
    if (!model) return Unavailable("the model is not loaded in the TensorFlow worker");
    std::vector<TF_Output> feeds;
    std::vector<TensorPtr> feed_tensors;
    for (uint32_t i = 0; i < *ninputs; ++i) {
      StatusOr<std::string_view> name = reader.Str();
      if (!name.ok()) return name.status();
      StatusOr<TF_Output> feed = model->Find(*name);
      if (!feed.ok()) return feed.status();
      StatusOr<Tensor> tensor = reader.Get(std::string(*name), payload);
      if (!tensor.ok()) return tensor.status();
      StatusOr<TensorPtr> tf_tensor = ToTf(*tensor);
      if (!tf_tensor.ok()) return tf_tensor.status();
      feeds.push_back(*feed);
      feed_tensors.push_back(std::move(tf_tensor).value());
    }
    StatusOr<uint32_t> nfetches = reader.U32();
    if (!nfetches.ok()) return nfetches.status();
    std::vector<TF_Output> fetches;
    for (uint32_t i = 0; i < *nfetches; ++i) {
      StatusOr<std::string_view> name = reader.Str();
      if (!name.ok()) return name.status();
      StatusOr<TF_Output> fetch = model->Find(*name);
      if (!fetch.ok()) return fetch.status();
      fetches.push_back(*fetch);
    }
    std::vector<TF_Tensor*> feed_values;
    feed_values.reserve(feed_tensors.size());
    for (const TensorPtr& t : feed_tensors) feed_values.push_back(t.get());
    std::vector<TF_Tensor*> fetch_values(fetches.size(), nullptr);
    // RunOptions { timeout_in_ms = 2; }: TensorFlow stops the step when it passes (DEADLINE_EXCEEDED).
    std::string run_options;
    if (*timeout_ms > 0) run_options += '\x10', Varint(run_options, static_cast<uint64_t>(*timeout_ms));
    TF_Buffer* options_buffer =
        run_options.empty() ? nullptr : TF_NewBufferFromString(run_options.data(), run_options.size());
    StatusPtr status(TF_NewStatus());
    TF_SessionRun(model->session(), options_buffer, feeds.data(), feed_values.data(), static_cast<int>(feeds.size()),
                  fetches.data(), fetch_values.data(), static_cast<int>(fetches.size()), nullptr, 0, nullptr,
                  status.get());
    if (options_buffer != nullptr) TF_DeleteBuffer(options_buffer);
    std::vector<TensorPtr> results;
    results.reserve(fetch_values.size());
    for (TF_Tensor* t : fetch_values) results.emplace_back(t);
    if (TF_GetCode(status.get()) != TF_OK) return FromTf(status.get(), "");
    tfwire::Writer writer(Kind::kRunDone, id);
    writer.U32(static_cast<uint32_t>(results.size()));
    for (const TensorPtr& t : results) {
      if (!t) return Internal("TensorFlow returned no tensor for a fetch");
      SERVAL_RETURN_IF_ERROR(PutTf(t.get(), writer));
    }
    return std::move(writer).Finish();
  }

  StatusOr<std::string> Unload(uint64_t id, const std::string& payload) {
    tfwire::Reader reader(payload);
    StatusOr<uint64_t> session_id = reader.U64();
    if (!session_id.ok()) return session_id.status();
    std::shared_ptr<LoadedModel> model;
    {
      std::unique_lock lock(models_mutex_);
      auto it = models_.find(*session_id);
      if (it != models_.end()) {
        model = std::move(it->second);
        models_.erase(it);
      }
    }
    model.reset();  // closes the session now unless a run still holds it
    return std::move(tfwire::Writer(Kind::kOk, id)).Finish();
  }

  const int fd_;
  const int intra_;
  const int inter_;
  std::mutex write_mutex_;
  std::shared_mutex models_mutex_;
  std::map<uint64_t, std::shared_ptr<LoadedModel>> models_;
  uint64_t next_session_id_ = 0;
  WorkerPool loads_;
  WorkerPool runs_;
};

int ParseIntFlag(const char* arg, const char* name, int fallback) {
  const size_t len = std::strlen(name);
  if (std::strncmp(arg, name, len) != 0 || arg[len] != '=') return fallback;
  char* end = nullptr;
  const long value = std::strtol(arg + len + 1, &end, 10);
  if (end == arg + len + 1 || *end != '\0' || value < 0 || value > 1 << 16) return -1;  // refused by main
  return static_cast<int>(value);
}

}  // namespace
}  // namespace serval

int main(int argc, char** argv) {
  int fd = -1, intra = 0, inter = 0, threads = 4;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("%s\n", TF_Version());
      return 0;
    }
    fd = serval::ParseIntFlag(argv[i], "--fd", fd);
    intra = serval::ParseIntFlag(argv[i], "--intra", intra);
    inter = serval::ParseIntFlag(argv[i], "--inter", inter);
    threads = serval::ParseIntFlag(argv[i], "--threads", threads);
  }
  if (fd < 0 || threads < 1 || intra < 0 || inter < 0) {
    std::fprintf(stderr, "serval-tf-worker is started by serval; usage: serval-tf-worker --fd=N\n");
    return 2;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the server
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);  // a Ctrl-C reaches the whole process group: the server decides when we go
  std::signal(SIGTERM, SIG_IGN);
  serval::Worker worker(fd, intra, inter, threads);
  return worker.Serve();
}

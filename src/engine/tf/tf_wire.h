// TfWire: the framing between Serval and its TensorFlow worker process (serval-tf-worker), over one
// UNIX stream socket. TensorFlow-free and protobuf-free: both sides include it.
//
// Frame: u32 payload length (little-endian, <= kMaxFrameBytes), u8 kind, u64 call id, payload. The server
// numbers its calls; the worker answers each call once with the same id, in any order.
//   kLoad      string export_dir, u32 n, n × string tag          -> kLoaded: u64 session, bytes MetaGraphDef
//   kRun       u64 session, i64 timeout_ms (0 = none), u32 n, n × (string tensor name, tensor),
//              u32 m, m × string fetch name                       -> kRunDone: u32 m, m × tensor
//   kUnload    u64 session                                        -> kOk
//   any call may be answered kError: i32 StatusCode, string message.
// Tensor: u8 DataType, u32 rank, rank × i64 dim, then for kString u32 length + bytes per element,
// otherwise u64 byte count + the bytes (row-major, little-endian).
//
// Readers check every length against what is left of the frame: a frame from the other side is parsed
// as untrusted bytes (the worker runs model code).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace serval::tfwire {

enum class Kind : uint8_t { kLoad = 1, kRun = 2, kUnload = 3, kLoaded = 10, kRunDone = 11, kOk = 12, kError = 13 };

inline constexpr uint32_t kMaxFrameBytes = 0xFFFFFFF0u;  // a frame's payload, just under 4 GiB
inline constexpr size_t kHeaderBytes = 4 + 1 + 8;

// TensorFlow's DataType numbers (types.proto, the same as TF_DataType) for Serval's element types; 0 for
// kInvalid. And back: kInvalid for a TF type Serval has no name for.
int TfTypeCode(DataType type);
DataType FromTfTypeCode(int code);

// Appends encoded values to a frame under construction.
class Writer {
 public:
  // Starts a frame: reserves the header, filled in by Finish.
  Writer(Kind kind, uint64_t call_id);
  void U8(uint8_t v) { Raw(&v, 1); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Str(std::string_view s);
  void Bytes(const void* p, size_t n) { Raw(p, n); }
  // INVALID_ARGUMENT when a length does not fit the format.
  Status Put(const Tensor& tensor);
  // The whole frame, header included. RESOURCE_EXHAUSTED when larger than kMaxFrameBytes.
  StatusOr<std::string> Finish() &&;

 private:
  void Raw(const void* p, size_t n) { buffer_.append(static_cast<const char*>(p), n); }
  std::string buffer_;
};

// Reads values from one frame's payload; every read fails (DATA_LOSS) rather than run past the end.
class Reader {
 public:
  explicit Reader(std::string_view payload) : rest_(payload) {}
  StatusOr<uint8_t> U8();
  StatusOr<uint32_t> U32();
  StatusOr<uint64_t> U64();
  StatusOr<int64_t> I64();
  StatusOr<std::string_view> Str();
  // The tensor, named `name`. Numeric bytes are borrowed from the payload, kept alive by `owner`.
  StatusOr<Tensor> Get(std::string name, const std::shared_ptr<const void>& owner);
  bool done() const { return rest_.empty(); }

 private:
  StatusOr<std::string_view> Take(size_t n);
  std::string_view rest_;
};

struct FrameHeader {
  uint32_t payload_bytes = 0;
  Kind kind = Kind::kError;
  uint64_t call_id = 0;
};
FrameHeader DecodeHeader(const char (&bytes)[kHeaderBytes]);

// Blocking whole-buffer I/O on a socket, retrying EINTR and short transfers. False on EOF or error.
bool WriteAll(int fd, std::string_view bytes);
bool ReadAll(int fd, char* out, size_t n);

// An error frame for `status` (which must not be OK).
std::string ErrorFrame(uint64_t call_id, const Status& status);
// Reads the status out of a kError payload.
Status ReadError(std::string_view payload);

}  // namespace serval::tfwire

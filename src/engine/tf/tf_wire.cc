#include "engine/tf/tf_wire.h"

#include <cerrno>

#include <sys/socket.h>
#include <unistd.h>

namespace serval::tfwire {

int TfTypeCode(DataType type) {
  switch (type) {
    case DataType::kFp32:
      return 1;
    case DataType::kFp64:
      return 2;
    case DataType::kInt32:
      return 3;
    case DataType::kUint8:
      return 4;
    case DataType::kInt16:
      return 5;
    case DataType::kInt8:
      return 6;
    case DataType::kString:
      return 7;
    case DataType::kInt64:
      return 9;
    case DataType::kBool:
      return 10;
    case DataType::kBf16:
      return 14;
    case DataType::kUint16:
      return 17;
    case DataType::kFp16:
      return 19;
    case DataType::kUint32:
      return 22;
    case DataType::kUint64:
      return 23;
    case DataType::kInvalid:
      break;
  }
  return 0;
}

DataType FromTfTypeCode(int code) {
  switch (code) {
    case 1:
      return DataType::kFp32;
    case 2:
      return DataType::kFp64;
    case 3:
      return DataType::kInt32;
    case 4:
      return DataType::kUint8;
    case 5:
      return DataType::kInt16;
    case 6:
      return DataType::kInt8;
    case 7:
      return DataType::kString;
    case 9:
      return DataType::kInt64;
    case 10:
      return DataType::kBool;
    case 14:
      return DataType::kBf16;
    case 17:
      return DataType::kUint16;
    case 19:
      return DataType::kFp16;
    case 22:
      return DataType::kUint32;
    case 23:
      return DataType::kUint64;
    default:
      return DataType::kInvalid;
  }
}

Writer::Writer(Kind kind, uint64_t call_id) {
  buffer_.resize(4);  // payload length, filled by Finish
  U8(static_cast<uint8_t>(kind));
  U64(call_id);
}

void Writer::Str(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  Raw(s.data(), s.size());
}

Status Writer::Put(const Tensor& tensor) {
  U8(static_cast<uint8_t>(tensor.dtype()));
  U32(static_cast<uint32_t>(tensor.shape().size()));
  for (int64_t dim : tensor.shape()) I64(dim);
  if (tensor.dtype() == DataType::kString) {
    for (const std::string& s : tensor.strings()) {
      if (s.size() > kMaxFrameBytes) return InvalidArgument("a string element is too large");
      Str(s);
    }
  } else {
    U64(tensor.bytes().size());
    Raw(tensor.bytes().data(), tensor.bytes().size());
  }
  return Status::Ok();
}

StatusOr<std::string> Writer::Finish() && {
  const size_t payload = buffer_.size() - kHeaderBytes;
  if (payload > kMaxFrameBytes) {
    return ResourceExhausted("a TensorFlow worker message would be " + std::to_string(payload) +
                             " bytes, more than the 4 GiB the worker channel carries");
  }
  const auto length = static_cast<uint32_t>(payload);
  std::memcpy(buffer_.data(), &length, 4);
  return std::move(buffer_);
}

StatusOr<std::string_view> Reader::Take(size_t n) {
  if (n > rest_.size()) return DataLoss("truncated TensorFlow worker message");
  std::string_view out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return out;
}

#define SERVAL_TAKE_FIXED(T)                          \
  StatusOr<std::string_view> bytes = Take(sizeof(T)); \
  if (!bytes.ok()) return bytes.status();             \
  T value;                                            \
  std::memcpy(&value, bytes->data(), sizeof(T));      \
  return value

StatusOr<uint8_t> Reader::U8() { SERVAL_TAKE_FIXED(uint8_t); }
StatusOr<uint32_t> Reader::U32() { SERVAL_TAKE_FIXED(uint32_t); }
StatusOr<uint64_t> Reader::U64() { SERVAL_TAKE_FIXED(uint64_t); }
StatusOr<int64_t> Reader::I64() { SERVAL_TAKE_FIXED(int64_t); }
#undef SERVAL_TAKE_FIXED

StatusOr<std::string_view> Reader::Str() {
  StatusOr<uint32_t> size = U32();
  if (!size.ok()) return size.status();
  return Take(*size);
}

StatusOr<Tensor> Reader::Get(std::string name, const std::shared_ptr<const void>& owner) {
  StatusOr<uint8_t> type = U8();
  StatusOr<uint32_t> rank = type.ok() ? U32() : StatusOr<uint32_t>(type.status());
  if (!rank.ok()) return rank.status();
  const auto dtype = static_cast<DataType>(*type);
  if (dtype == DataType::kInvalid || *type > static_cast<uint8_t>(DataType::kString)) {
    return DataLoss("TensorFlow worker message: unknown element type");
  }
  if (*rank > 64 || static_cast<size_t>(*rank) * 8 > rest_.size())
    return DataLoss("TensorFlow worker message: bad rank");
  Shape shape(*rank);
  for (int64_t& dim : shape) {
    StatusOr<int64_t> d = I64();
    if (!d.ok()) return d.status();
    dim = *d;
  }
  StatusOr<int64_t> count = ElementCount(shape, name);
  if (!count.ok()) return count.status();
  if (dtype == DataType::kString) {
    // Each element takes at least its 4-byte length: a count beyond that cannot be honest.
    if (static_cast<uint64_t>(*count) > rest_.size() / 4) return DataLoss("TensorFlow worker message: bad count");
    std::vector<std::string> strings;
    strings.reserve(static_cast<size_t>(*count));
    for (int64_t i = 0; i < *count; ++i) {
      StatusOr<std::string_view> s = Str();
      if (!s.ok()) return s.status();
      strings.emplace_back(*s);
    }
    return Tensor::FromStrings(std::move(name), std::move(shape), std::move(strings));
  }
  StatusOr<size_t> size = ByteSize(*count, dtype, name);
  StatusOr<uint64_t> declared = size.ok() ? U64() : StatusOr<uint64_t>(size.status());
  if (!declared.ok()) return declared.status();
  if (*declared != *size) return DataLoss("TensorFlow worker message: tensor size does not match its shape");
  StatusOr<std::string_view> bytes = Take(*size);
  if (!bytes.ok()) return bytes.status();
  return Tensor::Borrow(std::move(name), dtype, std::move(shape),
                        {reinterpret_cast<const std::byte*>(bytes->data()), bytes->size()}, owner);
}

FrameHeader DecodeHeader(const char (&bytes)[kHeaderBytes]) {
  FrameHeader header;
  std::memcpy(&header.payload_bytes, bytes, 4);
  header.kind = static_cast<Kind>(static_cast<uint8_t>(bytes[4]));
  std::memcpy(&header.call_id, bytes + 5, 8);
  return header;
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadAll(int fd, char* out, size_t n) {
  while (n > 0) {
    ssize_t got = ::read(fd, out, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

std::string ErrorFrame(uint64_t call_id, const Status& status) {
  Writer writer(Kind::kError, call_id);
  writer.U32(static_cast<uint32_t>(status.code()));
  writer.Str(status.message().substr(0, 64 << 10));
  return std::move(writer).Finish().value();
}

Status ReadError(std::string_view payload) {
  Reader reader(payload);
  StatusOr<uint32_t> code = reader.U32();
  StatusOr<std::string_view> message = code.ok() ? reader.Str() : StatusOr<std::string_view>(code.status());
  if (!message.ok()) return message.status();
  if (*code == 0 || *code > 16) return Internal("TensorFlow worker: " + std::string(*message));
  return Status(static_cast<StatusCode>(*code), std::string(*message));
}

}  // namespace serval::tfwire

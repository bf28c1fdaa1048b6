// TensorProto ⇄ Tensor (tfs_grpc_codec.h, "tensors"): every dtype and encoding TF Serving accepts, checked
// before anything is allocated.
#include "api/tfs/tfs_grpc_codec.h"

#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "api/tfs/tf_dtype.h"
#include "core/client_message.h"
#include "core/memory_budget.h"

namespace serval {
namespace {

namespace tf = ::tensorflow;
using google::protobuf::RepeatedField;

// A single typed value may fill at most this many bytes (TF's broadcast rule turns a few bytes into a
// tensor of any declared size; past this the client must send the values).
constexpr size_t kMaxBroadcastBytes = size_t{64} << 20;

// "DT_COMPLEX64 (8)" for a known enum value, "dtype 99" otherwise.
std::string TfTypeText(int tf_type) {
  if (tf::DataType_IsValid(tf_type)) {
    return tf::DataType_Name(static_cast<tf::DataType>(tf_type)) + " (" + std::to_string(tf_type) + ")";
  }
  return "dtype " + std::to_string(tf_type);
}

// The typed value fields a request may use, with their names.
struct TypedFields {
  int count_for_type = 0;  // values in the field of the tensor's dtype
  int count_all = 0;       // values in every typed field
  std::string set_fields;  // names of the non-empty typed fields, comma-separated
};

std::string_view FieldFor(DataType type) {
  switch (type) {
    case DataType::kFp32:
      return "float_val";
    case DataType::kFp64:
      return "double_val";
    case DataType::kInt32:
    case DataType::kInt16:
    case DataType::kInt8:
    case DataType::kUint16:
    case DataType::kUint8:
      return "int_val";
    case DataType::kInt64:
      return "int64_val";
    case DataType::kBool:
      return "bool_val";
    case DataType::kUint32:
      return "uint32_val";
    case DataType::kUint64:
      return "uint64_val";
    case DataType::kString:
      return "string_val";
    case DataType::kFp16:
    case DataType::kBf16:
      return "half_val";
    case DataType::kInvalid:
      break;
  }
  return "?";
}

TypedFields CountTypedFields(const tf::TensorProto& proto, DataType type) {
  TypedFields fields;
  const std::string_view own = FieldFor(type);
  auto note = [&](std::string_view name, int size) {
    if (size == 0) return;
    fields.count_all += size;
    if (name == own) fields.count_for_type = size;
    if (!fields.set_fields.empty()) fields.set_fields += ", ";
    fields.set_fields += name;
  };
  note("half_val", proto.half_val_size());
  note("float_val", proto.float_val_size());
  note("double_val", proto.double_val_size());
  note("int_val", proto.int_val_size());
  note("string_val", proto.string_val_size());
  note("scomplex_val", proto.scomplex_val_size());
  note("int64_val", proto.int64_val_size());
  note("bool_val", proto.bool_val_size());
  note("dcomplex_val", proto.dcomplex_val_size());
  note("uint32_val", proto.uint32_val_size());
  note("uint64_val", proto.uint64_val_size());
  return fields;
}

// Copies (or broadcasts) `values` into `out` as T, converting each with `convert(In, T*) -> bool` (false:
// out of range for the type).
template <typename T, typename In, typename Convert>
Status FillFrom(const RepeatedField<In>& values, int64_t count, std::byte* out, const std::string& label, DataType type,
                Convert convert) {
  const bool broadcast = values.size() == 1;
  const int64_t given = broadcast ? 1 : count;
  if constexpr (std::is_same_v<T, In>) {
    if (!broadcast) {
      if (count > 0) std::memcpy(out, values.data(), static_cast<size_t>(count) * sizeof(T));
      return Status::Ok();
    }
  }
  for (int64_t i = 0; i < given; ++i) {
    T converted{};
    const In value = values.Get(static_cast<int>(i));
    if (!convert(value, &converted)) {
      return InvalidArgument(label + ": value " + std::to_string(value) + " in " + std::string(FieldFor(type)) +
                             " is out of range for " + std::string(TfDataTypeName(type)));
    }
    std::memcpy(out + static_cast<size_t>(i) * sizeof(T), &converted, sizeof(T));
  }
  if (broadcast) {
    for (int64_t i = 1; i < count; ++i) std::memcpy(out + static_cast<size_t>(i) * sizeof(T), out, sizeof(T));
  }
  return Status::Ok();
}

template <typename T>
bool Same(T value, T* out) {
  *out = value;
  return true;
}

template <typename T>
bool Narrow(int32_t value, T* out) {
  if (!std::in_range<T>(value)) return false;
  *out = static_cast<T>(value);
  return true;
}

bool HalfBits(int32_t value, uint16_t* out) {
  *out = static_cast<uint16_t>(static_cast<uint32_t>(value) & 0xffff);  // TF keeps the low 16 bits
  return true;
}

bool BoolByte(bool value, uint8_t* out) {
  *out = value ? 1 : 0;
  return true;
}

Status FillTyped(const tf::TensorProto& proto, DataType type, int64_t count, std::byte* out, const std::string& label) {
  switch (type) {
    case DataType::kFp32:
      return FillFrom<float>(proto.float_val(), count, out, label, type, Same<float>);
    case DataType::kFp64:
      return FillFrom<double>(proto.double_val(), count, out, label, type, Same<double>);
    case DataType::kInt32:
      return FillFrom<int32_t>(proto.int_val(), count, out, label, type, Same<int32_t>);
    case DataType::kInt16:
      return FillFrom<int16_t>(proto.int_val(), count, out, label, type, Narrow<int16_t>);
    case DataType::kInt8:
      return FillFrom<int8_t>(proto.int_val(), count, out, label, type, Narrow<int8_t>);
    case DataType::kUint16:
      return FillFrom<uint16_t>(proto.int_val(), count, out, label, type, Narrow<uint16_t>);
    case DataType::kUint8:
      return FillFrom<uint8_t>(proto.int_val(), count, out, label, type, Narrow<uint8_t>);
    case DataType::kInt64:
      return FillFrom<int64_t>(proto.int64_val(), count, out, label, type, Same<int64_t>);
    case DataType::kUint32:
      return FillFrom<uint32_t>(proto.uint32_val(), count, out, label, type, Same<uint32_t>);
    case DataType::kUint64:
      return FillFrom<uint64_t>(proto.uint64_val(), count, out, label, type, Same<uint64_t>);
    case DataType::kBool:
      return FillFrom<uint8_t>(proto.bool_val(), count, out, label, type, BoolByte);
    case DataType::kFp16:
    case DataType::kBf16:
      return FillFrom<uint16_t>(proto.half_val(), count, out, label, type, HalfBits);
    default:
      return Internal("FillTyped: unexpected type");
  }
}

template <typename T>
void AppendRaw(RepeatedField<T>* field, std::span<const std::byte> bytes, int count) {
  if (count == 0) return;
  field->Reserve(count);
  T* data = field->AddNAlreadyReserved(count);
  std::memcpy(data, bytes.data(), static_cast<size_t>(count) * sizeof(T));
}

template <typename From, typename To>
void AppendWidened(RepeatedField<To>* field, std::span<const std::byte> bytes, int count) {
  if (count == 0) return;
  field->Reserve(count);
  To* data = field->AddNAlreadyReserved(count);
  for (int i = 0; i < count; ++i) {
    From value;
    std::memcpy(&value, bytes.data() + static_cast<size_t>(i) * sizeof(From), sizeof(From));
    data[i] = static_cast<To>(value);  // NOLINT(bugprone-signed-char-misuse): INT8 sign-extends on purpose
  }
}

}  // namespace

StatusOr<Tensor> DecodeTensorProto(const tf::TensorProto& proto, std::string name, DataType expected,
                                   std::shared_ptr<const void> owner, const CodecLimits& limits) {
  const std::string label = "input " + QuotedName(name);
  const int tf_type = static_cast<int>(proto.dtype());
  const DataType type = FromTfDataType(tf_type);
  if (type == DataType::kInvalid) {
    return InvalidArgument(label + ": " + TfTypeText(tf_type) + " is not a supported dtype");
  }
  if (expected != DataType::kInvalid && type != expected) {
    return InvalidArgument(label + " has dtype " + std::string(TfDataTypeName(type)) + " but the model expects " +
                           std::string(TfDataTypeName(expected)));
  }
  const tf::TensorShapeProto& shape_proto = proto.tensor_shape();
  if (shape_proto.unknown_rank()) return InvalidArgument(label + ": tensor_shape has unknown_rank set");
  if (static_cast<size_t>(shape_proto.dim_size()) > limits.max_rank) {
    return InvalidArgument(label + ": rank " + std::to_string(shape_proto.dim_size()) + " exceeds the limit of " +
                           std::to_string(limits.max_rank));
  }
  Shape shape;
  shape.reserve(static_cast<size_t>(shape_proto.dim_size()));
  for (const tf::TensorShapeProto::Dim& dim : shape_proto.dim()) {
    if (dim.size() < 0) {
      return InvalidArgument(label + ": dimension " + std::to_string(shape.size()) + " is " +
                             std::to_string(dim.size()) + "; a request tensor's shape must be fully known");
    }
    shape.push_back(dim.size());
  }
  StatusOr<int64_t> count = ElementCount(shape, name);
  if (!count.ok()) return InvalidArgument(label + ": " + count.status().message());

  const TypedFields typed = CountTypedFields(proto, type);
  const std::string& content = proto.tensor_content();
  if (!content.empty()) {
    if (typed.count_all > 0) {
      return InvalidArgument(label + " sets both tensor_content and typed values (" + typed.set_fields +
                             "); use one of them");
    }
    if (type == DataType::kString) {
      return InvalidArgument(label + ": DT_STRING tensors carry their elements in string_val, not tensor_content");
    }
    StatusOr<size_t> size = ByteSize(*count, type, name);
    if (!size.ok()) return InvalidArgument(label + ": " + size.status().message());
    if (content.size() != *size) {
      return InvalidArgument(label + ": tensor_content has " + std::to_string(content.size()) + " bytes, but shape " +
                             ShapeToString(shape) + " of " + std::string(TfDataTypeName(type)) + " needs " +
                             std::to_string(*size));
    }
    if (*size > limits.max_tensor_bytes) {
      return ResourceExhausted(label + " has " + std::to_string(*size) + " bytes, over the limit of " +
                               std::to_string(limits.max_tensor_bytes));
    }
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(content.data()), content.size());
    return Tensor::Borrow(std::move(name), type, std::move(shape), bytes, std::move(owner));
  }

  const std::string_view field = FieldFor(type);
  const int64_t given = typed.count_for_type;
  if (typed.count_all != given) {
    return InvalidArgument(label + " (" + std::string(TfDataTypeName(type)) + ") has values in " + typed.set_fields +
                           ", but " + std::string(TfDataTypeName(type)) + " takes its values from " +
                           std::string(field) + " (or tensor_content) only");
  }
  if (given == 0 && *count > 0) {
    return InvalidArgument(label + ": shape " + ShapeToString(shape) + " has " + std::to_string(*count) +
                           " elements but the TensorProto carries no values (neither tensor_content nor " +
                           std::string(field) + ")");
  }
  if (given > 1 && given != *count) {
    return InvalidArgument(label + ": " + std::to_string(given) + " values in " + std::string(field) + " for shape " +
                           ShapeToString(shape) + " (" + std::to_string(*count) + " elements); send " +
                           std::to_string(*count) + " values, or one value to fill them all");
  }
  const bool broadcast = given == 1 && *count != 1;

  if (type == DataType::kString) {
    size_t bytes = 0;
    for (const std::string& value : proto.string_val()) bytes += value.size() + sizeof(std::string);
    if (broadcast) {
      const size_t each = proto.string_val(0).size() + sizeof(std::string);
      if (static_cast<uint64_t>(*count) > kMaxBroadcastBytes / each) {
        return InvalidArgument(label + ": one string_val value cannot fill " + std::to_string(*count) +
                               " elements (over " + std::to_string(kMaxBroadcastBytes) + " bytes); send the values");
      }
      bytes = each * static_cast<size_t>(*count);
    }
    if (bytes > limits.max_tensor_bytes) {
      return ResourceExhausted(label + " has " + std::to_string(bytes) + " bytes, over the limit of " +
                               std::to_string(limits.max_tensor_bytes));
    }
    SERVAL_RETURN_IF_ERROR(ChargeRequestMemory(bytes + static_cast<size_t>(*count) * kMallocOverhead, label));
    std::vector<std::string> values;
    if (broadcast) {
      values.assign(static_cast<size_t>(*count), proto.string_val(0));
    } else {
      values.assign(proto.string_val().begin(), proto.string_val().end());
    }
    return Tensor::FromStrings(std::move(name), std::move(shape), std::move(values));
  }

  StatusOr<size_t> size = ByteSize(*count, type, name);
  if (!size.ok()) return InvalidArgument(label + ": " + size.status().message());
  if (broadcast && *size > kMaxBroadcastBytes) {
    return InvalidArgument(label + ": one " + std::string(field) + " value cannot fill shape " + ShapeToString(shape) +
                           " (" + std::to_string(*size) + " bytes, over the broadcast limit of " +
                           std::to_string(kMaxBroadcastBytes) + "); send the values");
  }
  SERVAL_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(name, type, shape, limits.max_tensor_bytes));
  if (*count == 0) return tensor;  // nothing to fill (a value given for no elements is ignored, as in TF)
  SERVAL_RETURN_IF_ERROR(FillTyped(proto, type, *count, tensor.mutable_bytes().data(), label));
  return tensor;
}

void EncodeTensorProto(const Tensor& tensor, TensorEncoding encoding, tf::TensorProto* out) {
  out->Clear();
  out->set_dtype(static_cast<tf::DataType>(static_cast<int>(ToTfDataType(tensor.dtype()))));
  tf::TensorShapeProto* shape = out->mutable_tensor_shape();
  for (int64_t dim : tensor.shape()) shape->add_dim()->set_size(dim);
  if (tensor.dtype() == DataType::kString) {
    out->mutable_string_val()->Reserve(static_cast<int>(tensor.strings().size()));
    for (const std::string& value : tensor.strings()) out->add_string_val(value);
    return;
  }
  const std::span<const std::byte> bytes = tensor.bytes();
  if (encoding == TensorEncoding::kTensorContent) {
    out->mutable_tensor_content()->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return;
  }
  const int count = static_cast<int>(tensor.element_count());
  switch (tensor.dtype()) {
    case DataType::kFp32:
      AppendRaw(out->mutable_float_val(), bytes, count);
      break;
    case DataType::kFp64:
      AppendRaw(out->mutable_double_val(), bytes, count);
      break;
    case DataType::kInt32:
      AppendRaw(out->mutable_int_val(), bytes, count);
      break;
    case DataType::kInt16:
      AppendWidened<int16_t>(out->mutable_int_val(), bytes, count);
      break;
    case DataType::kInt8:
      AppendWidened<int8_t>(out->mutable_int_val(), bytes, count);
      break;
    case DataType::kUint16:
      AppendWidened<uint16_t>(out->mutable_int_val(), bytes, count);
      break;
    case DataType::kUint8:
      AppendWidened<uint8_t>(out->mutable_int_val(), bytes, count);
      break;
    case DataType::kInt64:
      AppendRaw(out->mutable_int64_val(), bytes, count);
      break;
    case DataType::kUint32:
      AppendRaw(out->mutable_uint32_val(), bytes, count);
      break;
    case DataType::kUint64:
      AppendRaw(out->mutable_uint64_val(), bytes, count);
      break;
    case DataType::kBool: {
      RepeatedField<bool>* field = out->mutable_bool_val();
      field->Reserve(count);
      for (int i = 0; i < count; ++i) field->AddAlreadyReserved(bytes[static_cast<size_t>(i)] != std::byte{0});
      break;
    }
    case DataType::kFp16:
    case DataType::kBf16:
      AppendWidened<uint16_t>(out->mutable_half_val(), bytes, count);
      break;
    case DataType::kString:
    case DataType::kInvalid:
      break;
  }
}

}  // namespace serval

// serval-codec-bench: the request decoders and response encoders of the four surfaces, in process, on a
// ResNet-50-shaped FP32 input (150,528 floats) and a tiny one (4 floats). Each benchmark reports
// ns_per_float (CPU time per element of the tensor) and allocs_per_op (heap allocations per decode or encode,
// counted by the operator new / malloc hooks below), so a codec's cost is measured directly rather than as
// the difference of two noisy end-to-end latencies.
//
//   build/tools/bench/serval-codec-bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// gRPC decoders start from the serialized message in a grpc::ByteBuffer and parse it the way the services
// do (ParseWithinBudget); gRPC encoders include serializing the response. REST decoders start from the body.
#include <benchmark/benchmark.h>
#include <grpcpp/support/byte_buffer.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/grpc/budgeted_parse.h"
#include "api/kserve/kserve_grpc_codec.h"
#include "api/kserve/kserve_rest_codec.h"
#include "api/tfs/tfs_grpc_codec.h"
#include "api/tfs/tfs_rest_codec.h"
#include "core/inference.h"
#include "targets.h"
#include "workload.h"

// --- allocation counting ---------------------------------------------------------------------------------
// Every malloc-family call of the process goes through these hooks (libstdc++'s operator new calls malloc,
// so C++ allocations are counted too); the counter is relaxed (the benchmarks run on one thread).
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// glibc's own entry points, under the names glibc gives them: the counting hooks below forward to them.
// NOLINTBEGIN(bugprone-reserved-identifier)
extern "C" {
extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
// NOLINTEND(bugprone-reserved-identifier)
void* malloc(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
int posix_memalign(void** out, size_t align, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(align, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* aligned_alloc(size_t align, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(align, size);
}
}

namespace serval::bench {
namespace {

constexpr int64_t kWideFloats = int64_t{224} * 224 * 3;

ModelSignature Signature(int64_t floats) {
  ModelSignature signature;
  Shape shape = floats == kWideFloats ? Shape{-1, 224, 224, 3} : Shape{-1, floats};
  signature.inputs.push_back({"x", DataType::kFp32, shape});
  signature.outputs.push_back({"y", DataType::kFp32, shape});
  return signature;
}

// The benchmark's input: the signature's one input with batch 1, uniform floats in [0, 1) (serval-bench's
// workload, so the JSON text is what the end-to-end runs send).
struct Fixture {
  explicit Fixture(int64_t floats) : signature(Signature(floats)) {
    WorkloadOptions options;
    auto made = MakeInputs(signature, options);
    if (!made.ok()) std::abort();
    inputs = std::move(*made);
    tfs_columnar = TfsRestBody(inputs);
    // Row format: the one input's rows ([1, ...] lists one row).
    tfs_row = tfs_columnar;
    tfs_row.replace(0, std::string("{\"inputs\":{\"x\":").size(), "{\"instances\":");
    tfs_row.pop_back();
    // Bodies as the HTTP server hands them over: with 64 spare bytes of capacity (kBodyPadding), which the
    // JSON decoders read in place.
    tfs_columnar.reserve(tfs_columnar.size() + 64);
    tfs_row.reserve(tfs_row.size() + 64);
    std::string kserve_text = KServeJsonBody(inputs);
    kserve_text.reserve(kserve_text.size() + 64);
    kserve_json = std::make_shared<const std::string>(std::move(kserve_text));
    ExpectedOutput y;
    y.name = "y";
    size_t header = 0;
    kserve_binary = std::make_shared<const std::string>(KServeBinaryBody(inputs, {y}, &header));
    kserve_binary_header = header;

    const Tensor& x = inputs[0];
    tensorflow::serving::PredictRequest predict;
    predict.mutable_model_spec()->set_name("m");
    EncodeTensorProto(x, TensorEncoding::kTypedValues, &(*predict.mutable_inputs())["x"]);
    tfs_grpc_typed = predict.SerializeAsString();
    EncodeTensorProto(x, TensorEncoding::kTensorContent, &(*predict.mutable_inputs())["x"]);
    tfs_grpc_content = predict.SerializeAsString();

    inference::ModelInferRequest infer;
    infer.set_model_name("m");
    auto* input = infer.add_inputs();
    input->set_name("x");
    input->set_datatype("FP32");
    for (int64_t d : x.shape()) input->add_shape(d);
    infer.add_raw_input_contents(std::string(reinterpret_cast<const char*>(x.bytes().data()), x.bytes().size()));
    kserve_grpc_raw = infer.SerializeAsString();
    infer.clear_raw_input_contents();
    auto* contents = input->mutable_contents()->mutable_fp32_contents();
    const float* values = reinterpret_cast<const float*>(x.bytes().data());
    contents->Add(values, values + x.element_count());
    kserve_grpc_typed = infer.SerializeAsString();

    response.model_name = "m";
    response.model_version = 1;
    auto output = Tensor::Allocate("y", DataType::kFp32, x.shape(), size_t{1} << 31);
    if (!output.ok()) std::abort();
    std::memcpy(output->mutable_bytes().data(), x.bytes().data(), x.bytes().size());
    response.outputs.push_back(std::move(*output));
    binary_options.binary_data_output = true;
  }

  ModelSignature signature;
  std::vector<Tensor> inputs;
  std::string tfs_columnar, tfs_row;
  std::shared_ptr<const std::string> kserve_json, kserve_binary;
  size_t kserve_binary_header = 0;
  std::string tfs_grpc_typed, tfs_grpc_content, kserve_grpc_raw, kserve_grpc_typed;
  InferenceResponse response;
  KServeOutputOptions json_options, binary_options;
};

const Fixture& Get(int64_t floats) {
  static const Fixture* wide = new Fixture(kWideFloats);
  static const Fixture* tiny = new Fixture(4);
  return floats == kWideFloats ? *wide : *tiny;
}

// CPU time of the calling thread: the machine is shared, so wall time would count other processes' turns.
double ThreadCpuNs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// Runs `op` per iteration; reports CPU ns per float and heap allocations per operation.
template <typename Op>
void Run(benchmark::State& state, Op op) {
  const int64_t floats = state.range(0);
  const Fixture& f = Get(floats);
  op(f);  // warm up (lazy statics, first-touch of buffers) outside the counts
  const uint64_t before = g_allocations.load(std::memory_order_relaxed);
  const double start = ThreadCpuNs();
  for (auto _ : state) op(f);
  const double elapsed_ns = ThreadCpuNs() - start;
  const uint64_t allocations = g_allocations.load(std::memory_order_relaxed) - before;
  const double iterations = static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.SetItemsProcessed(state.iterations() * floats);
  state.counters["ns_per_float"] = elapsed_ns / (iterations * static_cast<double>(floats));
  state.counters["allocs_per_op"] = static_cast<double>(allocations) / iterations;
}

void Check(const Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "codec bench: %s\n", status.ToString().c_str());
    std::abort();
  }
}

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

// --- decoders ------------------------------------------------------------------------------------------

void BM_Decode_TfsRest_Columnar(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    auto decoded = DecodeTfsPredictRequest(f.tfs_columnar, f.signature);
    Check(decoded.status());
    benchmark::DoNotOptimize(decoded);
  });
}

void BM_Decode_TfsRest_Row(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    auto decoded = DecodeTfsPredictRequest(f.tfs_row, f.signature);
    Check(decoded.status());
    benchmark::DoNotOptimize(decoded);
  });
}

void BM_Decode_KServeRest_Json(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    auto decoded = DecodeKServeInferRequest(f.kserve_json, std::nullopt, f.signature);
    Check(decoded.status());
    benchmark::DoNotOptimize(decoded);
  });
}

// The floor of the JSON decoders in the same run: simdjson On-Demand alone reading the same numbers into a
// float buffer (decimal → double → float, no checks, no tensor bookkeeping): flat as in the KServe body's
// "data" list, and nested as in the TF Serving row body. The machine's speed drifts by tens of percent
// between runs here; the decoders' ratio to this floor does not.
size_t ReadFloorArray(simdjson::ondemand::array array, float* out) {
  size_t n = 0;
  for (auto element : array) {
    simdjson::ondemand::value value = element.value();
    if (value.type() == simdjson::ondemand::json_type::array) {
      n += ReadFloorArray(value.get_array(), out + n);
    } else {
      out[n++] = static_cast<float>(double(value.get_double()));
    }
  }
  return n;
}

void Floor(benchmark::State& state, std::string_view text) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(text);
  std::vector<float> out(static_cast<size_t>(state.range(0)));
  Run(state, [&](const Fixture&) {
    simdjson::ondemand::document doc = parser.iterate(padded);
    size_t n = ReadFloorArray(doc.get_array(), out.data());
    if (n != out.size()) std::abort();
    benchmark::DoNotOptimize(out.data());
  });
}

// The text of the list after `key` in `body`, up to its matching ']'.
std::string_view ListAfter(const std::string& body, std::string_view key) {
  const size_t begin = body.find('[', body.find(key));
  size_t end = begin;
  for (int open = 0;; ++end) {
    open += body[end] == '[';
    open -= body[end] == ']';
    if (open == 0) break;
  }
  return std::string_view(body).substr(begin, end + 1 - begin);
}

void BM_Floor_Simdjson_Flat(benchmark::State& state) {
  Floor(state, ListAfter(*Get(state.range(0)).kserve_json, "\"data\""));
}
void BM_Floor_Simdjson_Nested(benchmark::State& state) {
  Floor(state, ListAfter(Get(state.range(0)).tfs_row, "\"instances\""));
}

void BM_Decode_KServeRest_Binary(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    auto decoded = DecodeKServeInferRequest(f.kserve_binary, f.kserve_binary_header, f.signature);
    Check(decoded.status());
    benchmark::DoNotOptimize(decoded);
  });
}

void DecodeTfsGrpc(benchmark::State& state, const std::string Fixture::*wire) {
  const grpc::ByteBuffer buffer = Buffer(Get(state.range(0)).*wire);
  Run(state, [&buffer](const Fixture& f) {
    CallArena arena;  // as the service parses it
    auto* request = arena.Create<tensorflow::serving::PredictRequest>();
    Check(ParseWithinBudget(buffer, request));
    auto decoded = DecodePredictRequest(*request, f.signature, nullptr);
    Check(decoded.status());
    benchmark::DoNotOptimize(decoded);
  });
}
void BM_Decode_TfsGrpc_FloatVal(benchmark::State& state) { DecodeTfsGrpc(state, &Fixture::tfs_grpc_typed); }
void BM_Decode_TfsGrpc_TensorContent(benchmark::State& state) { DecodeTfsGrpc(state, &Fixture::tfs_grpc_content); }

void DecodeKServeGrpc(benchmark::State& state, const std::string Fixture::*wire) {
  const grpc::ByteBuffer buffer = Buffer(Get(state.range(0)).*wire);
  Run(state, [&buffer](const Fixture& f) {
    CallArena arena;  // as the service parses it (the decoder's shared_ptr owns nothing, as there)
    auto* request = arena.Create<inference::ModelInferRequest>();
    Check(ParseWithinBudget(buffer, request));
    auto decoded = DecodeModelInferRequest(
        std::shared_ptr<const inference::ModelInferRequest>(std::shared_ptr<const void>(), request), f.signature);
    Check(decoded.status());
    benchmark::DoNotOptimize(decoded);
  });
}
void BM_Decode_KServeGrpc_Raw(benchmark::State& state) { DecodeKServeGrpc(state, &Fixture::kserve_grpc_raw); }
void BM_Decode_KServeGrpc_Fp32Contents(benchmark::State& state) {
  DecodeKServeGrpc(state, &Fixture::kserve_grpc_typed);
}

// --- encoders ------------------------------------------------------------------------------------------

void BM_Encode_TfsRest_Row(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    std::string out;
    Check(EncodeTfsPredictResponse(f.response, TfsFormat::kRow, &out));
    benchmark::DoNotOptimize(out);
  });
}

void BM_Encode_TfsRest_Columnar(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    std::string out;
    Check(EncodeTfsPredictResponse(f.response, TfsFormat::kColumnar, &out));
    benchmark::DoNotOptimize(out);
  });
}

void BM_Encode_KServeRest_Json(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    std::string out;
    size_t header = 0;
    Check(EncodeKServeInferResponse(f.response, f.json_options, &out, &header));
    benchmark::DoNotOptimize(out);
  });
}

void BM_Encode_KServeRest_Binary(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    std::string out;
    size_t header = 0;
    Check(EncodeKServeInferResponse(f.response, f.binary_options, &out, &header));
    benchmark::DoNotOptimize(out);
  });
}

void EncodeTfsGrpc(benchmark::State& state, TensorEncoding encoding) {
  tensorflow::serving::ModelSpec spec;
  spec.set_name("m");
  Run(state, [&spec, encoding](const Fixture& f) {
    CallArena arena;  // as the service builds it
    auto* response = arena.Create<tensorflow::serving::PredictResponse>();
    Check(EncodePredictResponse(f.response, spec, encoding, response));
    grpc::ByteBuffer buffer;
    Check(SerializeToByteBuffer(*response, &buffer));
    benchmark::DoNotOptimize(buffer);
  });
}
void BM_Encode_TfsGrpc_FloatVal(benchmark::State& state) { EncodeTfsGrpc(state, TensorEncoding::kTypedValues); }
void BM_Encode_TfsGrpc_TensorContent(benchmark::State& state) { EncodeTfsGrpc(state, TensorEncoding::kTensorContent); }

void BM_Encode_KServeGrpc(benchmark::State& state) {
  Run(state, [](const Fixture& f) {
    CallArena arena;  // as the service builds it
    auto* response = arena.Create<inference::ModelInferResponse>();
    Check(EncodeModelInferResponse(f.response, response));
    grpc::ByteBuffer buffer;
    Check(SerializeToByteBuffer(*response, &buffer));
    benchmark::DoNotOptimize(buffer);
  });
}

double Min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

#define SERVAL_CODEC_BENCH(name) \
  BENCHMARK(name)->Arg(kWideFloats)->Arg(4)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", Min)

SERVAL_CODEC_BENCH(BM_Decode_TfsRest_Row);
SERVAL_CODEC_BENCH(BM_Decode_TfsRest_Columnar);
SERVAL_CODEC_BENCH(BM_Decode_KServeRest_Json);
SERVAL_CODEC_BENCH(BM_Decode_KServeRest_Binary);
SERVAL_CODEC_BENCH(BM_Floor_Simdjson_Flat);
SERVAL_CODEC_BENCH(BM_Floor_Simdjson_Nested);
SERVAL_CODEC_BENCH(BM_Decode_TfsGrpc_FloatVal);
SERVAL_CODEC_BENCH(BM_Decode_TfsGrpc_TensorContent);
SERVAL_CODEC_BENCH(BM_Decode_KServeGrpc_Raw);
SERVAL_CODEC_BENCH(BM_Decode_KServeGrpc_Fp32Contents);
SERVAL_CODEC_BENCH(BM_Encode_TfsRest_Row);
SERVAL_CODEC_BENCH(BM_Encode_TfsRest_Columnar);
SERVAL_CODEC_BENCH(BM_Encode_KServeRest_Json);
SERVAL_CODEC_BENCH(BM_Encode_KServeRest_Binary);
SERVAL_CODEC_BENCH(BM_Encode_TfsGrpc_FloatVal);
SERVAL_CODEC_BENCH(BM_Encode_TfsGrpc_TensorContent);
SERVAL_CODEC_BENCH(BM_Encode_KServeGrpc);

}  // namespace
}  // namespace serval::bench

BENCHMARK_MAIN();

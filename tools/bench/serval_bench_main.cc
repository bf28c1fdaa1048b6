// serval-bench: load generator and in-process baseline for Serval (method in docs/benchmarking.md §3). main() parses
// flags, prepares the workload and the target, runs one load point per concurrency (closed loop) or rate (open loop),
// and writes a summary, JSON and CSV. Exit status: 0 when every request of every point succeeded with correct outputs,
// 1 when some failed or answered wrong, 2 when the run could not start.
#include <gflags/gflags.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "engine/engine.h"
#include "load_generator.h"
#include "server/flag_help.h"
#include "targets.h"
#include "workload.h"

DEFINE_string(target, "",
              "what to drive, one or a comma list: tfs-rest, tfs-grpc, kserve-rest, kserve-rest-binary, "
              "kserve-grpc, inprocess, http-get, grpc-echo");
DEFINE_string(host, "127.0.0.1", "server address (numeric IPv4)");
DEFINE_int32(port, 0, "server port: the REST port for *-rest and http-get, the gRPC port for *-grpc and grpc-echo");
DEFINE_string(model_name, "", "model name on the server");
DEFINE_string(model_file, "",
              "the same .onnx file the server serves: its signature shapes the inputs, and its "
              "in-process outputs are the reference every checked response must match");
DEFINE_string(http_path, "/", "http-get: the path to fetch");
DEFINE_int64(payload_bytes, 64, "grpc-echo: payload size");
DEFINE_string(concurrency, "1",
              "closed loop: outstanding requests, one point per value (e.g. 1,2,4,8,16); "
              "open loop: the most outstanding requests (the first value)");
DEFINE_string(rate, "", "open loop: requests/s, one point per value (e.g. 500,1000); empty = closed loop");
DEFINE_string(distribution, "constant", "open loop gaps: constant or poisson");
DEFINE_double(warmup_s, 2, "warm-up seconds before measuring (excluded)");
DEFINE_double(window_s, 1, "measurement window seconds");
DEFINE_double(duration_s, 0, "> 0: measure exactly this long; 0: until 3 windows agree (stability rule)");
DEFINE_int64(requests, 0, "> 0: stop after this many measured requests");
DEFINE_int32(max_windows, 10, "stability mode: most windows before giving up (the point is then marked unstable)");
DEFINE_int32(stable_windows, 3, "windows that must agree");
DEFINE_double(stability, 0.10, "allowed max/min - 1 of throughput and mean latency over those windows");
DEFINE_int32(check_every, 100, "check the outputs of every Nth response per worker (and the first)");
DEFINE_int64(batch, 1, "value of a variable first dimension");
DEFINE_int64(dynamic_dim, 1, "value of other variable dimensions");
DEFINE_int64(int_range, 2, "integer inputs take values in [0, int_range)");
DEFINE_string(input_ranges, "", "per-input integer ranges [lo, hi), e.g. input_ids=0:30522,attention_mask=1:2");
DEFINE_uint64(seed, 1, "input and schedule seed");
DEFINE_bool(encode_per_request, false, "encode the request body for every request (client encoding cost included)");
DEFINE_int32(intra_op_threads, 1, "in-process engine: ONNX Runtime intra-op threads (match the server's flag)");
DEFINE_int32(inter_op_threads, 1, "in-process engine: inter-op threads");
DEFINE_string(graph_optimization_level, "all", "in-process engine: disable, basic, extended, all");
DEFINE_bool(enable_cpu_mem_arena, true, "in-process engine: ORT CPU arena (match the server)");
DEFINE_bool(ort_allow_spinning, false, "in-process engine: let ORT threads spin (match the server)");
DEFINE_int32(server_pid, 0, "sample this process's CPU time and memory from /proc (inprocess: this process)");
DEFINE_string(cpu, "", "pin this process to these CPUs (e.g. 0 or 0-1), like taskset");
DEFINE_string(json, "", "write the results as JSON to this file");
DEFINE_string(csv, "", "append one CSV row per point to this file (header when new)");
DEFINE_string(label, "", "free text stored with the results (e.g. the model or the run name)");
DEFINE_bool(progress, isatty(STDERR_FILENO) != 0, "progress line per window on stderr");

namespace serval::bench {
namespace {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

Status PinToCpus(const std::string& spec) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const std::string& part : SplitList(spec)) {
    const size_t dash = part.find('-');
    char* end = nullptr;
    long lo = std::strtol(part.c_str(), &end, 10);
    long hi = dash == std::string::npos ? lo : std::strtol(part.c_str() + dash + 1, &end, 10);
    if (lo < 0 || hi < lo || hi >= CPU_SETSIZE) return InvalidArgument("bad --cpu list: " + spec);
    for (long c = lo; c <= hi; ++c) CPU_SET(c, &set);
  }
  if (sched_setaffinity(0, sizeof(set), &set) != 0) return InvalidArgument("cannot pin to CPUs " + spec);
  return Status::Ok();
}

struct Point {
  std::string target;
  LoadResult result;
};

void WriteProcess(rapidjson::PrettyWriter<rapidjson::StringBuffer>* w, const char* key, const ProcessSample& p) {
  w->Key(key);
  w->StartObject();
  w->Key("cpu_seconds"), w->Double(p.cpu_seconds);
  w->Key("vm_rss_kb"), w->Int64(p.vm_rss_kb);
  w->Key("vm_hwm_kb"), w->Int64(p.vm_hwm_kb);
  w->Key("threads"), w->Int64(p.threads);
  w->EndObject();
}

std::string ResultsJson(const std::vector<Point>& points, const std::string& runtime_version) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  utsname uts{};
  uname(&uts);
  w.StartObject();
  w.Key("tool"), w.String("serval-bench");
  w.Key("label"), w.String(FLAGS_label.c_str());
  w.Key("time_unix"), w.Int64(static_cast<int64_t>(std::time(nullptr)));
  w.Key("host"), w.String(uts.nodename);
  w.Key("kernel"), w.String(uts.release);
  w.Key("online_cpus"), w.Int64(sysconf(_SC_NPROCESSORS_ONLN));
  w.Key("onnxruntime"), w.String(runtime_version.c_str());
  w.Key("model_name"), w.String(FLAGS_model_name.c_str());
  w.Key("model_file"), w.String(FLAGS_model_file.c_str());
  w.Key("batch"), w.Int64(FLAGS_batch);
  w.Key("intra_op_threads"), w.Int(FLAGS_intra_op_threads);
  w.Key("encode_per_request"), w.Bool(FLAGS_encode_per_request);
  w.Key("distribution"), w.String(FLAGS_distribution.c_str());
  w.Key("points");
  w.StartArray();
  for (const Point& p : points) {
    const LoadResult& r = p.result;
    w.StartObject();
    w.Key("target"), w.String(p.target.c_str());
    w.Key("concurrency"), w.Int(r.concurrency);
    w.Key("target_rate"), w.Double(r.target_rate);
    w.Key("seconds"), w.Double(r.seconds);
    w.Key("completed"), w.Int64(r.completed);
    w.Key("errors"), w.Int64(r.errors);
    w.Key("checked"), w.Int64(r.checked);
    w.Key("wrong_answers"), w.Int64(r.wrong_answers);
    w.Key("first_error"), w.String(r.first_error.c_str());
    w.Key("throughput"), w.Double(r.throughput);
    w.Key("stable"), w.Bool(r.stable);
    w.Key("valid"), w.Bool(r.valid);
    w.Key("invalid_reason"), w.String(r.invalid_reason.c_str());
    w.Key("achieved_rate"), w.Double(r.achieved_rate);
    w.Key("late_fraction"), w.Double(r.late_fraction);
    w.Key("latency_us");
    w.StartObject();
    w.Key("mean"), w.Double(r.latency.mean_us);
    w.Key("min"), w.Double(r.latency.min_us);
    w.Key("p50"), w.Double(r.latency.p50_us);
    w.Key("p90"), w.Double(r.latency.p90_us);
    w.Key("p99"), w.Double(r.latency.p99_us);
    w.Key("p99.9"), w.Double(r.latency.p999_us);
    w.Key("max"), w.Double(r.latency.max_us);
    w.EndObject();
    w.Key("client_cpu_percent"), w.Double(r.client_cpu_percent);
    w.Key("server_sampled"), w.Bool(r.server_sampled);
    w.Key("server_cpu_percent"), w.Double(r.server_cpu_percent);
    w.Key("server_cpu_us_per_request"), w.Double(r.server_cpu_us_per_request);
    WriteProcess(&w, "server_after_warmup", r.server_after_warmup);
    WriteProcess(&w, "server_after_run", r.server_after_run);
    w.Key("windows");
    w.StartArray();
    for (const WindowStats& ws : r.windows) {
      w.StartObject();
      w.Key("seconds"), w.Double(ws.seconds);
      w.Key("completed"), w.Int64(ws.completed);
      w.Key("throughput"), w.Double(ws.throughput);
      w.Key("p50_us"), w.Double(ws.p50_us);
      w.Key("mean_us"), w.Double(ws.mean_us);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

void AppendCsv(const std::string& path, const std::vector<Point>& points) {
  const bool fresh = !std::ifstream(path).good();
  std::ofstream out(path, std::ios::app);
  if (fresh) {
    out << "label,target,concurrency,target_rate,throughput,p50_us,p90_us,p99_us,p999_us,max_us,completed,errors,"
           "wrong_answers,stable,valid,client_cpu_percent,server_cpu_percent,server_cpu_us_per_request,"
           "server_rss_kb,server_hwm_kb,server_threads\n";
  }
  for (const Point& p : points) {
    const LoadResult& r = p.result;
    out << FLAGS_label << ',' << p.target << ',' << r.concurrency << ',' << r.target_rate << ',' << r.throughput << ','
        << r.latency.p50_us << ',' << r.latency.p90_us << ',' << r.latency.p99_us << ',' << r.latency.p999_us << ','
        << r.latency.max_us << ',' << r.completed << ',' << r.errors << ',' << r.wrong_answers << ',' << r.stable << ','
        << r.valid << ',' << r.client_cpu_percent << ',' << r.server_cpu_percent << ',' << r.server_cpu_us_per_request
        << ',' << r.server_after_run.vm_rss_kb << ',' << r.server_after_run.vm_hwm_kb << ','
        << r.server_after_run.threads << '\n';
  }
}

int Main() {
  if (!FLAGS_cpu.empty()) {
    Status pinned = PinToCpus(FLAGS_cpu);
    if (!pinned.ok()) return std::fprintf(stderr, "serval-bench: %s\n", pinned.ToString().c_str()), 2;
  }
  const std::vector<std::string> targets = SplitList(FLAGS_target);
  if (targets.empty()) return std::fprintf(stderr, "serval-bench: --target is required\n"), 2;
  bool needs_model = false;
  for (const std::string& t : targets) {
    if (std::find(TargetKinds().begin(), TargetKinds().end(), t) == TargetKinds().end()) {
      return std::fprintf(stderr, "serval-bench: unknown --target %s\n", t.c_str()), 2;
    }
    needs_model |= IsModelTarget(t);
  }
  if (FLAGS_distribution != "constant" && FLAGS_distribution != "poisson") {
    return std::fprintf(stderr, "serval-bench: --distribution must be constant or poisson\n"), 2;
  }
  std::vector<int> concurrencies;
  for (const std::string& c : SplitList(FLAGS_concurrency)) concurrencies.push_back(std::atoi(c.c_str()));
  std::vector<double> rates;
  for (const std::string& r : SplitList(FLAGS_rate)) rates.push_back(std::atof(r.c_str()));
  if (concurrencies.empty()) return std::fprintf(stderr, "serval-bench: --concurrency is empty\n"), 2;

  // The engine (also for remote targets: it computes the reference outputs once).
  std::shared_ptr<const ModelSession> session;
  std::vector<Tensor> inputs;
  std::vector<ExpectedOutput> expected;
  std::string runtime_version;
  std::unique_ptr<Engine> engine;
  if (needs_model) {
    if (FLAGS_model_file.empty()) return std::fprintf(stderr, "serval-bench: model targets need --model_file\n"), 2;
    EngineOptions engine_options;
    engine_options.intra_op_threads = FLAGS_intra_op_threads;
    engine_options.inter_op_threads = FLAGS_inter_op_threads;
    auto level = ParseGraphOptimizationLevel(FLAGS_graph_optimization_level);
    if (!level.ok()) return std::fprintf(stderr, "serval-bench: %s\n", level.status().ToString().c_str()), 2;
    engine_options.graph_optimization_level = *level;
    engine_options.enable_cpu_mem_arena = FLAGS_enable_cpu_mem_arena;
    engine_options.allow_spinning = FLAGS_ort_allow_spinning;
    auto created = Engine::Create(engine_options);
    if (!created.ok()) return std::fprintf(stderr, "serval-bench: %s\n", created.status().ToString().c_str()), 2;
    engine = std::move(created).value();
    runtime_version = engine->runtime_version();
    auto loaded = engine->Load(FLAGS_model_file);
    if (!loaded.ok()) return std::fprintf(stderr, "serval-bench: %s\n", loaded.status().ToString().c_str()), 2;
    session = std::move(loaded).value();
    WorkloadOptions workload;
    workload.batch = FLAGS_batch;
    workload.dynamic_dim = FLAGS_dynamic_dim;
    workload.int_range = FLAGS_int_range;
    workload.seed = FLAGS_seed;
    auto ranges = ParseIntRanges(FLAGS_input_ranges);
    if (!ranges.ok()) return std::fprintf(stderr, "serval-bench: %s\n", ranges.status().ToString().c_str()), 2;
    workload.int_ranges = std::move(ranges).value();
    auto made = MakeInputs(session->signature(), workload);
    if (!made.ok()) return std::fprintf(stderr, "serval-bench: %s\n", made.status().ToString().c_str()), 2;
    inputs = std::move(made).value();
    std::vector<Tensor> outputs;
    Status ran = session->Run(inputs, {}, &outputs);
    if (!ran.ok()) return std::fprintf(stderr, "serval-bench: reference run: %s\n", ran.ToString().c_str()), 2;
    for (size_t i = 0; i < outputs.size(); ++i) {
      auto values = ToDoubles(outputs[i].dtype(), outputs[i].bytes());
      if (!values.ok()) return std::fprintf(stderr, "serval-bench: %s\n", values.status().ToString().c_str()), 2;
      expected.push_back(
          {session->signature().outputs[i].name, outputs[i].dtype(), outputs[i].shape(), std::move(values).value()});
    }
  }

  std::vector<Point> points;
  bool failed = false;
  for (const std::string& kind : targets) {
    TargetConfig config;
    config.kind = kind;
    config.host = FLAGS_host;
    config.port = FLAGS_port;
    config.model_name = FLAGS_model_name;
    config.http_path = FLAGS_http_path;
    config.payload_bytes = FLAGS_payload_bytes;
    config.encode_per_request = FLAGS_encode_per_request;
    if (IsModelTarget(kind)) {
      config.inputs = inputs;
      config.expected = expected;
      config.session = session;
    }
    auto target = MakeTarget(std::move(config));
    if (!target.ok()) return std::fprintf(stderr, "serval-bench: %s\n", target.status().ToString().c_str()), 2;

    LoadOptions load;
    load.poisson = FLAGS_distribution == "poisson";
    load.warmup_s = FLAGS_warmup_s;
    load.window_s = FLAGS_window_s;
    load.duration_s = FLAGS_duration_s;
    load.requests = FLAGS_requests;
    load.max_windows = FLAGS_max_windows;
    load.stable_windows = FLAGS_stable_windows;
    load.stability = FLAGS_stability;
    load.check_every = FLAGS_check_every;
    load.seed = FLAGS_seed;
    load.progress = FLAGS_progress;
    load.server_pid = kind == "inprocess" ? getpid() : FLAGS_server_pid;
    std::vector<std::pair<int, double>> settings;
    if (rates.empty()) {
      for (int c : concurrencies) settings.emplace_back(c, 0.0);
    } else {
      for (double r : rates) settings.emplace_back(concurrencies.front(), r);
    }
    for (const auto& [concurrency, rate] : settings) {
      load.concurrency = concurrency;
      load.rate = rate;
      if (FLAGS_progress)
        std::fprintf(stderr, "%s c=%d%s\n", kind.c_str(), concurrency,
                     rate > 0 ? (" rate=" + std::to_string(rate)).c_str() : "");
      auto result = RunLoad(target->get(), load);
      if (!result.ok()) {
        std::fprintf(stderr, "serval-bench: %s: %s\n", kind.c_str(), result.status().ToString().c_str());
        return 2;
      }
      const LoadResult& r = *result;
      std::printf(
          "%-18s c=%-3d %s%10.1f req/s  p50 %8.1f  p90 %8.1f  p99 %8.1f  p99.9 %8.1f  max %8.1f us  "
          "n=%lld err=%lld checked=%lld%s%s  client cpu %.0f%%",
          kind.c_str(), r.concurrency, rate > 0 ? ("rate=" + std::to_string(static_cast<int>(rate)) + " ").c_str() : "",
          r.throughput, r.latency.p50_us, r.latency.p90_us, r.latency.p99_us, r.latency.p999_us, r.latency.max_us,
          static_cast<long long>(r.completed), static_cast<long long>(r.errors), static_cast<long long>(r.checked),
          r.stable ? "" : " UNSTABLE", r.valid ? "" : (" INVALID (" + r.invalid_reason + ")").c_str(),
          r.client_cpu_percent);
      if (r.server_sampled) {
        std::printf("  server cpu %.0f%% (%.1f us/req) rss %lld kB hwm %lld kB threads %lld", r.server_cpu_percent,
                    r.server_cpu_us_per_request, static_cast<long long>(r.server_after_run.vm_rss_kb),
                    static_cast<long long>(r.server_after_run.vm_hwm_kb),
                    static_cast<long long>(r.server_after_run.threads));
      }
      std::printf("\n");
      if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
      std::fflush(stdout);
      failed |= r.errors > 0 || r.wrong_answers > 0 || r.completed == 0;
      points.push_back({kind, *result});
    }
  }
  if (!FLAGS_json.empty()) {
    std::ofstream out(FLAGS_json);
    out << ResultsJson(points, runtime_version);
    if (!out) return std::fprintf(stderr, "serval-bench: cannot write %s\n", FLAGS_json.c_str()), 2;
  }
  if (!FLAGS_csv.empty()) AppendCsv(FLAGS_csv, points);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace serval::bench

namespace serval::bench {

// --help: serval-bench's flags only, in the order bench/README.md describes them.
const FlagGroup kFlagGroups[] = {
    {"Target", {"target", "host", "port", "model_name", "model_file", "http_path", "payload_bytes"}},
    {"Load", {"concurrency", "rate", "distribution"}},
    {"Measurement",
     {"warmup_s", "window_s", "duration_s", "requests", "max_windows", "stable_windows", "stability", "check_every"}},
    {"Inputs", {"batch", "dynamic_dim", "int_range", "input_ranges", "seed", "encode_per_request"}},
    {"In-process engine (--target=inprocess; match the server's flags)",
     {"intra_op_threads", "inter_op_threads", "graph_optimization_level", "enable_cpu_mem_arena",
      "ort_allow_spinning"}},
    {"Process and output", {"server_pid", "cpu", "json", "csv", "label", "progress"}},
};

constexpr std::string_view kUsage =
    "serval-bench: load generator and in-process baseline for Serval (method: docs/benchmarking.md).\n"
    "Usage: serval-bench --target=<kind>[,<kind>...] [--port=N --model_name=M] --model_file=F ...\n"
    "       (--help: this text; --version: versions)";

}  // namespace serval::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage(std::string(serval::bench::kUsage));
  switch (serval::ParseFlagsWithInfo(&argc, &argv)) {
    case serval::InfoRequest::kHelp:
      std::fputs(serval::FlagHelp(serval::bench::kUsage, serval::bench::kFlagGroups).c_str(), stdout);
      return 0;
    case serval::InfoRequest::kVersion:
      std::printf("serval-bench %s\n", SERVAL_VERSION);
      for (const serval::RuntimeVersion& runtime : serval::RuntimeVersions()) {
        std::printf("%s %s\n", runtime.name.c_str(), runtime.version.c_str());
      }
      return 0;
    case serval::InfoRequest::kNone:
      break;
  }
  return serval::bench::Main();
}

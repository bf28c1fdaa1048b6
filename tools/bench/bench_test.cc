// Unit tests of serval-bench's pure parts: percentiles, the stability rule, /proc parsing, the HTTP
// response-head parser, request encoders and response checkers. The load loop itself is exercised end to
// end by tests/integration/test_bench_smoke.py.
#include <gtest/gtest.h>

#include <cstring>

#include "bench_stats.h"
#include "http_client.h"
#include "targets.h"
#include "workload.h"

namespace serval::bench {
namespace {

TEST(SummarizeTest, NearestRankPercentiles) {
  std::vector<int64_t> ns;
  for (int i = 100; i >= 1; --i) ns.push_back(i * 1000);  // 1..100 us, unsorted
  const LatencySummary s = Summarize(&ns);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.p50_us, 50);
  EXPECT_DOUBLE_EQ(s.p90_us, 90);
  EXPECT_DOUBLE_EQ(s.p99_us, 99);
  EXPECT_DOUBLE_EQ(s.p999_us, 100);
  EXPECT_DOUBLE_EQ(s.max_us, 100);
  EXPECT_DOUBLE_EQ(s.min_us, 1);
  EXPECT_DOUBLE_EQ(s.mean_us, 50.5);
}

TEST(SummarizeTest, EmptyIsZero) {
  std::vector<int64_t> ns;
  EXPECT_EQ(Summarize(&ns).count, 0);
  EXPECT_EQ(Summarize(&ns).p99_us, 0);
}

TEST(StabilityTest, ThreeWindowsWithinTenPercent) {
  auto window = [](double throughput, double mean) {
    WindowStats w;
    w.completed = 10;
    w.throughput = throughput;
    w.mean_us = mean;
    return w;
  };
  std::vector<WindowStats> windows = {window(50, 100), window(100, 100), window(105, 102)};
  EXPECT_FALSE(LastWindowsStable(windows, 3, 0.10));  // the first is far off
  windows.push_back(window(109, 104));
  EXPECT_TRUE(LastWindowsStable(windows, 3, 0.10));
  windows.push_back(window(109, 120));  // latency moved by > 10 %
  EXPECT_FALSE(LastWindowsStable(windows, 3, 0.10));
  EXPECT_FALSE(LastWindowsStable({window(1, 1)}, 3, 0.10));
}

TEST(ProcTest, ParsesStatWithSpacesInTheName) {
  ProcessSample s;
  // utime = 250 ticks, stime = 50 ticks (fields 14 and 15).
  const std::string stat = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 7 0 100 2000 300";
  ASSERT_TRUE(ParseProcStat(stat, 100, &s).ok());
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 3.0);
  EXPECT_FALSE(ParseProcStat("garbage", 100, &s).ok());
  ASSERT_TRUE(ParseProcStatus("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t7\n", &s).ok());
  EXPECT_EQ(s.vm_rss_kb, 1024);
  EXPECT_EQ(s.vm_hwm_kb, 2048);
  EXPECT_EQ(s.threads, 7);
  EXPECT_FALSE(ParseProcStatus("Name:\tx\n", &s).ok());
}

TEST(ProcTest, ReadsThisProcess) {
  auto s = ReadProcess(getpid());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(s->vm_rss_kb, 0);
  EXPECT_GE(s->threads, 1);
}

TEST(HttpHeadTest, ParsesStatusAndLengths) {
  HttpResponse r;
  int64_t length = 0;
  ASSERT_TRUE(
      ParseResponseHead("HTTP/1.1 200 OK\r\ncontent-LENGTH: 12\r\nInference-Header-Content-Length: 5\r\n", &r, &length)
          .ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(length, 12);
  EXPECT_EQ(r.inference_header_length, 5);
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 200 OK\r\n", &r, &length).ok());  // no Content-Length
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", &r, &length).ok());
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n", &r, &length).ok());
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n", &r, &length).ok());
  EXPECT_FALSE(ParseResponseHead("junk", &r, &length).ok());
}

Tensor FloatTensor(const std::string& name, Shape shape, std::vector<float> values) {
  auto t = Tensor::Allocate(name, DataType::kFp32, std::move(shape));
  std::memcpy(t->mutable_bytes().data(), values.data(), values.size() * sizeof(float));
  return std::move(t).value();
}

TEST(EncodeTest, TfsAndKServeBodies) {
  std::vector<Tensor> inputs = {FloatTensor("a", {1, 2}, {1.5f, 0.1f}), FloatTensor("b", {2}, {3, 4})};
  EXPECT_EQ(TfsRestBody(inputs), R"({"inputs":{"a":[[1.5,0.1]],"b":[3,4]}})");
  EXPECT_EQ(KServeJsonBody(inputs), R"({"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1.5,0.1]},)"
                                    R"({"name":"b","shape":[2],"datatype":"FP32","data":[3,4]}]})");
  size_t header = 0;
  const std::string binary = KServeBinaryBody(inputs, {{"sum", DataType::kFp32, {1, 2}, {}}}, &header);
  EXPECT_EQ(binary.size(), header + 16);
  EXPECT_NE(binary.substr(0, header).find(R"("binary_data_size":8)"), std::string::npos);
  EXPECT_NE(binary.substr(0, header).find(R"("outputs":[{"name":"sum","parameters":{"binary_data":true}}])"),
            std::string::npos);
  float first;
  std::memcpy(&first, binary.data() + header, sizeof(float));
  EXPECT_EQ(first, 1.5f);
}

TEST(CheckTest, TfsRestResponses) {
  const std::vector<ExpectedOutput> one = {{"sum", DataType::kFp32, {1, 2}, {2, 3}}};
  EXPECT_TRUE(CheckTfsRestResponse(R"({"outputs":[[2.0,3.0]]})", one).ok());
  EXPECT_TRUE(CheckTfsRestResponse(R"({"outputs":{"sum":[[2.0,3.0]]}})", one).ok());
  EXPECT_FALSE(CheckTfsRestResponse(R"({"outputs":[[2.0,3.5]]})", one).ok());
  EXPECT_FALSE(CheckTfsRestResponse(R"({"outputs":[[2.0]]})", one).ok());
  EXPECT_FALSE(CheckTfsRestResponse(R"({"error":"x"})", one).ok());
  EXPECT_FALSE(CheckTfsRestResponse("not json", one).ok());
}

TEST(CheckTest, KServeJsonAndBinaryResponses) {
  const std::vector<ExpectedOutput> one = {{"sum", DataType::kFp32, {1, 2}, {2, 3}}};
  EXPECT_TRUE(CheckKServeRestResponse(R"({"outputs":[{"name":"sum","datatype":"FP32","data":[2,3]}]})", -1, one).ok());
  EXPECT_FALSE(CheckKServeRestResponse(R"({"outputs":[{"name":"other","data":[2,3]}]})", -1, one).ok());
  std::string json = R"({"outputs":[{"name":"sum","datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  std::string body = json;
  const float values[2] = {2, 3};
  body.append(reinterpret_cast<const char*>(values), sizeof(values));
  EXPECT_TRUE(CheckKServeRestResponse(body, static_cast<int64_t>(json.size()), one).ok());
  body[body.size() - 1] ^= 0x40;  // corrupt the last float
  EXPECT_FALSE(CheckKServeRestResponse(body, static_cast<int64_t>(json.size()), one).ok());
  EXPECT_FALSE(CheckKServeRestResponse(json, static_cast<int64_t>(json.size()), one).ok());  // bytes missing
  EXPECT_FALSE(CheckKServeRestResponse(json, static_cast<int64_t>(json.size()) + 100, one).ok());
}

TEST(WorkloadTest, InputsFollowTheSignatureAndAreDeterministic) {
  ModelSignature sig;
  sig.inputs = {{"ids", DataType::kInt64, {-1, 4}}, {"x", DataType::kFp32, {-1, -1}}};
  WorkloadOptions options;
  options.batch = 2;
  options.dynamic_dim = 3;
  options.int_range = 5;
  auto a = MakeInputs(sig, options);
  auto b = MakeInputs(sig, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].shape(), (Shape{2, 4}));
  EXPECT_EQ((*a)[1].shape(), (Shape{2, 3}));
  auto ids = ToDoubles(DataType::kInt64, (*a)[0].bytes());
  ASSERT_TRUE(ids.ok());
  for (double v : *ids) EXPECT_TRUE(v >= 0 && v < 5) << v;
  EXPECT_EQ(std::memcmp((*a)[1].bytes().data(), (*b)[1].bytes().data(), (*a)[1].bytes().size()), 0);
  sig.inputs = {{"s", DataType::kString, {1}}};
  EXPECT_FALSE(MakeInputs(sig, options).ok());
  sig.inputs = {{"huge", DataType::kFp32, {1 << 30, 1 << 30}}};
  EXPECT_FALSE(MakeInputs(sig, options).ok());
}

TEST(WorkloadTest, PerInputIntegerRanges) {
  auto ranges = ParseIntRanges("mask=1:2,ids=5:9");
  ASSERT_TRUE(ranges.ok()) << ranges.status().ToString();
  EXPECT_EQ(ranges->at("mask"), (std::pair<int64_t, int64_t>{1, 2}));
  EXPECT_FALSE(ParseIntRanges("mask=2:2").ok());
  EXPECT_FALSE(ParseIntRanges("mask").ok());
  EXPECT_FALSE(ParseIntRanges("mask=1:x").ok());
  ModelSignature sig;
  sig.inputs = {{"mask", DataType::kInt64, {1, 8}}, {"ids", DataType::kInt32, {1, 8}}};
  WorkloadOptions options;
  options.int_ranges = *ranges;
  auto inputs = MakeInputs(sig, options);
  ASSERT_TRUE(inputs.ok());
  auto mask = ToDoubles(DataType::kInt64, (*inputs)[0].bytes());
  auto ids = ToDoubles(DataType::kInt32, (*inputs)[1].bytes());
  ASSERT_TRUE(mask.ok() && ids.ok());
  for (double v : *mask) EXPECT_EQ(v, 1);
  for (double v : *ids) EXPECT_TRUE(v >= 5 && v < 9) << v;
}

TEST(WorkloadTest, CheckValuesTolerance) {
  const ExpectedOutput e = {"y", DataType::kFp32, {2}, {1.0, 1000.0}};
  EXPECT_TRUE(CheckValues(e, std::vector<double>{1.00005, 1000.5}).ok());
  EXPECT_FALSE(CheckValues(e, std::vector<double>{1.01, 1000.0}).ok());
  EXPECT_FALSE(CheckValues(e, std::vector<double>{1.0}).ok());
}

}  // namespace
}  // namespace serval::bench

#include "batching/batching_session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

namespace serval {
namespace {

using namespace std::chrono_literals;

constexpr auto kBound = 30s;  // generous bound for every wait: a hang fails instead of blocking forever

// Polls `done` every millisecond for at most kBound.
bool WaitFor(const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + kBound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

Tensor Floats(const std::string& name, Shape shape, const std::vector<float>& values) {
  StatusOr<Tensor> tensor = Tensor::Allocate(name, DataType::kFp32, std::move(shape));
  EXPECT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->mutable_bytes().size(), values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(tensor->mutable_bytes().data(), values.data(), values.size() * sizeof(float));
  return std::move(tensor).value();
}

std::vector<float> ReadFloats(const Tensor& tensor) {
  std::vector<float> values(tensor.bytes().size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), tensor.bytes().data(), tensor.bytes().size());
  return values;
}

// `rows` rows of `width` values, all derived from `seed` so that each request's data is its own.
std::vector<float> RowsOf(int64_t rows, int64_t width, float seed) {
  std::vector<float> values(static_cast<size_t>(rows * width));
  for (size_t i = 0; i < values.size(); ++i) values[i] = seed + static_cast<float>(i);
  return values;
}

std::vector<float> Doubled(std::vector<float> values) {
  for (float& v : values) v = 2 * v + 1;
  return values;
}

// What a RecordingSession saw, shared with the test so that it outlives the session. A closed gate holds
// runs until opened.
struct Recording {
  mutable std::mutex mutex;
  std::condition_variable gate_cv;
  bool gate_open = true;
  int entered = 0;
  std::vector<Shape> run_shapes;
  std::vector<std::vector<float>> run_inputs;

  void CloseGate() {
    std::lock_guard<std::mutex> lock(mutex);
    gate_open = false;
  }
  void OpenGate() {
    std::lock_guard<std::mutex> lock(mutex);
    gate_open = true;
    gate_cv.notify_all();
  }
  int Entered() const {
    std::lock_guard<std::mutex> lock(mutex);
    return entered;
  }
  std::vector<Shape> Shapes() const {
    std::lock_guard<std::mutex> lock(mutex);
    return run_shapes;
  }
  std::vector<std::vector<float>> Inputs() const {
    std::lock_guard<std::mutex> lock(mutex);
    return run_inputs;
  }
};

// x FP32 `shape` -> y = 2x + 1, recording every run.
class RecordingSession : public ModelSession {
 public:
  explicit RecordingSession(Shape shape = {-1, 2}, std::shared_ptr<Recording> recording = std::make_shared<Recording>())
      : recording_(std::move(recording)) {
    signature_.inputs = {{"x", DataType::kFp32, shape}};
    signature_.outputs = {{"y", DataType::kFp32, shape}};
  }
  const ModelSignature& signature() const override { return signature_; }
  const std::string& execution_provider() const override { return provider_; }
  using ModelSession::Run;
  Status Run(const std::vector<Tensor>& inputs, const std::vector<std::string>&, const RunContext&,
             std::vector<Tensor>* outputs) const override {
    Recording& r = *recording_;
    std::unique_lock<std::mutex> lock(r.mutex);
    ++r.entered;
    if (!r.gate_cv.wait_for(lock, kBound, [&r] { return r.gate_open; })) return Internal("gate never opened");
    r.run_shapes.push_back(inputs.at(0).shape());
    r.run_inputs.push_back(ReadFloats(inputs.at(0)));
    lock.unlock();
    outputs->clear();
    outputs->push_back(Floats("y", inputs.at(0).shape(), Doubled(ReadFloats(inputs.at(0)))));
    return Status::Ok();
  }

 private:
  std::shared_ptr<Recording> recording_;
  ModelSignature signature_;
  std::string provider_ = "recording";
};

class Observer : public BatchingObserver {
 public:
  void OnBatch(std::string_view model, int64_t version, int requests, int64_t rows, int64_t padded_rows,
               int64_t) override {
    std::lock_guard<std::mutex> lock(mutex);
    batches.push_back({std::string(model), version, requests, rows, padded_rows});
  }
  void OnReject(std::string_view, int64_t, BatchRejectReason reason) override {
    std::lock_guard<std::mutex> lock(mutex);
    rejects.push_back(reason);
  }
  struct Seen {
    std::string model;
    int64_t version;
    int requests;
    int64_t rows, padded_rows;
  };
  std::mutex mutex;
  std::vector<Seen> batches;
  std::vector<BatchRejectReason> rejects;
};

struct Fixture {
  std::shared_ptr<Observer> observer = std::make_shared<Observer>();
  std::shared_ptr<Recording> fake = std::make_shared<Recording>();
  std::unique_ptr<BatchingSession> session;

  explicit Fixture(const BatchingOptions& batching, int threads = 1, const Shape& shape = {-1, 2}) {
    BatchSchedulerOptions scheduler_options;
    scheduler_options.num_batch_threads = threads;
    scheduler_options.observer = observer;
    auto inner = std::make_unique<RecordingSession>(shape, fake);
    StatusOr<std::unique_ptr<BatchingSession>> created = BatchingSession::Create(
        BatchScheduler::Create(scheduler_options), {"m", 7, batching, nullptr}, std::move(inner));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    session = std::move(created).value();
  }
};

BatchingOptions Options(int64_t max_batch_size, int64_t timeout_micros = 0, int64_t max_enqueued = 10) {
  BatchingOptions options;
  options.max_batch_size = max_batch_size;
  options.batch_timeout_micros = timeout_micros;
  options.max_enqueued_batches = max_enqueued;
  return options;
}

struct Call {
  std::vector<float> input;
  int64_t rows = 0;
  Status status;
  std::vector<Tensor> outputs;
  std::thread thread;
};

void Start(BatchingSession& session, Call& call, int64_t rows, float seed, const RunContext& context = {},
           int64_t width = 2) {
  call.rows = rows;
  call.input = RowsOf(rows, width, seed);
  call.thread = std::thread([&session, &call, rows, width, context] {
    call.status = session.Run({Floats("x", {rows, width}, call.input)}, {}, context, &call.outputs);
  });
}

void ExpectAnswered(const Call& call, int64_t width = 2) {
  ASSERT_TRUE(call.status.ok()) << call.status.ToString();
  ASSERT_EQ(call.outputs.size(), 1u);
  EXPECT_EQ(call.outputs[0].name(), "y");
  EXPECT_EQ(call.outputs[0].shape(), (Shape{call.rows, width}));
  EXPECT_EQ(ReadFloats(call.outputs[0]), Doubled(call.input));
}

// RunContext is core's; its rules are what the batcher relies on, so they are pinned here.
TEST(RunContextTest, DeadlineWinsOverGoneClientAndMapsToStatusCodes) {
  RunContext context;
  EXPECT_TRUE(context.Unbounded());
  EXPECT_EQ(context.Check(), CancelReason::kNone);
  context.client_gone = [] { return true; };
  EXPECT_FALSE(context.Unbounded());
  EXPECT_EQ(context.Check(), CancelReason::kClientGone);
  context.deadline = std::chrono::steady_clock::now();
  EXPECT_EQ(context.Check(context.deadline), CancelReason::kDeadline);
  EXPECT_EQ(context.Check(context.deadline - 1ms), CancelReason::kClientGone);
  EXPECT_EQ(CancelStatus(CancelReason::kDeadline, "x").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CancelStatus(CancelReason::kClientGone, "x").code(), StatusCode::kCancelled);
  EXPECT_TRUE(CancelStatus(CancelReason::kNone, "x").ok());

  InferenceRequest request;
  request.deadline = context.deadline;
  request.client_gone = [] { return false; };
  RunContext from_request = request.context();
  EXPECT_EQ(from_request.deadline, request.deadline);
  EXPECT_EQ(from_request.Check(request.deadline - 1ms), CancelReason::kNone);
}

TEST(BatchingSessionTest, MergesQueuedRequestsIntoOneRunAndSplitsOutputs) {
  // A timeout far away: the batch runs exactly when it is full (1 + 2 + 3 = 6 rows).
  Fixture f(Options(6, /*timeout_micros=*/60'000'000));
  Call calls[3];
  for (int i = 0; i < 3; ++i) Start(*f.session, calls[i], i + 1, 100.0f * static_cast<float>(i));
  for (Call& call : calls) call.thread.join();
  for (const Call& call : calls) ExpectAnswered(call);
  ASSERT_EQ(f.fake->Shapes().size(), 1u);
  EXPECT_EQ(f.fake->Shapes()[0], (Shape{6, 2}));
  EXPECT_EQ(f.session->stats().batches.load(), 1u);
  EXPECT_EQ(f.session->stats().batched_requests.load(), 3u);
  ASSERT_EQ(f.observer->batches.size(), 1u);
  EXPECT_EQ(f.observer->batches[0].model, "m");
  EXPECT_EQ(f.observer->batches[0].version, 7);
  EXPECT_EQ(f.observer->batches[0].requests, 3);
  EXPECT_EQ(f.observer->batches[0].rows, 6);
}

TEST(BatchingSessionTest, OutputsStayValidAfterTheSessionIsGone) {
  Fixture f(Options(4, 60'000'000));
  Call calls[2];
  Start(*f.session, calls[0], 2, 1.0f);
  Start(*f.session, calls[1], 2, 50.0f);
  for (Call& call : calls) call.thread.join();
  f.session.reset();
  for (const Call& call : calls) ExpectAnswered(call);
}

TEST(BatchingSessionTest, RequestsQueueWhileTheThreadIsBusyThenRunTogether) {
  Fixture f(Options(100));  // timeout 0: a batch runs as soon as a thread is free
  f.fake->CloseGate();
  Call first;
  Start(*f.session, first, 1, 0.0f);
  ASSERT_TRUE(WaitFor([&] { return f.fake->Entered() == 1; }));
  Call queued[4];
  for (int i = 0; i < 4; ++i) Start(*f.session, queued[i], 1 + i % 2, 10.0f * static_cast<float>(i + 1));
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 4; }));
  f.fake->OpenGate();
  first.thread.join();
  for (Call& call : queued) call.thread.join();
  ExpectAnswered(first);
  for (const Call& call : queued) ExpectAnswered(call);
  std::vector<Shape> shapes = f.fake->Shapes();
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_EQ(shapes[1], (Shape{6, 2}));  // 1 + 2 + 1 + 2 rows in one run
}

TEST(BatchingSessionTest, PadsToTheNextAllowedSizeByRepeatingTheLastRow) {
  BatchingOptions options = Options(8, 60'000'000);
  options.allowed_batch_sizes = {4, 8};
  // One request of 3 rows never fills the batch of 8; a short timeout sends it, padded to 4.
  options.batch_timeout_micros = 1000;
  Fixture f(options);
  Call call;
  Start(*f.session, call, 3, 5.0f);
  call.thread.join();
  ExpectAnswered(call);
  ASSERT_EQ(f.fake->Shapes().size(), 1u);
  EXPECT_EQ(f.fake->Shapes()[0], (Shape{4, 2}));
  std::vector<float> seen = f.fake->Inputs()[0];
  std::vector<float> expected = call.input;
  expected.insert(expected.end(), call.input.end() - 2, call.input.end());
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(f.session->stats().padding_rows.load(), 1u);
  ASSERT_EQ(f.observer->batches.size(), 1u);
  EXPECT_EQ(f.observer->batches[0].padded_rows, 4);
}

TEST(BatchingSessionTest, FullQueueRejectsAtOnceWithUnavailable) {
  Fixture f(Options(2, 0, /*max_enqueued=*/1));
  f.fake->CloseGate();
  Call running, waiting;
  Start(*f.session, running, 1, 0.0f);
  ASSERT_TRUE(WaitFor([&] { return f.fake->Entered() == 1; }));
  Start(*f.session, waiting, 2, 10.0f);  // fills the one queued batch
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 1; }));

  std::vector<Tensor> outputs;
  Status rejected = f.session->Run({Floats("x", {1, 2}, RowsOf(1, 2, 0))}, {}, &outputs);
  EXPECT_EQ(rejected.code(), StatusCode::kUnavailable) << rejected.ToString();
  EXPECT_NE(rejected.message().find("queue"), std::string::npos);
  EXPECT_EQ(f.session->stats().rejected_queue_full.load(), 1u);

  f.fake->OpenGate();
  running.thread.join();
  waiting.thread.join();
  ExpectAnswered(running);
  ExpectAnswered(waiting);
  ASSERT_EQ(f.observer->rejects.size(), 1u);
  EXPECT_EQ(f.observer->rejects[0], BatchRejectReason::kQueueFull);
}

TEST(BatchingSessionTest, DeadlineInQueueFailsAtOnceAndNeverRuns) {
  Fixture f(Options(10));
  f.fake->CloseGate();
  Call running, expiring;
  Start(*f.session, running, 1, 0.0f);
  ASSERT_TRUE(WaitFor([&] { return f.fake->Entered() == 1; }));
  RunContext context;
  context.deadline = std::chrono::steady_clock::now() + 50ms;
  Start(*f.session, expiring, 1, 10.0f, context);
  expiring.thread.join();  // returns while the batch thread is still held by the gate
  EXPECT_EQ(expiring.status.code(), StatusCode::kDeadlineExceeded) << expiring.status.ToString();
  EXPECT_EQ(f.session->stats().expired_in_queue.load(), 1u);
  EXPECT_EQ(f.session->stats().queued_requests.load(), 0);

  f.fake->OpenGate();
  running.thread.join();
  ExpectAnswered(running);
  // Only the first request ever reached the model.
  EXPECT_EQ(f.fake->Shapes().size(), 1u);
}

TEST(BatchingSessionTest, GoneClientInQueueIsCancelledAndNeverRuns) {
  Fixture f(Options(10));
  f.fake->CloseGate();
  Call running, leaving;
  Start(*f.session, running, 1, 0.0f);
  ASSERT_TRUE(WaitFor([&] { return f.fake->Entered() == 1; }));
  auto gone = std::make_shared<std::atomic<bool>>(false);
  RunContext context;
  context.client_gone = [gone] { return gone->load(); };
  Start(*f.session, leaving, 1, 10.0f, context);
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 1; }));
  gone->store(true);
  leaving.thread.join();
  EXPECT_EQ(leaving.status.code(), StatusCode::kCancelled) << leaving.status.ToString();
  EXPECT_EQ(f.session->stats().cancelled_in_queue.load(), 1u);
  f.fake->OpenGate();
  running.thread.join();
  EXPECT_EQ(f.fake->Shapes().size(), 1u);
}

TEST(BatchingSessionTest, ExpiredRequestIsDroppedWhenItsBatchIsTaken) {
  // The caller does not watch (no deadline it can wake for would help here: the deadline is already
  // past when the batch thread looks), so the batch thread must drop it.
  Fixture f(Options(10));
  std::vector<Tensor> outputs;
  RunContext context;
  context.deadline = std::chrono::steady_clock::now() - 1ms;
  Status status = f.session->Run({Floats("x", {1, 2}, RowsOf(1, 2, 0))}, {}, context, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  EXPECT_TRUE(f.fake->Shapes().empty());
  EXPECT_EQ(f.session->stats().expired_in_queue.load(), 1u);
}

TEST(BatchingSessionTest, DifferentInnerShapesRunInSeparateBatches) {
  Fixture f(Options(10), 1, {-1, -1});
  f.fake->CloseGate();
  Call running, narrow, wide;
  Start(*f.session, running, 1, 0.0f, {}, 2);
  ASSERT_TRUE(WaitFor([&] { return f.fake->Entered() == 1; }));
  Start(*f.session, narrow, 2, 10.0f, {}, 2);
  Start(*f.session, wide, 1, 20.0f, {}, 3);
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 2; }));
  f.fake->OpenGate();
  for (Call* call : {&running, &narrow, &wide}) call->thread.join();
  ExpectAnswered(running, 2);
  ExpectAnswered(narrow, 2);
  ExpectAnswered(wide, 3);
  EXPECT_EQ(f.fake->Shapes().size(), 3u);
}

TEST(BatchingSessionTest, PadVariableLengthInputsMergesDifferentWidthsWithZeros) {
  BatchingOptions options = Options(3, 60'000'000);  // runs when 3 rows are queued
  options.pad_variable_length_inputs = true;
  Fixture f(options, 1, {-1, -1});
  Call narrow, wide;
  Start(*f.session, narrow, 2, 10.0f, {}, 2);
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 1; }));
  Start(*f.session, wide, 1, 20.0f, {}, 3);
  narrow.thread.join();
  wide.thread.join();
  ASSERT_EQ(f.fake->Shapes().size(), 1u);
  EXPECT_EQ(f.fake->Shapes()[0], (Shape{3, 3}));
  // narrow's rows padded with a zero column, then wide's row.
  EXPECT_EQ(f.fake->Inputs()[0], (std::vector<float>{10, 11, 0, 12, 13, 0, 20, 21, 22}));
  ExpectAnswered(wide, 3);
  // As in TF Serving, outputs are split along the batch only: narrow gets the padded width back.
  ASSERT_TRUE(narrow.status.ok()) << narrow.status.ToString();
  ASSERT_EQ(narrow.outputs.size(), 1u);
  EXPECT_EQ(narrow.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(ReadFloats(narrow.outputs[0]), (std::vector<float>{21, 23, 1, 25, 27, 1}));
}

TEST(BatchingSessionTest, PaddingThatWouldBlowUpRunsRequestsOneByOne) {
  BatchingOptions options = Options(2, 60'000'000);
  options.pad_variable_length_inputs = true;
  Fixture f(options, 1, {-1, -1, -1});
  // [1, 1, 2000] and [1, 2000, 1] would pad to [2, 2000, 2000]: 8 M elements for 4 K real ones.
  std::vector<float> a = RowsOf(1, 2000, 0.0f), b = RowsOf(1, 2000, 5.0f);
  Status status_a, status_b;
  std::vector<Tensor> out_a, out_b;
  std::thread first([&] { status_a = f.session->Run({Floats("x", {1, 1, 2000}, a)}, {}, RunContext{}, &out_a); });
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 1; }));
  std::thread second([&] { status_b = f.session->Run({Floats("x", {1, 2000, 1}, b)}, {}, RunContext{}, &out_b); });
  first.join();
  second.join();
  ASSERT_TRUE(status_a.ok()) << status_a.ToString();
  ASSERT_TRUE(status_b.ok()) << status_b.ToString();
  EXPECT_EQ(ReadFloats(out_a.at(0)), Doubled(a));
  EXPECT_EQ(ReadFloats(out_b.at(0)), Doubled(b));
  std::vector<Shape> shapes = f.fake->Shapes();
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_EQ(shapes[0], (Shape{1, 1, 2000}));
  EXPECT_EQ(shapes[1], (Shape{1, 2000, 1}));
}

TEST(BatchingSessionTest, TooManyRowsIsInvalidArgument) {
  Fixture f(Options(4));
  std::vector<Tensor> outputs;
  Status status = f.session->Run({Floats("x", {5, 2}, RowsOf(5, 2, 0))}, {}, &outputs);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("maximum input batch size 4"), std::string::npos);
  EXPECT_TRUE(f.fake->Shapes().empty());
}

TEST(BatchingSessionTest, RequestLargerThanAnExecutionBatchRunsAlone) {
  BatchingOptions options = Options(8);
  options.enable_large_batch_splitting = true;
  options.max_execution_batch_size = 4;
  Fixture f(options);
  Call call;
  Start(*f.session, call, 6, 1.0f);
  call.thread.join();
  ExpectAnswered(call);
  EXPECT_EQ(f.session->stats().direct_runs.load(), 1u);
  ASSERT_EQ(f.fake->Shapes().size(), 1u);
  EXPECT_EQ(f.fake->Shapes()[0], (Shape{6, 2}));
}

TEST(BatchingSessionTest, DestroyingTheSessionFailsQueuedRequests) {
  Fixture f(Options(10));
  f.fake->CloseGate();
  Call running, queued;
  Start(*f.session, running, 1, 0.0f);
  ASSERT_TRUE(WaitFor([&] { return f.fake->Entered() == 1; }));
  Start(*f.session, queued, 1, 10.0f);
  ASSERT_TRUE(WaitFor([&] { return f.session->stats().queued_requests.load() == 1; }));
  // The destructor fails the queued request at once, then waits for the running batch.
  std::thread destroy([&] { f.session.reset(); });
  queued.thread.join();
  EXPECT_EQ(queued.status.code(), StatusCode::kUnavailable) << queued.status.ToString();
  f.fake->OpenGate();
  destroy.join();
  running.thread.join();
  ExpectAnswered(running);
  EXPECT_EQ(f.fake->Shapes().size(), 1u);
}

TEST(BatchingSessionTest, NonBatchableSignatureIsNotWrapped) {
  auto scheduler = BatchScheduler::Create({1, nullptr});
  auto fixed = std::make_unique<RecordingSession>(Shape{2, 2});
  ModelSession* raw = fixed.get();
  StatusOr<std::unique_ptr<ModelSession>> wrapped =
      WrapInBatchingSession(scheduler, {"m", 1, BatchingOptions{}, nullptr}, std::move(fixed));
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->get(), raw);

  auto variable = std::make_unique<RecordingSession>(Shape{-1, 2});
  raw = variable.get();
  wrapped = WrapInBatchingSession(scheduler, {"m", 1, BatchingOptions{}, nullptr}, std::move(variable));
  ASSERT_TRUE(wrapped.ok());
  EXPECT_NE(wrapped->get(), raw);
  EXPECT_NE(dynamic_cast<BatchingSession*>(wrapped->get()), nullptr);
}

TEST(BatchingSessionTest, InvalidOptionsAreRefused) {
  BatchingOptions options;
  options.max_batch_size = 0;
  StatusOr<std::unique_ptr<BatchingSession>> created = BatchingSession::Create(
      BatchScheduler::Create({1, nullptr}), {"m", 1, options, nullptr}, std::make_unique<RecordingSession>());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kInvalidArgument);
}

// ---- with ONNX Runtime ---------------------------------------------------------------------------------------

const std::string kTestData = SERVAL_ENGINE_TESTDATA_DIR;

std::unique_ptr<ModelSession> LoadModel(const std::string& file) {
  static std::unique_ptr<Engine> engine = [] {
    EngineOptions options;
    options.intra_op_threads = 1;
    StatusOr<std::unique_ptr<Engine>> created = Engine::Create(options);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return std::move(created).value();
  }();
  StatusOr<std::unique_ptr<ModelSession>> session = engine->Load(kTestData + "/" + file);
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  return session.ok() ? std::move(session).value() : nullptr;
}

TEST(BatchingOnnxTest, MergedRunOfARealModelMatchesSeparateRuns) {
  std::unique_ptr<ModelSession> add = LoadModel("add.onnx");  // a, b: FP32 [batch, 16] -> sum
  ASSERT_NE(add, nullptr);
  BatchingOptions options = Options(8, 60'000'000);  // runs when 8 rows are queued
  std::shared_ptr<BatchScheduler> scheduler = BatchScheduler::Create({2, nullptr});
  StatusOr<std::unique_ptr<ModelSession>> wrapped =
      WrapInBatchingSession(scheduler, {"add", 1, options, nullptr}, std::move(add));
  ASSERT_TRUE(wrapped.ok());
  auto* session = dynamic_cast<BatchingSession*>(wrapped->get());
  ASSERT_NE(session, nullptr);

  struct AddCall {
    std::vector<float> a, b;
    Status status;
    std::vector<Tensor> outputs;
  };
  AddCall calls[4];
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    calls[i].a = RowsOf(2, 16, 1000.0f * static_cast<float>(i));
    calls[i].b = RowsOf(2, 16, -3.0f * static_cast<float>(i));
    threads.emplace_back([&call = calls[i], session] {
      // Inputs in the other order than the model's: the batcher orders them.
      call.status = session->Run({Floats("b", {2, 16}, call.b), Floats("a", {2, 16}, call.a)}, {"sum"}, RunContext{},
                                 &call.outputs);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const AddCall& call : calls) {
    ASSERT_TRUE(call.status.ok()) << call.status.ToString();
    ASSERT_EQ(call.outputs.size(), 1u);
    EXPECT_EQ(call.outputs[0].name(), "sum");
    EXPECT_EQ(call.outputs[0].shape(), (Shape{2, 16}));
    std::vector<float> expected(call.a.size());
    for (size_t k = 0; k < expected.size(); ++k) expected[k] = call.a[k] + call.b[k];
    EXPECT_EQ(ReadFloats(call.outputs[0]), expected);
  }
  EXPECT_EQ(session->stats().batches.load(), 1u);
  EXPECT_EQ(session->stats().batched_requests.load(), 4u);
}

TEST(BatchingOnnxTest, ModelWithAScalarInputIsServedUnbatched) {
  std::unique_ptr<ModelSession> spin = LoadModel("spin.onnx");  // x [batch, 16], n [] (no batch dim)
  ASSERT_NE(spin, nullptr);
  ModelSession* raw = spin.get();
  StatusOr<std::unique_ptr<ModelSession>> wrapped = WrapInBatchingSession(
      BatchScheduler::Create({1, nullptr}), {"spin", 1, BatchingOptions{}, nullptr}, std::move(spin));
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->get(), raw);
}

}  // namespace
}  // namespace serval

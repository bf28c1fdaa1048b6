#include "api/grpc/health_service.h"

#include <algorithm>
#include <chrono>

namespace serval {

using grpc::health::v1::HealthCheckResponse;

// One Watch stream. The stream and the notifier both drive it; `mutex_` orders them so that at most one
// write is in flight and nothing is written after Finish. Owned by itself (self_) and by the Watchers
// list; OnDone drops both, and the last holder (possibly the notifier, mid-Poll) deletes it.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(std::string service, std::shared_ptr<Watchers> watchers)
      : service_(std::move(service)), watchers_(std::move(watchers)) {}

  const std::string& service() const { return service_; }

  // REQUIRES: called once, right after construction, by the holder of the only reference.
  void Start(std::shared_ptr<Watcher> self) { self_ = std::move(self); }

  // The current status: written when it differs from the last one written (the first always is), once
  // no write is in flight. `stop`: finish the stream instead.
  void Poll(HealthCheckResponse::ServingStatus now, bool stop) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finishing_) return;
    latest_ = now;
    if (stop) finishing_ = true;
    if (writing_) return;  // OnWriteDone continues
    Continue(std::move(lock));
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mutex_);
    writing_ = false;
    if (!ok) finishing_ = true;  // the client is gone
    Continue(std::move(lock));
  }

  void OnCancel() override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finishing_) return;
    finishing_ = true;
    if (!writing_) Continue(std::move(lock));
  }

  void OnDone() override {
    std::shared_ptr<Watcher> keep = std::move(self_);
    {
      std::lock_guard<std::mutex> lock(watchers_->mutex);
      auto& open = watchers_->open;
      open.erase(std::remove(open.begin(), open.end(), keep), open.end());
    }
  }  // `keep` may delete this here: nothing after it

 private:
  // Starts the next step, with no write in flight: Finish (once) or a write of a changed status.
  void Continue(std::unique_lock<std::mutex> lock) {
    if (finishing_) {
      if (finished_) return;
      finished_ = true;
      lock.unlock();
      Finish(grpc::Status::OK);
      return;
    }
    if (sent_ && latest_ == response_.status()) return;
    response_.set_status(latest_);
    sent_ = true;
    writing_ = true;
    lock.unlock();
    StartWrite(&response_);
  }

  const std::string service_;
  const std::shared_ptr<Watchers> watchers_;
  std::shared_ptr<Watcher> self_;
  std::mutex mutex_;  // guards everything below
  HealthCheckResponse::ServingStatus latest_ = HealthCheckResponse::UNKNOWN;
  HealthCheckResponse response_;  // the last status written (or being written)
  bool sent_ = false;
  bool writing_ = false;
  bool finishing_ = false;  // no write starts from here on
  bool finished_ = false;   // Finish was called
};

HealthService::HealthService(std::function<bool()> ready, std::function<bool(const std::string&)> known_service)
    : ready_(std::move(ready)), known_service_(std::move(known_service)) {
  notifier_ = std::thread([this] { NotifyLoop(); });
}

HealthService::~HealthService() { Shutdown(); }

HealthCheckResponse::ServingStatus HealthService::StatusOf(const std::string& service) const {
  if (!service.empty() && !known_service_(service)) return HealthCheckResponse::SERVICE_UNKNOWN;
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(watchers_->mutex);
    stopping = watchers_->stopping;
  }
  return !stopping && ready_() ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const grpc::health::v1::HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  HealthCheckResponse::ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish({grpc::StatusCode::NOT_FOUND, "unknown service '" + request->service() + "'"});
    return reactor;
  }
  response->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext*, const grpc::health::v1::HealthCheckRequest* request) {
  auto watcher = std::make_shared<Watcher>(request->service(), watchers_);
  watcher->Start(watcher);
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(watchers_->mutex);
    stopping = watchers_->stopping;
    if (!stopping) watchers_->open.push_back(watcher);
  }
  watchers_->wakeup.notify_all();
  watcher->Poll(StatusOf(watcher->service()), stopping);  // the first status (or, after Shutdown, the end)
  return watcher.get();
}

void HealthService::NotifyLoop() {
  std::vector<std::shared_ptr<Watcher>> open;
  while (true) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(watchers_->mutex);
      // Polling keeps this simple (readiness has no change notification). Without open streams it sleeps.
      watchers_->wakeup.wait(lock, [this] { return watchers_->stopping || !watchers_->open.empty(); });
      watchers_->wakeup.wait_for(lock, std::chrono::milliseconds(100), [this] { return watchers_->stopping; });
      stopping = watchers_->stopping;
      open = watchers_->open;
    }
    for (const std::shared_ptr<Watcher>& watcher : open) {
      watcher->Poll(stopping ? HealthCheckResponse::NOT_SERVING : StatusOf(watcher->service()), stopping);
    }
    open.clear();  // a stream that ended meanwhile is deleted here, outside every lock
    if (stopping) return;
  }
}

void HealthService::Shutdown() {
  std::lock_guard<std::mutex> shutdown_lock(shutdown_mutex_);
  {
    std::lock_guard<std::mutex> lock(watchers_->mutex);
    watchers_->stopping = true;
  }
  watchers_->wakeup.notify_all();
  if (notifier_.joinable()) notifier_.join();  // its last round finished every open Watch
}

}  // namespace serval

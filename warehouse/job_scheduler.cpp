#include "warehouse/job_scheduler.h"

#include <algorithm>
#include <memory>

#include "warehouse/log.h"

namespace sluice::warehouse {

job_scheduler::hooks job_scheduler::on_warehouse(const std::string& dsn,
                                                 std::function<void(const jobs_outcome&)> ran) {
  auto conn = std::make_shared<connection>(dsn);
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  return {[conn, dsn, ran, stopping](const std::vector<std::string>& woken) {
            if (!conn->is_open()) *conn = connection(dsn);
            auto outcome = run_jobs(*conn, false, woken, stopping.get());
            if (ran) ran(outcome);
            return outcome;
          },
          [conn, stopping] {
            *stopping = true;
            conn->request_cancel();
          }};
}

job_scheduler::job_scheduler(hooks h, std::chrono::milliseconds tick)
    : hooks_(std::move(h)), tick_(tick), thread_([this] { loop(); }) {}

job_scheduler::~job_scheduler() {
  request_stop();
  thread_.join();
}

void job_scheduler::wake(const std::vector<std::string>& tables) {
  if (tables.empty()) return;
  {
    std::lock_guard lock(mutex_);
    woken_.insert(tables.begin(), tables.end());
  }
  changed_.notify_one();
}

void job_scheduler::request_stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  changed_.notify_one();
  if (hooks_.cancel) hooks_.cancel();  // a report over a large load must not hold the stop up
}

void job_scheduler::loop() {
  auto next_tick = std::chrono::steady_clock::now();
  auto rest_until = next_tick;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // A round rests twice its own length (at most a tick) before the next:
    // during a large load, commits wake the jobs all the time, and the
    // reports must not take the cores the load needs.
    changed_.wait_until(lock, rest_until, [this] { return stopping_; });
    changed_.wait_until(lock, next_tick, [this] { return stopping_ || !woken_.empty(); });
    if (stopping_) break;
    std::vector<std::string> woken(woken_.begin(), woken_.end());
    woken_.clear();
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    bool failed = false;
    try {
      hooks_.round(woken);
    } catch (const std::exception& e) {
      logger()->error("report jobs: {}; trying again in a second", e.what());
      failed = true;
    }
    auto now = std::chrono::steady_clock::now();
    lock.lock();
    if (failed) {
      if (!stopping_) woken_.insert(woken.begin(), woken.end());
      rest_until = now + std::chrono::seconds(1);
      next_tick = rest_until;
    } else {
      rest_until = now + std::min<std::chrono::steady_clock::duration>(2 * (now - started), tick_);
      next_tick = now + tick_;
    }
  }
}

}  // namespace sluice::warehouse

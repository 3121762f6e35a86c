#include "loader/app/daemon_report.h"

#include <chrono>
#include <optional>

#include "loader/app/run.h"

namespace sluice::app {

namespace {
constexpr auto report_every = std::chrono::seconds(2);
constexpr auto prune_every = std::chrono::minutes(10);
}  // namespace

daemon_report::daemon_report(std::string dsn, metrics* figures, std::function<warehouse::daemon_state()> gather)
    : dsn_(std::move(dsn)), figures_(figures), gather_(std::move(gather)), thread_([this] { loop(); }) {}

daemon_report::~daemon_report() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void daemon_report::loop() {
  std::optional<warehouse::connection> conn;
  auto next_prune = std::chrono::steady_clock::now();
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      if (!conn || !conn->is_open()) conn.emplace(dsn_);
      warehouse::report_daemon(*conn, gather_());
      if (figures_ != nullptr) figures_->set_status(warehouse::status_json(*conn));
      if (std::chrono::steady_clock::now() >= next_prune) {
        warehouse::prune_load_log(*conn);
        warehouse::prune_changes(*conn);
        next_prune = std::chrono::steady_clock::now() + prune_every;
      }
      failing = false;
    } catch (const std::exception& e) {
      if (figures_ != nullptr) figures_->status_failed(e.what());
      if (!failing) log()->warn("the daemon's report to sluice.daemons failed: {}; trying again every 2 s", e.what());
      failing = true;
    }
    lock.lock();
    changed_.wait_for(lock, report_every, [this] { return stopping_; });
  }
  lock.unlock();
  try {
    if (conn && conn->is_open()) warehouse::forget_daemon(*conn);
  } catch (const std::exception&) {
    // Gone with the warehouse: the row shows as not seen (not alive).
  }
}

}  // namespace sluice::app

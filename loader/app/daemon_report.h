// The daemon's report to the warehouse: every 2 s, on a thread and
// connection of its own, its row of sluice.daemons (queue, files being
// loaded with their progress, feeds skipped); its row is deleted when it
// stops. With --http it then fetches sluice.status() for the endpoint (metrics.h),
// so that no request waits on the warehouse. At start and every 10 minutes
// it also prunes sluice.load_log and the change logs (sluice.prune_changes).
// What `sluice status` and sluice.status() show of a daemon comes from here.
//
// Threading: `gather` runs on the report's thread. Errors: a report that
// fails (the warehouse restarting) is logged once and tried again 2 s later.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "loader/app/metrics.h"
#include "warehouse/status.h"

namespace sluice::app {

class daemon_report {
 public:
  // `figures`: where the status document goes for --http; nullptr when
  // nothing serves it (then it is not fetched).
  daemon_report(std::string dsn, metrics* figures, std::function<warehouse::daemon_state()> gather);
  ~daemon_report();
  daemon_report(const daemon_report&) = delete;
  daemon_report& operator=(const daemon_report&) = delete;

 private:
  void loop();

  std::string dsn_;
  metrics* figures_;
  std::function<warehouse::daemon_state()> gather_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::app

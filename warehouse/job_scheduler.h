// The daemon's report jobs (sluice.jobs, run by run_jobs in scheduler.h) on a
// thread of their own: right after a commit that wrote one of a job's inputs
// (wake()), and every `tick` for the jobs whose timer is due. Wakes that come
// while jobs run are kept and coalesce into one more round after it, so a
// burst of a thousand small commits costs a round or two, not a thousand;
// and loading never waits for a report. After a round the scheduler rests
// twice as long as the round took (at most a tick), so that reports over a
// large load take at most a third of a core.
//
// Threading: wake() and request_stop() from any thread. Errors: a round that throws
// (the warehouse unreachable) is logged and tried again a second later; the
// wakes it carried are kept for that try.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "warehouse/scheduler.h"

namespace sluice::warehouse {

class job_scheduler {
 public:
  // One round: the jobs due by their timer and those whose inputs meet
  // `woken`; and how to cancel a round in flight (at stop).
  struct hooks {
    std::function<jobs_outcome(const std::vector<std::string>& woken)> round;
    std::function<void()> cancel;
  };
  // Rounds on a connection of their own to `dsn`, opened again after it is
  // lost; `ran` (if set) is told each round's outcome.
  [[nodiscard]] static hooks on_warehouse(const std::string& dsn,
                                          std::function<void(const jobs_outcome&)> ran = nullptr);

  job_scheduler(hooks h, std::chrono::milliseconds tick);
  ~job_scheduler();
  job_scheduler(const job_scheduler&) = delete;
  job_scheduler& operator=(const job_scheduler&) = delete;

  // Tables ("schema.name") a commit wrote.
  void wake(const std::vector<std::string>& tables);
  // Cancels a round in flight; the thread ends soon after (the destructor
  // waits for it).
  void request_stop();

 private:
  void loop();

  hooks hooks_;
  const std::chrono::milliseconds tick_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> woken_;  // guarded by mutex_
  bool stopping_ = false;        // guarded by mutex_
  std::thread thread_;
};

}  // namespace sluice::warehouse

// Scheduled SQL jobs (rows of sluice.jobs, declared in sql/).
//
// run_jobs() runs each enabled job that is due by its timer or has one of the
// `woken` tables among its inputs (or every enabled job when `all_due` is
// set), each in its own REPEATABLE READ transaction under a
// transaction-level advisory lock keyed by the job's name, so that several
// daemons sharing one warehouse never run the same job at once (a job locked
// elsewhere is skipped). The job's command gets $1 = its stored watermark and
// $2 = pg_snapshot_xmin(pg_current_snapshot()) of the run's snapshot, both xid8;
// $2 is stored as the new watermark in the same transaction.
//
// Errors: a serialization failure or deadlock (error_kind::transient) is
// tried again, transient_attempts times in all, then left for the next
// round (deferred, logged, not an error of the job); a job that fails
// otherwise is rolled back, its error kept in sluice.jobs.last_error and logged; the other
// jobs still run. Connection errors are thrown (db_error)
// for the caller to retry later.
#pragma once

#include <atomic>
#include <span>
#include <string>
#include <vector>

#include "warehouse/connection.h"

namespace sluice::warehouse {

// One job's turn in a round: ran, failed, deferred (met concurrent loads on
// every try) or locked (running elsewhere); seconds it took.
struct job_run {
  std::string name;
  std::string outcome;
  double seconds = 0;
};

struct jobs_outcome {
  int ran = 0;
  int failed = 0;
  int skipped_locked = 0;
  int deferred = 0;  // met concurrent loads on every try
  std::vector<job_run> runs;
};

inline constexpr int transient_attempts = 5;

// `stopping` (if given) set: no further job or retry starts, and a job the
// stop cancelled is not recorded as failed.
jobs_outcome run_jobs(connection& conn, bool all_due, std::span<const std::string> woken = {},
                      const std::atomic<bool>* stopping = nullptr);

}  // namespace sluice::warehouse

#include "warehouse/scheduler.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "warehouse/log.h"

namespace sluice::warehouse {

namespace {

enum class job_result { ran, locked_elsewhere };

// One run of one job in its own transaction (scheduler.h says how).
job_result run_job(connection& conn, const std::string& name, const std::string& command) {
  auto started = std::chrono::steady_clock::now();
  transaction tx(conn, "begin isolation level repeatable read");
  auto locked = conn.exec_params(
      "select pg_try_advisory_xact_lock(hashtext('sluice.job:' || $1)),"
      " (select watermark::text from sluice.jobs where name = $1),"
      " pg_snapshot_xmin(pg_current_snapshot())::text",
      {name});
  if (locked.text(0, 0) != "t") return job_result::locked_elsewhere;
  std::string from(locked.text(0, 1));
  std::string to(locked.text(0, 2));
  conn.exec_params(command, {from, to});
  conn.exec_params(
      "update sluice.jobs set watermark = $2::xid8, last_run_at = now(), last_error = null,"
      " last_started_at = transaction_timestamp(), last_seconds = extract(epoch from clock_timestamp() - now())"
      " where name = $1",
      {name, to});
  tx.commit();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  logger()->debug("job {}: ran in {} ms (watermark {} -> {})", name, ms, from, to);
  return job_result::ran;
}

}  // namespace

jobs_outcome run_jobs(connection& conn, bool all_due, std::span<const std::string> woken,
                      const std::atomic<bool>* stopping) {
  auto stopped = [stopping] { return stopping != nullptr && stopping->load(); };
  auto log = logger();
  auto due = all_due ? conn.exec("select name, command from sluice.jobs where enabled order by name")
                     : conn.exec_params("select name, command from sluice.jobs where enabled and"
                                        " (last_run_at is null or last_run_at + every <= now()"
                                        " or inputs && $1::text[]) order by name",
                                        {text_array(woken)});
  jobs_outcome outcome;
  for (int row = 0; row < due.rows(); ++row) {
    std::string name(due.text(row, 0));
    std::string command(due.text(row, 1));
    // A job runs beside the batches that feed it: a serialization failure or
    // a deadlock with one of them is tried again, a few times, before it
    // counts as the job's failure.
    auto started = std::chrono::steady_clock::now();
    auto record = [&](const char* what) {
      outcome.runs.push_back(
          {name, what, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()});
    };
    for (int attempt = 1; !stopped(); ++attempt) {
      try {
        if (run_job(conn, name, command) == job_result::ran) {
          ++outcome.ran;
          record("ok");
        } else {
          ++outcome.skipped_locked;
          record("locked");
          log->debug("job {}: running elsewhere, skipped", name);
        }
        break;
      } catch (const db_error& e) {
        if (e.kind() == error_kind::connection) throw;
        if (stopped()) {
          log->info("job {}: cancelled by the stop; it runs again at the next start", name);
          break;
        }
        if (e.kind() == error_kind::transient) {
          if (attempt < transient_attempts) {
            log->debug("job {}: {}; trying again", name, e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
            continue;
          }
          // Not the job's fault: the loads beside it kept changing what it
          // reads. It stays due and runs at the next wake or tick.
          ++outcome.deferred;
          record("deferred");
          log->warn("job {}: {} tries met concurrent loads ({}); it runs again at the next commit or tick", name,
                    transient_attempts, e.server_message());
          break;
        }
        ++outcome.failed;
        record("failed");
        log->error("job {} failed: {} (the job stays due; see sluice.jobs.last_error)", name, e.what());
        try {
          conn.exec_params("update sluice.jobs set last_error = $2 where name = $1", {name, e.what()});
        } catch (const db_error&) {
          // Keeping the message is best effort; the log has it.
        }
        break;
      }
    }
  }
  return outcome;
}

}  // namespace sluice::warehouse

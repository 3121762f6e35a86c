// `sluice run --once`: load what the inbox holds, bring each source up to
// now, run the jobs, say what was not done.
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "loader/app/run.h"
#include "loader/sources/postgres/pgoutput.h"
#include "loader/sources/postgres/replicator.h"
#include "warehouse/scheduler.h"
#include "watcher/inbox_watcher.h"

namespace sluice::app {

namespace {

// SIGINT and SIGTERM are taken by a thread of their own (sigwait), so that a
// stop can be asked of the loader safely in every state, --once included.
class stop_signals {
 public:
  explicit stop_signals(std::function<void(int)> on_signal) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);  // how the destructor ends the thread
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([set, handler = std::move(on_signal)] {
      while (true) {
        int signal = 0;
        if (sigwait(&set, &signal) != 0 || signal == SIGUSR2) return;
        handler(signal);
      }
    });
  }
  ~stop_signals() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

 private:
  std::thread thread_;
};

// The enabled rows of sluice.sources.
std::vector<loader::source_config> enabled_sources(warehouse::connection& conn) {
  auto rows = conn.exec("select name, conninfo, publication from sluice.sources where enabled order by name");
  std::vector<loader::source_config> out;
  for (int row = 0; row < rows.rows(); ++row) {
    out.push_back({std::string(rows.text(row, 0)), std::string(rows.text(row, 1)), std::string(rows.text(row, 2))});
  }
  return out;
}

}  // namespace

int run_once(const run_settings& settings, const std::string& dsn, loader::loader_options options,
             warehouse::connection& conn) {
  options.give_up_after = std::chrono::seconds(settings.give_up_after_s);
  loader::loader loader(dsn, options);
  std::atomic<bool> stopped{false};
  stop_signals signals([&](int signal) {
    log()->info("{} received: finishing the batch in hand", signal == SIGINT ? "SIGINT" : "SIGTERM");
    stopped = true;
    loader.request_stop();
  });
  auto started = std::chrono::steady_clock::now();
  std::vector<std::string> not_regular;
  auto files = watcher::scan_inbox(settings.inbox, &not_regular);
  for (const auto& path : files) {
    if (stopped) break;
    loader.load(path, true);
  }
  // Never read; the loader refuses them, visibly, when a feed takes them.
  for (const auto& path : not_regular) loader.load(path, true);
  auto unfinished = loader.finish(std::chrono::seconds(settings.give_up_after_s));
  // Each source up to its WAL position now.
  std::vector<std::string> source_errors;
  if (!conn.is_open()) conn = warehouse::connection(dsn);  // the server restarted meanwhile
  // Sources another sluice replicates (a daemon) are waited for once, in all:
  // 30 s, or --give-up-after-s when shorter.
  auto claim_by = std::chrono::steady_clock::now() +
                  std::min<std::chrono::seconds>(loader::replicator::claim_patience,
                                                 std::chrono::seconds(settings.give_up_after_s));
  for (const auto& source : enabled_sources(conn)) {
    if (stopped) break;
    try {
      loader::replicator replicator(dsn, source, claim_by, replicator_options_of(settings));
      auto done = replicator.run(true, stopped);
      log()->info("source {}: {} changes, {} transactions; applied up to {}", source.name, done.changes,
                  done.transactions, loader::pgoutput::format_lsn(done.applied_lsn));
    } catch (const std::exception& e) {
      log()->error("{}", e.what());
      source_errors.push_back(source.name);
    }
  }
  auto loaded_at = std::chrono::steady_clock::now();
  warehouse::jobs_outcome ran;
  std::string jobs_error;
  if (!stopped) {
    try {
      if (!conn.is_open()) conn = warehouse::connection(dsn);
      ran = warehouse::run_jobs(conn, true);
    } catch (const std::exception& e) {
      jobs_error = e.what();
    }
  }
  auto done_at = std::chrono::steady_clock::now();
  auto totals = loader.totals();
  auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
  for (const auto& file : unfinished) {
    log()->warn("{}: not loaded completely: {}", file.path, file.reason);
  }
  log()->info("done: {} files looked at ({} read to their end, {} duplicates, {} refused, {} not loaded"
              " completely); {} rows loaded, {} rejected in {:.2f} s; {} jobs run ({} failed) in {:.2f} s",
              files.size(), totals.files, totals.duplicates, totals.refused, unfinished.size(), totals.loaded,
              totals.rejected, seconds(started, loaded_at), ran.ran, ran.failed, seconds(loaded_at, done_at));
  std::string problems;
  auto add = [&](const std::string& what) { problems += (problems.empty() ? "" : "; ") + what; };
  if (stopped) add("stopped by a signal before everything was loaded");
  auto skipped = loader.skipped_feeds();
  for (const auto& s : skipped) log()->warn("not loaded: {}", s.reason);
  if (!skipped.empty()) {
    add(std::to_string(skipped.size()) + (skipped.size() == 1 ? " feed" : " feeds") +
        " not loaded: the declaration cannot work (see above; `sluice migrate` refuses such a declaration)");
  }
  if (!unfinished.empty()) add(std::to_string(unfinished.size()) + " files not loaded completely (see above)");
  if (totals.refused > 0) add(std::to_string(totals.refused) + " files refused (state refused in sluice.files)");
  if (ran.failed > 0) add(std::to_string(ran.failed) + " jobs failed (see sluice.jobs.last_error)");
  if (!source_errors.empty()) add(std::to_string(source_errors.size()) + " sources could not be replicated (see above)");
  if (!jobs_error.empty()) add("the jobs could not run: " + jobs_error);
  if (!problems.empty()) {
    log()->error("incomplete: {}", problems);
    return 1;
  }
  return 0;
}

}  // namespace sluice::app

// sluice: the command line. Wiring only: watcher -> loader -> warehouse.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <malloc.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>

#include "loader/contract/feed.h"
#include "loader/sources/files/loader.h"
#include "loader/sources/postgres/replicator.h"
#include "warehouse/connection.h"
#include "warehouse/error.h"
#include "warehouse/log.h"
#include "warehouse/migrate.h"
#include "warehouse/scheduler.h"
#include "watcher/inbox_watcher.h"
#include "loader/sources/postgres/pgoutput.h"

namespace {


using namespace sluice;

struct run_settings {
  std::optional<std::string> dsn;
  std::string inbox;
  bool once = false;
  int settle_ms = 500;
  int jobs_every_ms = 1000;
  std::size_t batch_mb = 4;
  std::size_t stream_mb = 256;
  std::size_t max_record_mb = 64;
  std::size_t copy_streams = 2;
  int give_up_after_s = 60;
};

std::shared_ptr<spdlog::logger> log() {
  static auto instance = warehouse::named_logger("sluice");
  return instance;
}

// A password given with --dsn is visible to every local user (ps,
// /proc/PID/cmdline) while the process runs: it is blanked from argv at once
// (the window before that stays), and the user is told where it belongs.
void hide_dsn_password(int argc, char** argv, const std::optional<std::string>& dsn) {
  if (!dsn || !sluice::warehouse::conninfo_holds_password(*dsn)) return;
  for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
    std::string_view arg = argv[arg_idx];
    std::size_t from = arg == *dsn ? 0 : arg == "--dsn=" + *dsn ? 6 : arg.size();
    std::fill(argv[arg_idx] + from, argv[arg_idx] + arg.size(), 'x');
  }
  log()->warn("--dsn holds a password: other users of this machine can read a command line (ps,"
              " /proc/PID/cmdline); put the password in ~/.pgpass (or the file PGPASSFILE names, or a"
              " service file) and leave it out of the DSN");
}

// Paths waiting for the loader, each once, remembering whether it has settled.
class work_queue {
 public:
  void push(const std::string& path, bool settled) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = pending_.try_emplace(path, settled);
    if (fresh) order_.push_back(path);
    else it->second = it->second || settled;
    ready_.notify_one();
  }
  // The next path, or nullopt after `wait` with nothing to do (or when stopped).
  std::optional<std::pair<std::string, bool>> pop(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [&] { return !order_.empty() || stopped_; });
    if (stopped_ || order_.empty()) return std::nullopt;
    std::string path = std::move(order_.front());
    order_.pop_front();
    bool settled = pending_[path];
    pending_.erase(path);
    return std::pair{std::move(path), settled};
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    ready_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> order_;
  std::map<std::string, bool> pending_;
  bool stopped_ = false;
};

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

// `conn`: the connection that checked the warehouse, kept for what comes after
// the load (sources, jobs) rather than opening new ones.
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
  // Sources another sluice replicates (a daemon) are waited for once, in all.
  auto claim_by = std::chrono::steady_clock::now() + loader::replicator::claim_patience;
  for (const auto& source : enabled_sources(conn)) {
    if (stopped) break;
    try {
      loader::replicator replicator(dsn, source, claim_by);
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
  for (const auto& why : skipped) log()->warn("not loaded: {}", why);
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

// Runs a replicator thread per enabled source and keeps that set in step with
// sluice.sources (polled every few seconds) until `stop`.
class source_supervisor {
 public:
  source_supervisor(std::string dsn, std::atomic<bool>& stop) : dsn_(std::move(dsn)), stop_(stop) {
    thread_ = std::thread([this] { supervise(); });
  }
  ~source_supervisor() {
    stop_ = true;
    thread_.join();
  }
  source_supervisor(const source_supervisor&) = delete;
  source_supervisor& operator=(const source_supervisor&) = delete;

 private:
  struct runner {
    loader::source_config config;
    std::atomic<bool> stop{false};
    std::atomic<bool> done{false};
    std::thread thread;
  };

  void supervise() {
    std::map<std::string, std::unique_ptr<runner>> running;
    std::optional<warehouse::connection> conn;
    while (!stop_) {
      try {
        if (!conn || !conn->is_open()) conn.emplace(dsn_);
        auto rows = conn->exec(
            "select name, conninfo, publication from sluice.sources where enabled and state <> 'stopped' order by name");
        std::map<std::string, loader::source_config> wanted;
        for (int row = 0; row < rows.rows(); ++row) {
          wanted[std::string(rows.text(row, 0))] = {std::string(rows.text(row, 0)), std::string(rows.text(row, 1)),
                                                    std::string(rows.text(row, 2))};
        }
        for (auto it = running.begin(); it != running.end();) {
          auto w = wanted.find(it->first);
          bool changed = w == wanted.end() || w->second.conninfo != it->second->config.conninfo ||
                         w->second.publication != it->second->config.publication;
          if (changed || it->second->done) {
            if (changed && !it->second->done) log()->info("source {}: removed, disabled or changed; stopping it", it->first);
            it->second->stop = true;
            it->second->thread.join();
            it = running.erase(it);
          } else {
            ++it;
          }
        }
        for (const auto& [name, config] : wanted) {
          if (running.count(name) > 0) continue;
          auto r = std::make_unique<runner>();
          r->config = config;
          auto* raw = r.get();
          raw->thread = std::thread([this, raw] {
            replicate(*raw);
            raw->done = true;
          });
          running.emplace(name, std::move(r));
        }
      } catch (const std::exception& e) {
        log()->error("reading sluice.sources: {}; trying again", e.what());
        conn.reset();
      }
      for (int i = 0; i < 30 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (auto& [name, r] : running) r->stop = true;
    for (auto& [name, r] : running) r->thread.join();
  }

  void replicate(runner& r) {
    auto delay = std::chrono::seconds(1);
    // The replicator watches r.stop, which the supervisor also raises when
    // everything stops.
    auto stopping = [&] { return stop_ || r.stop; };
    while (!stopping()) {
      auto started = std::chrono::steady_clock::now();
      try {
        loader::replicator(dsn_, r.config).run(false, r.stop);
      } catch (const loader::source_stopped& e) {
        // Retrying cannot help; sluice.sources says why (state, last_error).
        log()->error("{}; source {} stopped until its state is changed in sluice.sources", e.what(), r.config.name);
        break;
      } catch (const std::exception& e) {
        if (stopping()) break;  // a run asked to stop may end in an error: not one to report
        // A run that streamed for a while was not failing: start again from
        // the shortest wait.
        if (std::chrono::steady_clock::now() - started > std::chrono::seconds(60)) delay = std::chrono::seconds(1);
        log()->error("{}; retrying in {} s", e.what(), delay.count());
        for (auto waited = std::chrono::milliseconds(0); waited < delay && !stopping();
             waited += std::chrono::milliseconds(100)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        delay = std::min(delay * 2, std::chrono::seconds(60));
      }
    }
  }

  std::string dsn_;
  std::atomic<bool>& stop_;
  std::thread thread_;
};

int run_daemon(const run_settings& settings, const std::string& dsn, const loader::loader_options& options) {
  loader::loader loader(dsn, options);
  warehouse::connection jobs(dsn);
  work_queue queue;
  std::thread worker([&] {
    auto jobs_every = std::chrono::milliseconds(settings.jobs_every_ms);
    auto next_jobs = std::chrono::steady_clock::now();
    while (!queue.stopped()) {
      try {
        // Take what is waiting together: many small files share a lookup and a
        // transaction. tick() hands the batch over and retries what is due.
        for (int taken = 0; taken < 512; ++taken) {
          auto next = queue.pop(std::chrono::milliseconds(taken == 0 ? 200 : 0));
          if (!next) break;
          loader.load(next->first, next->second);
        }
        loader.tick();
        if (std::chrono::steady_clock::now() >= next_jobs && !queue.stopped()) {
          if (!jobs.is_open()) jobs = warehouse::connection(dsn);
          warehouse::run_jobs(jobs, false);
          next_jobs = std::chrono::steady_clock::now() + jobs_every;
        }
      } catch (const std::exception& e) {
        log()->error("{}; retrying in a second", e.what());
        next_jobs = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  });

  // Each enabled source replicates on a thread of its own; a fault is retried
  // with backoff from the stored applied LSN. sluice.sources is read again
  // every few seconds: a source added, enabled, set back to 'new' after it
  // stopped, or changed starts without a restart; one removed or disabled stops.
  std::atomic<bool> sources_stop{false};
  source_supervisor sources(dsn, sources_stop);

  boost::asio::io_context io;
  watcher::inbox_watcher watch(
      io, {settings.inbox, std::chrono::milliseconds(settings.settle_ms)},
      [&](const watcher::file_event& event) {
        queue.push(event.path, event.kind == watcher::change::settled);
      });
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log()->info("{} received: finishing the batch in hand", signal == SIGINT ? "SIGINT" : "SIGTERM");
    watch.stop();
    loader.request_stop();
    sources_stop = true;
    jobs.request_cancel();  // a report job over a large load must not hold the stop up
    queue.stop();
    io.stop();
  });
  try {
    watch.start();
  } catch (...) {
    queue.stop();
    worker.join();
    throw;
  }
  log()->info("watching {} (settle {} ms); Ctrl-C to stop", settings.inbox, settings.settle_ms);
  io.run();
  worker.join();
  log()->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Batches are a few MB each, built on one thread and freed on another, all
  // the time. glibc would map and unmap each such block, so every batch paid
  // its page faults again (expensive in a VM: a quarter of the loader's CPU
  // on a CSV load). Keep freed blocks for the next batch instead; the heap
  // stays at the size of the batches in flight.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CLI::App app{
      "sluice: loads files dropped into an inbox folder into PostgreSQL staging tables exactly\n"
      "once, and keeps the warehouse's report tables current.\n\n"
      "The DSN is a libpq connection string or URI (\"host=/tmp port=5432 dbname=wh\",\n"
      "\"postgresql://user@host/wh\"); without --dsn, SLUICE_DSN is used, else the usual PG*\n"
      "variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  std::string level = "info";
  app.add_option("--log-level", level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.fallthrough();

  std::optional<std::string> dsn;
  std::vector<std::string> pack_names;
  std::vector<std::string> pack_dirs;
  auto* migrate = app.add_subcommand(
      "migrate",
      "Install or upgrade packs of SQL migrations (idempotent): the sluice pack, built-in packs\n"
      "chosen with --packs, your own packs with --pack-dir");
  migrate->add_option("--dsn", dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");
  auto* packs_option =
      migrate
          ->add_option("--packs", pack_names,
                       "Built-in packs to install or upgrade, comma-separated, in this order; \"all\" for\n"
                       "every one, \"\" or sluice for none beyond sluice. Without --packs: every built-in\n"
                       "pack on a new warehouse, else the packs it has")
          ->delimiter(',')
          ->type_name("NAME,...")
          ->expected(1)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  migrate
      ->add_option("--pack-dir", pack_dirs,
                   "Your own pack: a folder of NNNN_name.sql files; the pack is named after the\n"
                   "folder. Repeatable. Read now only: give it again to upgrade the pack")
      ->type_name("DIR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  {
    std::string builtin;
    for (const auto& p : warehouse::builtin_packs()) {
      builtin += "\n  " + p.name + " (" + std::to_string(p.migrations.size()) +
                 (p.migrations.size() == 1 ? " migration" : " migrations") + ", sql/" + p.name +
                 "/)" + (p.name == warehouse::core_pack ? ": sluice's own tables, always installed first" : "");
    }
    migrate->footer(
        "Built-in packs:" + builtin +
        "\n\nOrder: the sluice pack; built-in packs already installed and not named; the packs\n"
        "named in --packs, in that order; --pack-dir packs not named there, in the order given.\n"
        "Each pack's migrations apply by version (versions count per pack), each file in its own\n"
        "transaction. An installed built-in pack is upgraded by every migrate; an installed pack\n"
        "of yours when its folder is given again (otherwise it is left as it is). A migration\n"
        "that was applied and then edited is refused: add a new one. Example:\n"
        "  sluice migrate --dsn DSN --packs hubdoc --pack-dir ./mypack");
  }

  run_settings settings;
  auto* run = app.add_subcommand("run", "Load the inbox: watch until SIGINT/SIGTERM, or --once");
  run->add_option("--dsn", settings.dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");
  run->add_option("--inbox", settings.inbox, "Folder to load, watched recursively")
      ->required()
      ->check(CLI::ExistingDirectory);
  run->add_flag("--once", settings.once, "Load every file present, run every job, exit");
  run->add_option("--settle-ms", settings.settle_ms,
                  "Quiet time after a write before a file counts as complete")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  run->add_option("--jobs-every-ms", settings.jobs_every_ms, "How often due jobs are checked")
      ->check(CLI::Range(10, 3'600'000))
      ->capture_default_str();
  run->add_option("--batch-mb", settings.batch_mb, "COPY megabytes per batch (files share batches)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run->add_option("--stream-mb", settings.stream_mb,
                  "COPY megabytes per transaction while a large file streams through one COPY (0: off)")
      ->check(CLI::Range(0, 65536))
      ->capture_default_str();
  run->add_option("--max-record-mb", settings.max_record_mb, "Longer records are rejected")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run->add_option("--give-up-after-s", settings.give_up_after_s,
                  "With --once: how long a database fault (down, disk full) is retried before the"
                  " run gives up with an error")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  run->add_option("--copy-streams", settings.copy_streams,
                  "Connections streaming COPY at once (batches still commit in order)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  hide_dsn_password(argc, argv, *migrate ? dsn : settings.dsn);

  try {
    if (*migrate) {
      warehouse::connection conn(warehouse::resolve_dsn(dsn));
      warehouse::migrate_options options;
      if (*packs_option) options.packs = pack_names;
      options.pack_dirs.assign(pack_dirs.begin(), pack_dirs.end());
      // Every feed declaration is compiled as `sluice run` compiles it, in
      // each migration's transaction: one run would skip, or two feeds that
      // overlap, and the migration is rolled back.
      options.declaration_problems = [](warehouse::connection& c) { return loader::compile_feeds(c).problems(); };
      auto outcome = warehouse::migrate(conn, options);
      std::string packs;
      for (const auto& name : outcome.packs) packs += (packs.empty() ? "" : ", ") + name;
      log()->info("migrated {}: packs {}; {} migrations applied, {} already there", conn.target(), packs,
                  outcome.applied, outcome.already_applied);
      return 0;
    }
    auto resolved = warehouse::resolve_dsn(settings.dsn);
    loader::loader_options options;
    options.inbox = std::filesystem::absolute(settings.inbox);
    options.batch_bytes = settings.batch_mb << 20;
    options.stream_bytes = settings.stream_mb << 20;
    options.max_record_bytes = settings.max_record_mb << 20;
    options.read_unterminated_tail = settings.once;
    options.copy_streams = settings.copy_streams;
    // The daemon starts again while the warehouse cannot be reached (it
    // crashed while the daemon started: the soak found it exiting 1 then);
    // --once says so and exits 1.
    for (auto backoff = std::chrono::seconds(1);; backoff = std::min(backoff * 2, std::chrono::seconds(30))) {
      try {
        warehouse::connection check(resolved);
        auto installed = warehouse::require_up_to_date(check);
        std::string packs;
        for (const auto& p : installed) packs += (packs.empty() ? "" : ", ") + p.name;
        log()->info("warehouse {} has packs {}", check.target(), packs);
        return settings.once ? run_once(settings, resolved, options, check)
                             : run_daemon(settings, resolved, options);
      } catch (const warehouse::db_error& e) {
        if (settings.once || !e.is_retryable()) throw;
        log()->warn("{}; starting again in {} s", e.what(), backoff.count());
        std::this_thread::sleep_for(backoff);
      }
    }
  } catch (const std::exception& e) {
    log()->error("{}", e.what());
    return 1;
  }
}

// `sluice run` without --once: the daemon's wiring. The watcher's events go
// to the files source through a queue, replication sources run under a
// supervisor, report jobs run on a scheduler of their own (woken by commits),
// and a signal stops all of it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "loader/app/daemon_report.h"
#include "loader/app/http_server.h"
#include "loader/app/metrics.h"
#include "loader/app/run.h"
#include "loader/sources/postgres/replicator.h"
#include "warehouse/job_scheduler.h"
#include "watcher/inbox_watcher.h"

namespace sluice::app {

namespace {

// Paths waiting for the loader, each once, remembering whether it has settled
// and since when it waits.
class work_queue {
 public:
  void push(const std::string& path, bool settled) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = pending_.try_emplace(path, waiting_path{settled, std::chrono::system_clock::now()});
    if (fresh) order_.push_back(path);
    else it->second.settled = it->second.settled || settled;
    ready_.notify_one();
  }
  // The next path, or nullopt after `wait` with nothing to do (or when stopped).
  std::optional<std::pair<std::string, bool>> pop(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [&] { return !order_.empty() || stopped_; });
    if (stopped_ || order_.empty()) return std::nullopt;
    std::string path = std::move(order_.front());
    order_.pop_front();
    bool settled = pending_[path].settled;
    pending_.erase(path);
    return std::pair{std::move(path), settled};
  }
  // How many paths wait, and since when the first of them does.
  std::pair<std::size_t, std::optional<std::chrono::system_clock::time_point>> waiting() {
    std::lock_guard lock(mutex_);
    if (order_.empty()) return {0, std::nullopt};
    return {order_.size(), pending_.at(order_.front()).since};
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
  struct waiting_path {
    bool settled = false;
    std::chrono::system_clock::time_point since;
  };
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> order_;
  std::map<std::string, waiting_path> pending_;
  bool stopped_ = false;
};

// Runs a replicator thread per enabled source and keeps that set in step with
// sluice.sources (polled every few seconds) until `stop`.
class source_supervisor {
 public:
  source_supervisor(std::string dsn, loader::replicator_options options, std::atomic<bool>& stop)
      : dsn_(std::move(dsn)), options_(options), stop_(stop) {
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
        loader::replicator(dsn_, r.config, {}, options_).run(false, r.stop);
      } catch (const loader::source_stopped& e) {
        // Retrying cannot help; sluice.sources says why (state, last_error).
        // (Caught by its type, not by is_retryable(): a source retries every
        // other fault, also one that cannot succeed as it is (a schema error,
        // a table of the wrong shape), because a person fixes that while it
        // waits and the next try then goes on from the stored position.)
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
  loader::replicator_options options_;
  std::atomic<bool>& stop_;
  std::thread thread_;
};

}  // namespace

int run_daemon(const run_settings& settings, const std::string& dsn, const loader::loader_options& options) {
  // What --http serves, from memory: fed by commits, job rounds and the report.
  // The endpoint listens before any thread starts: a port in use fails here.
  metrics figures;
  boost::asio::io_context io;
  std::optional<http_server> http;
  if (!settings.http.empty()) {
    http.emplace(io, settings.http, [&figures](const std::string& path) { return daemon_answer(figures, path); });
    auto at = http->endpoint();
    log()->info("serving /metrics, /healthz, /readyz, /status.json and a status page on http://{}:{}/",
                at.address().is_v6() ? "[" + at.address().to_string() + "]" : at.address().to_string(), at.port());
  }

  // Report jobs run on their own thread, right after a commit into one of
  // their inputs and on their timers; loading never waits for them.
  warehouse::job_scheduler jobs(
      warehouse::job_scheduler::on_warehouse(dsn, [&figures](const auto& ran) { figures.on_jobs(ran); }),
      std::chrono::milliseconds(settings.jobs_every_ms));
  auto wake_jobs = [&jobs, &figures](const loader::commit_note& note) {
    jobs.wake(note.tables);
    figures.on_commit(note);
  };
  auto file_options = options;
  file_options.on_commit = wake_jobs;
  loader::loader loader(dsn, file_options);
  work_queue queue;
  daemon_report report(dsn, http ? &figures : nullptr, [&] {
    warehouse::daemon_state state;
    auto [queued, oldest] = queue.waiting();
    state.queued = queued;
    state.oldest_queued_at = oldest;
    for (const auto& p : loader.progress()) {
      state.loading.push_back({p.file_id, p.feed, p.path, p.bytes_read, p.bytes, p.percent(), p.rows_per_second,
                               p.eta_seconds});
    }
    for (const auto& s : loader.skipped_feeds()) state.skipped_feeds.emplace_back(s.name, s.reason);
    return state;
  });
  std::thread worker([&] {
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
      } catch (const std::exception& e) {
        log()->error("{}; retrying in a second", e.what());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  });
  // Whatever throws from here on (the watcher's inotify, a signal set) ends
  // the worker first, so that the error is reported rather than aborting.
  struct join_worker {
    work_queue& queue;
    std::thread& worker;
    ~join_worker() {
      queue.stop();
      if (worker.joinable()) worker.join();
    }
  } worker_ends{queue, worker};

  // Each enabled source replicates on a thread of its own; a fault is retried
  // with backoff from the stored applied LSN. sluice.sources is read again
  // every few seconds: a source added, enabled, set back to 'new' after it
  // stopped, or changed starts without a restart; one removed or disabled stops.
  std::atomic<bool> sources_stop{false};
  auto source_options = replicator_options_of(settings);
  source_options.on_commit = wake_jobs;
  source_supervisor sources(dsn, source_options, sources_stop);

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
    jobs.request_stop();
    if (http) http->close();
    queue.stop();
    io.stop();
  });
  watch.start();
  log()->info("watching {} (settle {} ms); Ctrl-C to stop", settings.inbox, settings.settle_ms);
  io.run();
  worker.join();
  log()->info("stopped");
  return 0;
}

}  // namespace sluice::app

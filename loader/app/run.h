// The two ways `sluice run` runs, and what they share: the flags from the
// command line and the executable's logger. Used by main.cpp only.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "loader/sources/files/loader.h"
#include "loader/sources/postgres/replicator.h"
#include "warehouse/connection.h"
#include "warehouse/log.h"

namespace sluice::app {

// `sluice run`'s flags; the defaults are the ones --help shows.
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
  std::string http;  // ADDRESS:PORT of /metrics and the rest; "" for none
};

// What --batch-mb and --give-up-after-s mean for a replication source, as
// they mean it for files.
inline loader::replicator_options replicator_options_of(const run_settings& settings) {
  loader::replicator_options out;
  out.batch_bytes = settings.batch_mb << 20;
  out.give_up_after = std::chrono::seconds(settings.give_up_after_s);
  return out;
}

// The file loader's options that `sluice run`'s flags set (the inbox made
// absolute; a settled file's last line is a record only with --once).
inline loader::loader_options loader_options_of(const run_settings& settings) {
  loader::loader_options options;
  options.inbox = std::filesystem::absolute(settings.inbox);
  options.batch_bytes = settings.batch_mb << 20;
  options.stream_bytes = settings.stream_mb << 20;
  options.max_record_bytes = settings.max_record_mb << 20;
  options.read_unterminated_tail = settings.once;
  options.copy_streams = settings.copy_streams;
  return options;
}

// The executable's logger ("sluice").
inline std::shared_ptr<spdlog::logger> log() {
  static auto instance = warehouse::named_logger("sluice");
  return instance;
}

// --once: loads every file in the inbox, brings each enabled source up to its
// WAL position, runs every job, and returns the exit status: 0 when all of it
// was done, 1 (each reason logged) when anything was not or a signal stopped
// the run. `conn`: the connection that checked the warehouse, kept for what
// comes after the load (sources, jobs) rather than opening new ones.
int run_once(const run_settings& settings, const std::string& dsn, loader::loader_options options,
             warehouse::connection& conn);

// The daemon: watches the inbox, replicates the enabled sources and runs due
// jobs until SIGINT or SIGTERM, then returns 0. Faults while running are
// logged and retried; what starting the watcher throws is thrown.
int run_daemon(const run_settings& settings, const std::string& dsn, const loader::loader_options& options);

}  // namespace sluice::app

// sluice: the command line. Wiring only: watcher -> loader -> warehouse.
// The flags are in command_line.cpp, --once in once.cpp, the daemon in
// daemon.cpp; here, what runs a subcommand.
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "loader/app/command_line.h"
#include "loader/app/run.h"
#include "loader/app/password_command.h"
#include "loader/app/source_command.h"
#include "loader/app/status.h"
#include "loader/contract/feed.h"
#include "loader/sources/files/loader.h"
#include "warehouse/connection.h"
#include "warehouse/error.h"
#include "warehouse/migrate.h"

namespace sluice::app {

namespace {

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

// `sluice migrate`.
int migrate_command(const command_line& command) {
  warehouse::connection conn(warehouse::resolve_dsn(command.dsn));
  warehouse::migrate_options options;
  if (*command.packs_option) options.packs = command.pack_names;
  options.pack_dirs.assign(command.pack_dirs.begin(), command.pack_dirs.end());
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

// `sluice run`: --once or the daemon, once the warehouse is up to date.
int run_command(const run_settings& settings) {
  auto resolved = warehouse::resolve_dsn(settings.dsn);
  auto options = loader_options_of(settings);
  // The daemon starts again while the warehouse cannot be reached (it
  // crashed while the daemon started: the soak found it exiting 1 then);
  // --once says so and exits 1. Any retryable fault (warehouse/fault.h) starts
  // it again; the ones that reach here are the warehouse's db_errors.
  for (auto backoff = std::chrono::seconds(1);; backoff = std::min(backoff * 2, std::chrono::seconds(30))) {
    try {
      warehouse::connection check(resolved);
      auto installed = warehouse::require_up_to_date(check);
      std::string packs;
      for (const auto& p : installed) packs += (packs.empty() ? "" : ", ") + p.name;
      log()->info("warehouse {} has packs {}", check.target(), packs);
      return settings.once ? run_once(settings, resolved, options, check)
                           : run_daemon(settings, resolved, options);
    } catch (const sluice::fault& e) {
      if (settings.once || !e.is_retryable()) throw;
      log()->warn("{}; starting again in {} s", e.what(), backoff.count());
      std::this_thread::sleep_for(backoff);
    }
  }
}

}  // namespace

}  // namespace sluice::app

int main(int argc, char** argv) {
  // Batches are a few MB each, built on one thread and freed on another, all
  // the time. glibc would map and unmap each such block, so every batch paid
  // its page faults again (expensive in a VM: a quarter of the loader's CPU
  // on a CSV load). Keep freed blocks for the next batch instead; the heap
  // stays at the size of the batches in flight.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  sluice::app::command_line command;
  CLI11_PARSE(command.app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(command.level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  sluice::app::hide_dsn_password(argc, argv,
                                 *command.run      ? command.settings.dsn
                                 : *command.reload ? command.reload_settings.dsn
                                                   : command.dsn);

  try {
    if (*command.migrate) return sluice::app::migrate_command(command);
    if (*command.source_drop) {
      return sluice::app::drop_source(sluice::warehouse::resolve_dsn(command.dsn), command.source_name);
    }
    if (*command.reload) {
      command.reload_settings.once = true;  // the file is complete: its last line is a record
      return sluice::app::reload_file(command.reload_settings, command.reload_what);
    }
    if (*command.password) {
      return sluice::app::set_password(sluice::warehouse::resolve_dsn(command.dsn), command.password_role,
                                       command.password_out);
    }
    if (*command.status) {
      return sluice::app::run_status(sluice::warehouse::resolve_dsn(command.dsn), command.status_json);
    }
    return sluice::app::run_command(command.settings);
  } catch (const std::exception& e) {
    sluice::app::log()->error("{}", e.what());
    return 1;
  }
}

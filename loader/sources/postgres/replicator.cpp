#include "loader/sources/postgres/replicator.h"

#include <chrono>
#include <functional>
#include <thread>

#include "loader/log.h"
#include "loader/sources/postgres/change_stream.h"
#include "loader/sources/postgres/replication.h"
#include "loader/sources/postgres/source_run.h"
#include "warehouse/connection.h"
#include "warehouse/log.h"
#include "warehouse/source_ledger.h"

namespace sluice::loader {

namespace {

using warehouse::connection;


}  // namespace

replicator::replicator(std::string warehouse_dsn, source_config source,
                       std::chrono::steady_clock::time_point claim_by, replicator_options options)
    : dsn_(std::move(warehouse_dsn)), source_(std::move(source)), claim_by_(claim_by), options_(options) {}

replicate_outcome replicator::run(bool once, const std::atomic<bool>& stop) {
  // Recorded where a person looks, on a connection of its own (the one the
  // run used may be what broke); a warehouse that cannot be reached is left
  // to the caller's retries.
  auto record = [&](const std::function<void(connection&)>& write, const char* what, spdlog::level::level_enum level) {
    try {
      connection wh(dsn_);
      // Not over another sluice that took the source over meanwhile. The
      // claim this run held goes with its connection, closed just now, but
      // its server process may not have let go yet: asked again for a while.
      // (BUG, 2026-12-06, ASan suite: a stop was not recorded, state 'new'.)
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!warehouse::claim_source(wh, source_.name)) {
        if (std::chrono::steady_clock::now() >= give_up) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      write(wh);
    } catch (const std::exception& not_recorded) {
      postgres_log()->log(level, "source {}: could not record {}: {}", source_.name, what, not_recorded.what());
    }
  };
  try {
    return replicate(once, stop);
  } catch (const source_busy&) {
    throw;  // the sluice that replicates it keeps sluice.sources
  } catch (const source_stopped& e) {
    record([&](connection& wh) { warehouse::stop_source(wh, source_.name, e.what()); }, "that it stopped",
           spdlog::level::err);
    throw;
  } catch (const std::exception& e) {
    // The caller retries; meanwhile sluice.sources says why it does not move.
    // A run asked to stop may fail on the way out (batches abandoned):
    // nothing to tell.
    if (stop) throw;
    record([&](connection& wh) { warehouse::note_source_error(wh, source_.name, e.what()); }, "its error",
           spdlog::level::debug);
    throw;
  }
}

replicate_outcome replicator::replicate(bool once, const std::atomic<bool>& stop) {
  connection wh(dsn_);
  source_run run(dsn_, source_, wh, once, claim_by_, stop);
  replication_connection repl(source_.conninfo, source_.name);
  run.prepare(repl);
  change_stream stream(run, repl, once, options_);
  stream.run();
  return run.outcome;
}

}  // namespace sluice::loader

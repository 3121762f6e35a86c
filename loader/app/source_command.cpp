#include "loader/app/source_command.h"

#include <chrono>

#include "loader/app/run.h"
#include "loader/sources/postgres/replication.h"
#include "warehouse/source_ledger.h"

namespace sluice::app {

int drop_source(const std::string& dsn, const std::string& name) {
  warehouse::connection wh(dsn);
  auto gone = warehouse::forget_source(wh, name);
  if (!gone) {
    log()->error("no source named '{}' in sluice.sources", name);
    return 1;
  }
  log()->info("source {} removed from sluice.sources; its tables staging.{}_* and core.{}_* are kept", name, name,
              name);
  if (!gone->slot) {
    log()->info("source {} had no replication slot yet: nothing to drop on the source", name);
    return 0;
  }
  const auto& slot = *gone->slot;
  try {
    loader::replication_connection source(gone->conninfo, name);
    if (!source.slot_confirmed(slot)) {
      log()->info("source {}: its slot {} is already gone", name, slot);
      return 0;
    }
    // A daemon streaming the source lets go of the slot within seconds of
    // the row's removal (it reads sluice.sources every few seconds).
    source.drop_slot(slot, std::chrono::seconds(60));
    log()->info("source {}: dropped its replication slot {}: the source no longer keeps WAL for this warehouse", name,
                slot);
    return 0;
  } catch (const std::exception& e) {
    log()->error("source {}: could not drop its replication slot {} ({}); it keeps WAL on the source until"
                 " someone runs there: select pg_drop_replication_slot('{}');",
                 name, slot, e.what(), slot);
    return 1;
  }
}

}  // namespace sluice::app

// One run of a replication source (replicator::run), up to the stream: the
// claim on the source, its state and slot, the initial snapshot of a new
// source, and the copy of a table added to the publication since. What the
// stream (change_stream.h) shares with it: the tables, the copies, the
// outcome. Internal to loader/sources/postgres/.
//
// Threading: one thread. Errors: as replicator.h says (replication_error,
// db_error, source_stopped, source_busy).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loader/sources/postgres/pgoutput.h"
#include "loader/sources/postgres/replication.h"
#include "loader/sources/postgres/replicator.h"
#include "loader/sources/postgres/source_tables.h"
#include "warehouse/connection.h"

namespace sluice::loader {

// A slot another process holds (the walsender of a killed run, until it
// notices) is asked for again for this long.
constexpr auto held_slot_patience = std::chrono::seconds(30);

class source_run {
 public:
  // Claims the source on `wh` (waiting for another sluice that holds it, for
  // --once until `claim_by`), and reads its state: throws source_busy,
  // source_stopped.
  source_run(const std::string& dsn, const source_config& source, warehouse::connection& wh, bool once,
             std::chrono::steady_clock::time_point claim_by, const std::atomic<bool>& stop);

  // Connects to the source and makes sure of its slot: a new source gets one
  // and its initial snapshot, committed with its first position; a known
  // one's slot must be the one sluice streamed from (else source_stopped).
  // Then copies the tables added to the publication since.
  void prepare(replication_connection& repl);

  // Whether the source table schema.name is still to be copied (added to the
  // publication since the snapshot, and its copy not committed).
  [[nodiscard]] bool needs_copy(const std::string& schema, const std::string& name);
  // Copies such a table at a known LSN of the source (a temporary slot's).
  void copy_added(const std::string& schema, const std::string& name);
  // copy_added() for each of `published` not copied yet.
  void copy_uncopied(const std::vector<source_table>& published);
  // `base`, then the tables of the run (for refuse_shared_names()).
  [[nodiscard]] std::vector<source_table> with_tables(std::vector<source_table> base) const;

  const std::string& dsn;
  const source_config& source;
  warehouse::connection& wh;
  const std::atomic<bool>& stop;
  std::string state;  // of sluice.sources when the run began
  std::string slot;
  std::map<std::string, table_info> tables;  // by "schema.name"
  // The publication's tables when the run began: a table that appears in the
  // stream later must not land in the warehouse tables of one of these.
  std::vector<source_table> published_at_start;
  std::map<std::string, std::uint64_t> copies;  // warehouse::table_copies
  replicate_outcome outcome;

 private:
  void take_snapshot(replication_connection& repl);
  // Every table copied in the snapshot `created` exported (`src` is in it),
  // and the source's first position: one transaction.
  void copy_snapshot(warehouse::connection& src, const replication_connection::created_slot& created);
  void check_slot(replication_connection& repl);
};

}  // namespace sluice::loader

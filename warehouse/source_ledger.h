// The source ledger (sluice.sources): the statements that advance a
// replication source's applied LSN inside a batch's transaction. A sibling of
// file_ledger.h; the committer sees neither, only loader::checkpoint_set.
//
// Threading: functions take the connection to use. Errors: db_error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "warehouse/connection.h"
#include "warehouse/file_ledger.h"

namespace sluice::warehouse {

// Where a source stands in the warehouse: every change of the source
// transactions up to applied_lsn, and, when a transaction too large for one
// batch is under way, its changes up to partial_seq.
struct source_position {
  std::uint64_t applied_lsn = 0;      // commit LSN of the last whole source transaction
  std::uint64_t applied_end_lsn = 0;  // end of its commit record (0: not recorded)
  std::uint64_t partial_lsn = 0;      // commit LSN of the transaction applied in part; 0: none
  std::int32_t partial_seq = 0;       // the last of its changes applied (0 with partial_lsn 0)

  // Positions are equal when they hold the same changes (applied_end_lsn
  // follows from applied_lsn).
  [[nodiscard]] bool same_changes(const source_position& other) const noexcept {
    return applied_lsn == other.applied_lsn && partial_lsn == other.partial_lsn && partial_seq == other.partial_seq;
  }
};

// One batch's advance of one source: from the position it resumed after to
// the position after its last change.
struct source_advance {
  std::string name;
  source_position from;
  source_position to;
  // Commit time on the source of to.applied_lsn's transaction, microseconds
  // since 2000-01-01 UTC (pgoutput's); 0: not known (it is left as it was).
  std::int64_t commit_time = 0;
};

// Locks the sources' rows (by name) and advances each that stands at `from`;
// one that stands at `to` is already_applied. One round trip to read, one to
// write.
[[nodiscard]] std::vector<advance_outcome> advance_sources(connection& conn,
                                                           std::span<const source_advance> advances);

// The stored position of a source. Throws db_error when there is no such
// source.
[[nodiscard]] source_position stored_position(connection& conn, const std::string& name);

// The stored applied LSN of a source (0 when it has none yet). Throws db_error
// when there is no such source.
[[nodiscard]] std::uint64_t applied_lsn(connection& conn, const std::string& name);

// Claims the replication of a source for this connection's session (an
// advisory lock, let go when the session ends): true when it is this
// session's now, false when another session holds it (another sluice
// replicates the source). One sluice at a time streams a source, so two
// never copy its snapshot twice nor apply its changes from two slots' views.
[[nodiscard]] bool claim_source(connection& conn, const std::string& name);

// Stops a source until a person acts: state 'stopped' with `error` as
// last_error (in its own statement, outside any batch).
void stop_source(connection& conn, const std::string& name, const std::string& error);

// Records why a source's run failed while sluice retries it (a column dropped
// or retyped on the source, a server that cannot be reached) as its
// last_error, so that sluice.sources shows it; the next committed batch or
// heartbeat clears it. A stopped source keeps its own last_error.
void note_source_error(connection& conn, const std::string& name, const std::string& error);

// A heartbeat of an idle source: nothing of its WAL up to `wal_end` is ours to
// apply, so the source stands there (applied_end_lsn), and a last_error from
// a retried run is over. Outside any batch.
void note_heartbeat(connection& conn, const std::string& name, std::uint64_t wal_end);

// While a source streams, every few seconds: its WAL end as its walsender
// last said, and how old the oldest of its transactions is that the daemon
// holds and the warehouse has not committed (0: none). Outside any batch.
void note_source_progress(connection& conn, const std::string& name, std::uint64_t wal_end, double lag_seconds);

// Records the tables made for a source table ("schema.name"): its change log
// and mirror (sluice.source_tables, which sluice.prune_changes reads).
void register_source_table(connection& conn, const std::string& source, const std::string& source_table,
                           const std::string& change_log, const std::string& mirror);

// A source removed from the warehouse: where it was and the slot this
// warehouse made on it (nullopt: none yet).
struct forgotten_source {
  std::string conninfo;
  std::optional<std::string> slot;
};

// Deletes a source's row (and its table copies) and returns what it held;
// nullopt when there is no such source. Its staging and core tables stay. A
// daemon streaming it stops within seconds (it reads sluice.sources again).
[[nodiscard]] std::optional<forgotten_source> forget_source(connection& conn, const std::string& name);

// The replication slot this warehouse made for the source (sluice.sources.
// slot_name), or nullopt when it has made none yet. Throws db_error when there
// is no such source.
[[nodiscard]] std::optional<std::string> recorded_slot(connection& conn, const std::string& name);

// Names the slot to make for a source that has none recorded and records it
// (in its own statement, before the slot is made, so that a run that dies
// after making it still knows the slot is its own): sluice_<name>_<id>, where
// <id> is 8 hex digits of a hash of this warehouse's database oid and its
// cluster's system identifier, so that two warehouses replicating one source
// database under the same source name never share (or drop) a slot.
[[nodiscard]] std::string record_new_slot(connection& conn, const std::string& name);

// Tables of a source copied after its initial snapshot (sluice.source_copies),
// by "schema.name": the LSN each copy was taken at, or 0 for a copy begun and
// not committed (to be taken again).
[[nodiscard]] std::map<std::string, std::uint64_t> table_copies(connection& conn, const std::string& source);

// Records that a copy of `table` ("schema.name") of `source` begins, in its
// own statement, before its tables are made: should the run die before the
// copy commits, the next one sees that the (empty) mirror still needs it.
void note_copy_begun(connection& conn, const std::string& source, const std::string& table);

// Records the copy of `table` taken at `lsn`; inside the transaction that
// holds the copy's rows.
void record_copy(connection& conn, const std::string& source, const std::string& table, std::uint64_t lsn);

// Forgets a source's copies (its initial snapshot copies every table anew),
// inside the snapshot's transaction.
void forget_copies(connection& conn, const std::string& source);

// Whether a pack reads every change of `change_log` (a regclass text, e.g.
// staging."shop_orders"), its first state included: sluice.change_retention
// keeps it for ever (keep NULL). Its table's copies then write each row into
// it too (an 'r' row), not only into the mirror.
[[nodiscard]] bool keeps_every_change(connection& conn, const std::string& change_log);

// Writes the marker of a table's copy into its change log: one row, _op 's',
// at the copy's LSN (_seq 0, _commit_at the snapshot's time: `snapshot_at`
// microseconds since 2000-01-01 UTC), every other column NULL. The mirror holds the table as
// it stood there; the change log's changes after it follow. Inside the
// transaction that holds the copy.
void mark_copy(connection& conn, const std::string& change_log, std::uint64_t lsn, std::int64_t snapshot_at);

}  // namespace sluice::warehouse

// A replication source (a row of sluice.sources) into the warehouse, exactly
// once: the initial snapshot, then the change stream, through the committer.
//
// - First run (state new): creates the slot sluice_<name> with an exported
//   snapshot, copies every published table inside that snapshot (binary COPY
//   out of the source straight into binary COPY into staging, rows marked
//   _op 'r', and into the mirror at once), and commits the copy together with
//   applied_lsn = the slot's consistent point. Then streams from there: no
//   gap, no overlap. Should the warehouse refuse a row of it (a CHECK, a
//   trigger), the copy is done again in the same snapshot in chunks under
//   savepoints, and the refused rows become rejects at the consistent point.
// - A column dropped or retyped on the source makes the run throw a
//   replication_error naming the column and the ALTERs that fix the
//   warehouse's tables (recorded in sluice.sources.last_error); a Relation
//   message is checked only once a change of its table is to be applied.
// - Streaming: pgoutput protocol 1 with binary values, so a column value goes
//   from the source's send format into binary COPY without parsing. Batches
//   end at source commits (several source transactions per batch), or inside
//   a source transaction once they hold batch_bytes of changes, so memory
//   stays flat however large a transaction is. Each batch carries the
//   source's position (warehouse::source_position: the commit LSN of the
//   last whole transaction, and for a transaction applied in part its commit
//   LSN and the _seq of its last change applied). The slot's flush position
//   is confirmed only to whole transactions whose batch committed. On
//   restart the source sends again everything after the last confirmed
//   transaction: whole transactions at or below the applied LSN are skipped,
//   and so are the changes of the partial one up to its stored _seq. A
//   reader may therefore see part of a large source transaction in staging
//   and in the mirror (README).
// - Columns added on the source are added to both tables (and to the mirror's
//   trigger) when their Relation message arrives, also in a later run.
// - Tables: for public.T of source S, staging.S_T is the change log (_op r, i,
//   u, d, t; _lsn the commit LSN; _seq the order within the transaction;
//   _commit_at; _unchanged, the columns an update left out because their TOAST
//   value did not change; _old_<key>, the old key when an update changed it;
//   then the table's columns) and core.S_T the mirror (the table's columns and
//   primary key), kept by a statement trigger on the change log. Tables outside
//   public are S_<schema>_T. Both are created when the publication names a
//   table the warehouse lacks, piece by piece: a pack may create the change
//   log itself (so its own triggers are in place before the first change; the
//   orders pack does), and the mirror, its function and the trigger
//   apply_to_mirror (written by sluice.keep_mirror, sql/sluice) are added
//   when missing.
//   An existing table must have the expected columns in order (missing
//   trailing source columns are added); otherwise the source stops with a
//   replication_error naming the column.
//   A table without a primary key is mirrored append-only.
//
// Threading: run() on one thread; `stop` may be set from any thread.
// Errors: source or warehouse faults throw (replication_error, db_error): the
// caller retries later, from the stored position; nothing is lost.
// source_stopped: the source cannot go on without a person (its slot was
// dropped, or dropped and recreated, behind sluice's back: changes may be
// missing). run() has recorded state 'stopped' and last_error in
// sluice.sources before throwing it, and throws it again at once on every
// later call until a person changes the state; the caller must not retry.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "loader/pipeline/committer.h"
#include "warehouse/fault.h"

namespace sluice::loader {

// A source stopped until a person acts; what() says what to do. Not
// retryable.
class source_stopped : public sluice::fault {
 public:
  using sluice::fault::fault;
  [[nodiscard]] bool is_retryable() const noexcept override { return false; }
};

// Another sluice replicates the source (a daemon, while --once asks for it):
// nothing was done, and nothing is recorded in sluice.sources. Retryable: the
// other one may let go (the daemon asks again after a backoff; --once reports
// it).
class source_busy : public sluice::fault {
 public:
  using sluice::fault::fault;
  [[nodiscard]] bool is_retryable() const noexcept override { return true; }
};

struct source_config {
  std::string name;
  std::string conninfo;
  std::string publication;
};

// What `sluice run` sets for files and sources alike (--batch-mb,
// --give-up-after-s).
struct replicator_options {
  // A batch ends at a source commit once it holds this much, or inside a
  // large transaction (memory stays flat).
  std::size_t batch_bytes = 4 << 20;
  // With `once`: how long a batch the warehouse refuses to commit (down,
  // disk full) is retried before the run gives up. The daemon retries for
  // ever (the source waits; nothing is lost).
  std::chrono::milliseconds give_up_after{60'000};
  // Told of every committed batch, on a committer thread (committer.h).
  std::function<void(const commit_note&)> on_commit = nullptr;
};

struct replicate_outcome {
  std::uint64_t transactions = 0;  // source transactions committed in the warehouse
  std::uint64_t changes = 0;       // change rows written (snapshot rows included)
  std::uint64_t applied_lsn = 0;   // where the source stands now
};

class replicator {
 public:
  // How long --once waits for a source another sluice replicates.
  static constexpr std::chrono::seconds claim_patience{30};

  // With --once, a source another sluice replicates is waited for until
  // `claim_by` (default: claim_patience after the run starts), then
  // source_busy.
  replicator(std::string warehouse_dsn, source_config source, std::chrono::steady_clock::time_point claim_by = {},
             replicator_options options = {});

  // Snapshot if needed, then streams until the source's WAL position at the
  // time of the call is applied (`once`), or until `stop`.
  replicate_outcome run(bool once, const std::atomic<bool>& stop);

 private:
  replicate_outcome replicate(bool once, const std::atomic<bool>& stop);

  std::string dsn_;
  source_config source_;
  std::chrono::steady_clock::time_point claim_by_;
  replicator_options options_;
};

}  // namespace sluice::loader

// The committer: writes batches, each in one transaction — rows (binary COPY
// per staging table), rejects, and every checkpoint the batch carries — on a
// few connections at once, keeping each source's batches in order.
//
// Order: a batch streams its COPYs first and only then advances its
// checkpoints. If an earlier batch of one of its sources has not committed
// yet, the checkpoint is elsewhere: the batch rolls back (releasing every lock
// it took, so that the earlier batch can never wait behind it), waits for its
// turn and streams again. A checkpoint already where the batch ends means an
// earlier attempt committed and only its acknowledgement was lost: the batch
// is done.
//
// Streaming: a batch that says another of its source follows at once
// (batch::continues: a file cut by the batch size) keeps its COPY open; the
// batches that follow go into the same COPY and transaction as they arrive, up
// to `stream_bytes`, so the server pays for one COPY statement instead of one
// per batch (each extra COPY of a large load cost the server about 0.1 s on
// the benchmark machine, psql's own \copy alike) and the producer parses the
// next batch while this one is sent. A streamed batch's rows are freed once
// sent, so such a run is never sent again: if it does not commit, its batches
// fail (as below) and their producer reads the source again from its
// checkpoint, without streaming. Nothing is sent before the run's turn.
//
// Failures:
// - connection and transient faults (server restart, disk full, deadlock):
//   reconnect and retry with backoff (200 ms doubling to 10 s) until the batch
//   commits, a stop is requested, or `give_up_after` passed;
// - the server refuses rows (error_kind::data: a CHECK constraint, a value too
//   long for varchar(n), a trigger's error): the batch is retried with each
//   table's rows split in halves under savepoints until every refused row is
//   alone; those become rejects carrying the server's message, the rest commits;
// - a schema error (error_kind::schema: a table or column that does not exist,
//   a privilege, SQL the server cannot parse) fails the batch at once as
//   failed_permanently: retrying the same statement cannot help;
// - anything else fails the batch. A failed batch fails its sources: their
//   later batches fail too (without being sent), and the loader looks at those
//   sources again from what the database says.
//
// Durability: sessions keep synchronous_commit at the server's setting (on by
// default), so a batch whose commit was acknowledged survives a crash of the
// server; see README "Durability" for the measurement behind that choice.
//
// Threading: submit(), wait_idle() and forget() are called from one thread
// (the producer); `on_done` runs on a committer thread. request_stop() may be
// called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/pipeline/batch.h"

namespace sluice::loader {

// What a committed batch changed, told to whoever watches commits (report
// jobs waiting for input, metrics).
struct commit_note {
  std::vector<std::string> tables;  // tables that got rows, "schema.name"
  std::vector<std::pair<std::string, feed_tally>> feeds;
  // Seconds from the first try of the batch's transaction to its commit; set
  // on the batch that ended it (a streamed run's last).
  std::optional<double> transaction_seconds;
};

struct committer_options {
  std::size_t connections = 2;
  std::size_t queue_capacity = 4;  // batches waiting for a connection
  // 0: retry infrastructure faults until stopped (the daemon); else give up
  // on a batch after this long (--once must end).
  std::chrono::milliseconds give_up_after{0};
  // COPY bytes one streamed transaction may send (see Streaming); 0: off.
  std::size_t stream_bytes = std::size_t{256} << 20;
  // Called on a committer thread after each batch that committed (not one
  // found already applied), before on_done; must not block for long.
  std::function<void(const commit_note&)> on_commit = nullptr;
};

enum class batch_outcome {
  committed,        // rows, rejects and checkpoints are in the database
  already_applied,  // an earlier attempt had committed it
  failed,           // not committed: `error` says why
  failed_permanently,  // not committed, and retrying cannot help: the server refused the statement
                       // itself (error_kind::schema: a missing table or column, a privilege); `error` says why
  abandoned,        // not committed: a stop was requested, an earlier batch of a source failed,
                    // or its streamed transaction did not commit (its source is to be read again)
};

class committer {
 public:
  using done_handler = std::function<void(const batch&, batch_outcome, const std::string& error)>;

  // Opens the connections. Throws warehouse::db_error when it cannot connect.
  committer(std::string dsn, committer_options options, done_handler on_done);
  ~committer();
  committer(const committer&) = delete;
  committer& operator=(const committer&) = delete;

  // Hands a batch over; blocks while queue_capacity batches wait.
  void submit(batch b);
  // Waits at most `patience` for room in the queue (submit() would not
  // block); true when there is. For a producer that must stay responsive
  // (a replication stream answering its server) while the committer is busy.
  [[nodiscard]] bool wait_for_room(std::chrono::milliseconds patience);
  // Returns once every submitted batch is done.
  void wait_idle();
  // wait_idle() for at most `patience`; true when every batch is done.
  [[nodiscard]] bool wait_idle_for(std::chrono::milliseconds patience);
  // The producer will use no more batches of this source key (its order state goes).
  void forget(const std::string& source_key);
  // True when a batch of the source failed since it was last forgotten.
  [[nodiscard]] bool failed(const std::string& source_key);

  void request_stop() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::loader

// The change stream of a replication source, from its stored position: each
// pgoutput message decoded, its changes put in binary COPY rows of the change
// logs, batches handed to a committer of their own and the slot confirmed up
// to the whole transactions they committed (replicator.h says how positions,
// partial transactions and new columns are kept). Internal to
// loader/sources/postgres/.
//
// Threading: run() on one thread; the committer's threads report back under
// confirmed_mutex_. Errors: replication_error (a batch not committed, an
// undecodable message, a change before its Relation), db_error; source_stopped
// from the tables' checks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "loader/pipeline/batch.h"
#include "loader/pipeline/committer.h"
#include "loader/sources/postgres/pgoutput.h"
#include "loader/sources/postgres/replication.h"
#include "loader/sources/postgres/source_run.h"
#include "warehouse/source_ledger.h"

namespace sluice::loader {

class change_stream {
 public:
  // From the position `run` stored; with `once`, until the source's WAL
  // position now. Starts the replication on `repl`.
  change_stream(source_run& run, replication_connection& repl, bool once, const replicator_options& options);

  // Streams until `once`'s position is applied, or until the run's stop;
  // then waits for every batch. Fills run.outcome.
  void run();

 private:
  // One message, or none within a moment. False when --once is done.
  bool step();
  void on_idle();
  void on_keepalive(const pgoutput::keepalive& alive, std::chrono::steady_clock::time_point now);
  void on_message(const pgoutput::xlog_data& data);
  void on_relation(const pgoutput::relation_message& r);
  void on_change(const pgoutput::message& m);
  // The status, the claim and the publication, as often as they are due; the
  // status at once when more is confirmed than the source was told.
  void keep_up(std::chrono::steady_clock::time_point now);
  // Tells the source how far the warehouse holds its changes (and asks for
  // its position with `reply`).
  void send_status(bool reply, std::chrono::steady_clock::time_point now);
  [[nodiscard]] bool confirmed_news();
  // Seconds since the commit of the oldest source transaction received and
  // not committed in the warehouse; 0 when there is none.
  [[nodiscard]] double lag_seconds();

  void on_batch_done(const batch& b, batch_outcome result, const std::string& error);
  void stop_if_failed();
  // Waits for `done_within` while the source keeps hearing from us.
  template <typename Wait>
  void keep_source_waiting(const Wait& done_within);
  void wait_idle();
  [[nodiscard]] warehouse::source_position position_now() const;
  void hand_over();
  void take_shape(table_info& t);
  table_rows& rows_for(table_info& t);
  table_info& table_of(std::uint32_t oid);
  // One change-log row: a change's only row, or the first or second of its
  // two (a keyless table's update: its old row, then its new row, under one
  // _seq and never in two batches: a restart skips whole changes).
  enum class change_row { only, first, second };
  void put_change(table_info& t, char op, const pgoutput::tuple& row, const pgoutput::tuple* old_key,
                  change_row part = change_row::only);

  source_run& run_;
  replication_connection& repl_;
  const bool once_;
  const replicator_options options_;
  const std::string key_;  // the committer's source key
  const warehouse::source_position resumed_;
  std::optional<pgoutput::lsn> until_;

  std::mutex confirmed_mutex_;
  pgoutput::lsn confirmed_ = 0;
  pgoutput::lsn sent_confirmed_ = 0;  // the last confirmed_ the source was sent
  // Batches handed over and not done, by seq: the commit time of the first
  // source transaction each holds (the lag is the oldest's age).
  std::map<std::uint64_t, pgoutput::pg_timestamp> unconfirmed_;
  std::uint64_t committed_transactions_ = 0;
  std::string failure_;  // why a batch was not committed: every later one is abandoned
  std::atomic<std::size_t> in_flight_{0};  // batches submitted and not yet done
  std::optional<committer> commits_;

  std::map<std::uint32_t, table_info*> relations_;
  // Source types the warehouse keeps as another (warehouse_type()), by the
  // source's (oid, typmod): read from the source's catalog once.
  std::map<std::pair<std::uint32_t, int>, column_info> source_types_;
  batch current_;
  std::map<std::string, std::size_t> current_tables_;
  std::size_t current_bytes_ = 0;
  // `whole_`: where the source stands after the last whole transaction seen
  // (at start: the stored position, with its partial transaction if any).
  warehouse::source_position whole_;
  warehouse::source_position batch_from_;
  std::uint64_t seq_ = 0;
  bool in_transaction_ = false;
  bool skipping_ = false;
  pgoutput::begin_message begin_;
  std::int32_t change_seq_ = 0;
  std::int32_t skip_through_ = 0;  // changes of this transaction an earlier run committed
  std::uint64_t transactions_in_batch_ = 0;
  std::chrono::steady_clock::time_point last_status_;
  std::chrono::steady_clock::time_point last_heartbeat_;
  std::chrono::steady_clock::time_point last_publication_check_;
  std::chrono::steady_clock::time_point last_progress_;
  pgoutput::pg_timestamp whole_commit_time_ = 0;  // commit time of whole_'s transaction
  pgoutput::pg_timestamp batch_first_commit_ = 0;  // of the first transaction in current_ (0: none)
  pgoutput::lsn server_end_ = 0;
};

}  // namespace sluice::loader

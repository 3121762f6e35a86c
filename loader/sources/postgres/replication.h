// sluice::watcher — one logical replication connection to a source PostgreSQL.
//
// The connection is opened with replication=database, so it speaks both the
// replication commands (CREATE_REPLICATION_SLOT, START_REPLICATION) and SQL.
// libpq-fe.h stays in the .cpp.
//
// Use: create_slot() once (it exports a snapshot that stays valid until the
// next command on this connection: copy the tables inside it first, on other
// connections, with SET TRANSACTION SNAPSHOT), then start() and next() /
// send_status() in a loop. The server sends keepalives; when one asks for a
// reply, answer at once with send_status().
//
// Threading: one thread at a time. Errors: replication_error (a sluice::fault
// whose message names the source and says what to do); a lost connection is
// one too, and the caller opens a new connection and starts again from its
// stored LSN.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "loader/sources/postgres/pgoutput.h"
#include "warehouse/fault.h"

struct pg_conn;

namespace sluice::loader {

// Retryable: a run that meets one starts again from the stored position (the
// daemon, after a backoff), which is what a lost connection, a batch not
// committed or a message cut short need; a warehouse table of the wrong shape
// is retried the same way until a person makes it match (the message says
// so). What retrying cannot help is a source_stopped (replicator.h).
class replication_error : public sluice::fault {
 public:
  using sluice::fault::fault;
  [[nodiscard]] bool is_retryable() const noexcept override { return true; }
};

class replication_connection {
 public:
  // `conninfo` is the source's libpq connection string or URI; `label` names
  // the source in messages.
  replication_connection(const std::string& conninfo, std::string label);
  ~replication_connection();
  replication_connection(const replication_connection&) = delete;
  replication_connection& operator=(const replication_connection&) = delete;

  struct created_slot {
    pgoutput::lsn consistent_point = 0;  // changes after it are streamed; the snapshot holds the rest
    std::string snapshot;                // for SET TRANSACTION SNAPSHOT on other connections
  };
  // CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput (SNAPSHOT
  // 'export'). A temporary slot is dropped when this connection closes: its
  // snapshot serves to copy a table at a known LSN.
  created_slot create_slot(const std::string& slot, bool temporary = false);
  // The slot's confirmed flush LSN, or nullopt when there is no such slot.
  std::optional<pgoutput::lsn> slot_confirmed(const std::string& slot);
  // DROP_REPLICATION_SLOT slot; a slot another process holds (the walsender
  // of a killed run holds it until it notices) is asked for again as start()
  // does.
  void drop_slot(const std::string& slot, std::chrono::milliseconds wait_for_slot,
                 const std::function<bool()>& stop = {});
  // The source's current end of WAL (IDENTIFY_SYSTEM).
  pgoutput::lsn current_wal_end();
  // START_REPLICATION SLOT slot LOGICAL from (proto_version '1', publication_names ...).
  // A slot another process holds (the walsender of a run killed a moment
  // ago holds it until it notices; or another sluice streams this source) is
  // asked for again until `wait_for_slot` has passed or `stop` says so, then
  // a replication_error.
  void start(const std::string& slot, pgoutput::lsn from, const std::string& publication,
             std::chrono::milliseconds wait_for_slot, const std::function<bool()>& stop = {});
  // The next CopyData message (XLogData or keepalive), waiting at most `wait`;
  // nullopt when nothing came.
  std::optional<std::string> next(std::chrono::milliseconds wait);
  // Standby status update: every change up to `flushed` is durable downstream.
  void send_status(pgoutput::lsn written, pgoutput::lsn flushed, bool reply_requested = false);

 private:
  [[noreturn]] void fail(const std::string& what) const;
  // Runs `command` until its result has status `succeeded` (a PGRES_*),
  // again while the server says the slot is in use; else fail(what).
  void run_waiting_for_slot(const std::string& command, int succeeded, const std::string& slot,
                            const std::string& what, std::chrono::milliseconds wait_for_slot,
                            const std::function<bool()>& stop);
  struct finish_conn {
    void operator()(pg_conn* c) const noexcept;
  };
  std::unique_ptr<pg_conn, finish_conn> conn_;
  std::string label_;
  // When next() last returned a message: while they keep coming, it lets the
  // next ones gather before reading (next()).
  std::chrono::steady_clock::time_point last_message_{};
};

// Microseconds since 2000-01-01 UTC, now (for status updates).
[[nodiscard]] pgoutput::pg_timestamp pg_now();

}  // namespace sluice::loader

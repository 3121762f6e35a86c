// sluice::warehouse — the database seen from C++.
//
// connection owns one libpq PGconn; result owns one PGresult. Neither exposes
// libpq-fe.h: other modules see only these types.
//
// Threading: a connection is used by one thread at a time (libpq's rule).
// Errors: every failing call throws db_error, whose kind() says what a caller
// can do about it (see error.h). Destructors never throw.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "warehouse/error.h"

struct pg_conn;
struct pg_result;
struct pg_cancel;

namespace sluice::warehouse {

class copy_in;
class copy_out;

// Rows of a completed command, in text format. Values are valid while the
// result lives.
class result {
 public:
  result() = default;
  explicit result(pg_result* owned) noexcept;
  result(result&&) noexcept = default;
  result& operator=(result&&) noexcept = default;

  [[nodiscard]] int rows() const noexcept;
  [[nodiscard]] int columns() const noexcept;
  [[nodiscard]] bool is_null(int row, int column) const noexcept;
  // Text of a value ("" for NULL).
  [[nodiscard]] std::string_view text(int row, int column) const noexcept;
  // A value as an integer; throws db_error(kind::internal) when it is not one.
  [[nodiscard]] std::int64_t int64(int row, int column) const;
  [[nodiscard]] std::optional<std::string> optional_text(int row, int column) const;

 private:
  struct clear_result {
    void operator()(pg_result* r) const noexcept;
  };
  std::unique_ptr<pg_result, clear_result> handle_;
};

using param = std::optional<std::string_view>;  // nullopt is SQL NULL

class connection {
 public:
  // `dsn` is a libpq connection string or URI; empty means "from the PG*
  // environment variables". Throws db_error(kind::connection) naming the target.
  explicit connection(const std::string& dsn);
  ~connection();
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Runs one or more statements (simple protocol); returns the last result.
  result exec(std::string_view sql);
  // Runs one statement with text parameters $1..$n (extended protocol).
  result exec_params(std::string_view sql, std::span<const param> params);
  result exec_params(std::string_view sql, std::initializer_list<param> params) {
    return exec_params(sql, std::span<const param>(params.begin(), params.size()));
  }

  // COPY goes through copy_in and copy_out (copy_stream.h), not through calls
  // here: the raw steps below are theirs alone.

  // Quotes an identifier (schema.table is quoted part by part).
  [[nodiscard]] std::string quote_qualified(std::string_view qualified_name) const;

  // Sets `role`'s password: its SCRAM-SHA-256 verifier is computed here
  // (PQencryptPasswordConn), so the password itself is never sent to the
  // server (nor can it reach the server's log).
  void set_password(std::string_view role, std::string_view password);

  // Asks the server to cancel what this connection runs now. May be called
  // from any thread (it uses a cancel key made when the connection opened),
  // also while another thread assigns the connection a new one (a reconnect:
  // the key is swapped under a lock); the running call then fails with a
  // db_error.
  void request_cancel() const noexcept;

  // True while the server link is up.
  [[nodiscard]] bool is_open() const noexcept;
  // True inside a transaction block (also one a failed statement aborted).
  [[nodiscard]] bool in_transaction() const noexcept;
  // True when the server has sent something not yet read. During COPY FROM
  // STDIN it sends nothing unless the COPY already failed (or a NOTICE): a
  // sender can stop sending early.
  [[nodiscard]] bool has_pending_input() const noexcept;
  // "host=... port=... dbname=... user=..." without secrets, for messages.
  [[nodiscard]] const std::string& target() const noexcept { return target_; }

 private:
  friend class copy_in;
  friend class copy_out;
  // COPY ... FROM STDIN: begin, write any number of chunks, then end (which reads
  // and checks the final result) or abort (which makes the COPY fail on purpose).
  void copy_begin(std::string_view copy_statement);
  void copy_write(std::span<const char> bytes);
  void copy_end();
  void copy_abort(std::string_view reason) noexcept;
  // COPY ... TO STDOUT: begin, then read chunks until copy_read returns false
  // (which also reads and checks the final result).
  void copy_out_begin(std::string_view copy_statement);
  bool copy_read(std::string& chunk);

  [[noreturn]] void raise(std::string_view what, pg_result* failed = nullptr) const;
  result check(pg_result* r, std::string_view what);

  struct finish_conn {
    void operator()(pg_conn* c) const noexcept;
  };
  std::unique_ptr<pg_conn, finish_conn> handle_;
  struct free_cancel {
    void operator()(pg_cancel* c) const noexcept;
  };
  std::unique_ptr<pg_cancel, free_cancel> cancel_;  // guarded by *cancel_mutex_
  // Each object keeps its own (a move does not move it): a signal handler's
  // request_cancel() raced a reconnect's move-assignment (ThreadSanitizer).
  std::unique_ptr<std::mutex> cancel_mutex_ = std::make_unique<std::mutex>();
  std::string target_;
};

// Rolls back on destruction unless commit() ran. Use: transaction tx(conn); ...; tx.commit();
class transaction {
 public:
  explicit transaction(connection& conn, std::string_view begin_statement = "begin");
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  void commit();
  void rollback();

 private:
  connection& conn_;
  bool open_ = true;
};

// This process, as sluice.daemons and connection names know it.
struct process_label {
  int pid = 0;
  std::string host;
};
[[nodiscard]] const process_label& this_process();

// What sluice's connections call themselves (fallback_application_name, so
// PGAPPNAME or the conninfo's application_name still win): "sluice PID@HOST",
// which sluice.status() and pg_stat_activity show.
[[nodiscard]] const std::string& application_name();

// A text[] parameter's literal: {"a","b"} (quotes and backslashes escaped),
// for a statement to take a list as one parameter ($1::text[]).
[[nodiscard]] std::string text_array(std::span<const std::string> values);

// The DSN to use: the flag if given, else $SLUICE_DSN, else "" (libpq then
// reads PGHOST, PGPORT, PGDATABASE, PGUSER, ...).
[[nodiscard]] std::string resolve_dsn(const std::optional<std::string>& flag);

// Whether a conninfo (keyword=value or URI, as libpq parses it: a URI's query
// percent-decoded) holds a password or an SSL key passphrase. false when
// libpq cannot parse it (connecting then says why).
[[nodiscard]] bool conninfo_holds_password(const std::string& conninfo);

}  // namespace sluice::warehouse

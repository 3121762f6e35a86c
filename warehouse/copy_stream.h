// COPY, one RAII object per statement: the only way sluice runs a COPY. The
// connection's raw copy calls are private to these two classes, so that no
// COPY is left half open by a path someone forgot (it was managed by hand in
// four places before).
//
// copy_in — COPY ... FROM STDIN:
//   - the constructor sends the statement. Throws db_error ("COPY failed to
//     start: ...", the kind from its SQLSTATE); nothing is open then.
//   - write() sends bytes (in pieces of at most 1 MB). Throws db_error ("COPY
//     data could not be sent") when libpq cannot; the COPY stays open for the
//     destructor to abort. A server that refused the COPY already seldom says
//     so here: it says so at finish() (connection::has_pending_input() lets a
//     long sender stop early).
//   - finish() ends the COPY, reads the server's result and throws db_error
//     ("COPY failed: ...") when the server refused it, e.g. kind data for a
//     refused row, with the server's words in server_message(). After finish()
//     returns or throws, the COPY is over either way.
//   - destroyed without finish() (an exception on the way): aborts the COPY
//     with `abort_reason` (the server fails it with "COPY from stdin failed:
//     <reason>" and the transaction is aborted; the caller rolls it back).
//     Never throws.
//
// copy_out — COPY ... TO STDOUT:
//   - the constructor sends the statement; throws db_error ("COPY TO failed
//     to start: ...").
//   - read(chunk) puts the next piece of data in `chunk` and returns true, or
//     reads and checks the server's final result and returns false at the end.
//     Throws db_error ("COPY TO failed: ...").
//   - destroyed before read() returned false, it does nothing: libpq cannot end
//     a COPY TO early, and the connection then serves only to be closed (which
//     is what every caller does with a source connection that failed).
//
// Lifetime: the connection must outlive the stream, and must not be used for
// anything else (nor moved) while the stream lives.
// Threading: like its connection, one thread at a time; a stream may be
// handed from one thread to another between calls (copy_feeder writes from a
// thread of its own).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "warehouse/connection.h"

namespace sluice::warehouse {

class copy_in {
 public:
  copy_in(connection& conn, std::string_view copy_statement,
          std::string abort_reason = "sluice: the COPY was not finished");
  ~copy_in();
  copy_in(const copy_in&) = delete;
  copy_in& operator=(const copy_in&) = delete;

  void write(std::span<const char> bytes);
  void finish();

 private:
  connection& conn_;
  std::string abort_reason_;
  bool open_ = true;
};

class copy_out {
 public:
  copy_out(connection& conn, std::string_view copy_statement);
  copy_out(const copy_out&) = delete;
  copy_out& operator=(const copy_out&) = delete;

  [[nodiscard]] bool read(std::string& chunk);

 private:
  connection& conn_;
};

}  // namespace sluice::warehouse

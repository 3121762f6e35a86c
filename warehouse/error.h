// Infrastructure errors, mapped from SQLSTATE in one place (error.cpp).
// Bad input records are never db_errors: they are rejects (see loader/).
// db_error is a sluice::fault (fault.h): retryable for kinds connection and
// transient.
#pragma once

#include <string>

#include "warehouse/fault.h"

namespace sluice::warehouse {

enum class error_kind {
  connection,  // cannot reach the server or the link broke: retry with backoff
  transient,   // serialization failure, deadlock, server shutting down, out of disk: retry
  data,        // the server refused a row: class 22/23, a trigger's RAISE (P0001), a
               // value too large for an index (54000). Not retryable as it is; the
               // committer splits the batch until the rows at fault are rejects
  schema,      // missing table/column, syntax, privileges (class 42, 3F...): fix the SQL or migrate
  internal,    // anything else
};

[[nodiscard]] const char* to_string(error_kind kind) noexcept;

class db_error : public sluice::fault {
 public:
  db_error(error_kind kind, std::string sqlstate, const std::string& message,
           std::string server_message = {})
      : sluice::fault(message),
        kind_(kind),
        sqlstate_(std::move(sqlstate)),
        server_message_(std::move(server_message)) {}

  [[nodiscard]] error_kind kind() const noexcept { return kind_; }
  [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
  // The server's own words (primary message and detail), "" when the error
  // did not come from the server. What a reject for a refused row quotes.
  [[nodiscard]] const std::string& server_message() const noexcept { return server_message_; }
  [[nodiscard]] bool is_retryable() const noexcept override {
    return kind_ == error_kind::connection || kind_ == error_kind::transient;
  }

 private:
  error_kind kind_;
  std::string sqlstate_;
  std::string server_message_;
};

// The kind for a SQLSTATE ("" when unknown).
[[nodiscard]] error_kind classify_sqlstate(const std::string& sqlstate) noexcept;

}  // namespace sluice::warehouse

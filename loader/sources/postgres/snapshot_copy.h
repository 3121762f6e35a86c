// The initial copy of a source's tables, in binary COPY: read once from the
// source's snapshot and written into the mirror as it comes (copy_through),
// or, for a change log a pack reads from its first state, to the change log
// and the mirror at once (tee_copy); when the warehouse refuses a row of it,
// the careful way, in chunks under savepoints that set refused rows aside
// (careful_copy).
//
// Threading: a copy_feeder writes from a thread of its own; the functions
// run on the caller's. Errors: db_error from either server;
// replication_error when the source's COPY is not binary COPY data or ends
// before its trailer; copy_feeder's finish() throws what writing met.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "loader/sources/postgres/pgoutput.h"
#include "loader/sources/postgres/source_tables.h"
#include "warehouse/connection.h"
#include "warehouse/copy_stream.h"

namespace sluice::loader {

// One COPY ... FROM STDIN fed from a thread of its own, so that the source's
// COPY is read while the warehouse writes (and two fed from one reader, a
// change log's and its mirror's, both keep their server busy).
// finish() ends the COPY and throws what writing it met; destroyed without
// finish(), it makes the COPY fail (its copy_in does, once the thread is gone).
class copy_feeder {
 public:
  copy_feeder(warehouse::connection& conn, const std::string& statement)
      : copy_(conn, statement, "sluice: the initial copy failed") {
    thread_ = std::thread([this] { write(); });
  }
  ~copy_feeder() {
    if (thread_.joinable()) stop(true);
  }
  copy_feeder(const copy_feeder&) = delete;
  copy_feeder& operator=(const copy_feeder&) = delete;

  void push(std::string chunk) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return chunks_.size() < 4 || error_; });
    if (error_) std::rethrow_exception(error_);
    chunks_.push_back(std::move(chunk));
    changed_.notify_all();
  }
  void finish() {
    stop(false);
    if (error_) std::rethrow_exception(error_);
    copy_.finish();
  }

 private:
  void stop(bool abandon) {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      abandon_ = abandon;
      changed_.notify_all();
    }
    thread_.join();
  }
  void write() {
    while (true) {
      std::string chunk;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !chunks_.empty() || closing_; });
        if (chunks_.empty() || abandon_) return;
        chunk = std::move(chunks_.front());
        chunks_.pop_front();
        changed_.notify_all();
      }
      try {
        copy_.write(chunk);
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
        changed_.notify_all();
        return;
      }
    }
  }
  warehouse::copy_in copy_;  // written by thread_ alone while it runs
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  bool closing_ = false;
  bool abandon_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// Reads `copy_out` from the source once and writes each row to both feeders:
// to `change_log` after the fields in `prefix` (prefix_fields of them), to
// `mirror` as it is.
void tee_copy(warehouse::connection& from, const std::string& copy_out, copy_feeder& change_log, std::string_view prefix,
              std::int16_t prefix_fields, copy_feeder& mirror);

// Reads `copy_out` from the source and writes it, as it comes, to `mirror`:
// the source's binary COPY is the mirror's (the same columns, in the same
// order), so no row is taken apart.
void copy_through(warehouse::connection& from, const std::string& copy_out, copy_feeder& mirror);

// The snapshot's slow way, taken only after a fast one met a row the
// warehouse refuses (and for a table added to the publication later): the
// warehouse's connection alone, into the mirror, or, when `logged`, into the
// change log (as 'r' rows, at the copy's LSN `copied_at` and time
// `snapshot_at`),
// whose trigger fills the mirror as for streamed changes; in chunks of 4 MB,
// each under a savepoint. A refused chunk is split down to its refused rows,
// which become rejects: position the consistent point, record the row's
// ordinal in the table's copy, raw the row as the source prints it. Returns
// how many rows were refused.
[[nodiscard]] std::uint64_t careful_copy(warehouse::connection& from, warehouse::connection& to, const table_info& t,
                                         bool logged, pgoutput::lsn copied_at, std::int64_t snapshot_at,
                                         const std::string& source);

// The source's COPY of table t's columns (for its mirror), in binary; with
// `with_row_text`, each row ends with its text as the source prints it.
[[nodiscard]] std::string snapshot_copy_out(const table_info& t, bool with_row_text = false);

// The COPY into t's mirror of what snapshot_copy_out() reads.
[[nodiscard]] std::string mirror_copy_in(const table_info& t);

// The time of `src`'s snapshot, as binary COPY's timestamptz (microseconds
// since 2000-01-01).
[[nodiscard]] std::int64_t snapshot_time(warehouse::connection& src);

// The change log's columns before the table's own for a copied row, the
// same for every row: _op 'r', _lsn the copy's LSN, _seq 0, _commit_at the
// snapshot's time, _unchanged and every _old_<key> NULL. Returns them as
// binary COPY fields, and how many there are.
[[nodiscard]] std::pair<std::string, std::int16_t> copy_prefix(const table_info& t, pgoutput::lsn at,
                                                              std::int64_t snapshot_at);

}  // namespace sluice::loader

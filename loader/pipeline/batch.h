// A batch: the rows and rejects of one or many sources (many small files, a
// slice of a large one, later source transactions of a replication stream)
// and the checkpoint of each, written by the committer in ONE transaction.
//
// The committer knows nothing of what a checkpoint is (a file offset, an LSN):
// a checkpoint_set advances its kind of checkpoints in the open transaction and
// says whether they were where the batch starts. Each source's batches carry a
// sequence number so that they commit in order (see committer.h).
//
// Threading: a batch is built by one thread, then handed to the committer,
// which owns it from then on.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <functional>
#include <span>

#include "loader/pipeline/copy_encoder.h"
#include "warehouse/connection.h"

namespace sluice::loader {

// Where a row or reject came from, kept so that a row the server refuses can
// become a reject with its raw text and position. What the numbers mean is the
// source's (its provenance, below, reads them): a file's id, line and byte
// offset, or a replication source's commit LSN (offset) and _seq (record).
struct row_origin {
  std::int64_t source_id = 0;  // which of the source's inputs (sluice.files.id)
  std::uint64_t record = 0;    // 1-based ordinal in its input
  std::uint64_t line = 0;
  std::uint64_t offset = 0;    // where its raw text starts in the input
  std::uint32_t size = 0;      // bytes of raw text
  std::uint16_t feed = 0;      // index into batch::feed_names
  bool raw_truncated = false;
};

// A reject's place as sluice.rejects records it: a file (its ledger id, line
// and byte offset) or a replication source (its name and a commit LSN).
struct reject_place {
  std::optional<std::int64_t> file_id;
  std::string source;  // "" for none
  std::optional<std::uint64_t> lsn;
  std::optional<std::uint64_t> line;
  std::optional<std::uint64_t> byte_offset;
};

// What a batch's row origins point at, asked for a row the server refused
// (rarely needed, so nothing is copied while rows are encoded): its place and
// its raw text. Each kind of source has its own; the pipeline knows none of
// them. Must stay usable until the batch is done; called from a committer
// thread.
class provenance {
 public:
  virtual ~provenance() = default;
  [[nodiscard]] virtual reject_place place(const row_origin& origin) const = 0;
  // `row_stream` is the row as the batch encoded it, a one-row binary COPY
  // stream of `copy_statement` (describe_copy_row reads it).
  [[nodiscard]] virtual std::string raw_text(const row_origin& origin, std::string_view copy_statement,
                                             std::string_view row_stream) const = 0;
};

// Rows for one staging table.
struct table_rows {
  std::string copy_statement;  // COPY "s"."t" (...) FROM STDIN (FORMAT binary)
  copy_encoder rows;
  std::vector<std::uint32_t> origins;  // per row: index into batch::origins
};

enum class advance_result {
  advanced,         // every checkpoint was where its batch starts, and now is where it ends
  already_applied,  // every checkpoint is where the batch ends: an earlier attempt committed
  elsewhere,        // some checkpoint is elsewhere: an earlier batch has not committed yet,
                    // or another process moved it
};

// The checkpoints of one kind of source in one batch.
class checkpoint_set {
 public:
  virtual ~checkpoint_set() = default;
  // Runs inside the batch's transaction, after its rows and rejects.
  // `refused`: per source id, rows the server refused, which became rejects
  // (so they count as rejected, not loaded).
  [[nodiscard]] virtual advance_result advance(
      warehouse::connection& conn, const std::map<std::int64_t, std::uint64_t>& refused) = 0;
  // For messages: which sources, from where to where.
  [[nodiscard]] virtual std::string describe() const = 0;
  // The batch failed for a reason that is retried (a full disk, a server
  // restarting): shows it where a person looks, on `conn` (outside the
  // batch's transaction). Nothing by default.
  virtual void note_retry(warehouse::connection& /*conn*/, const std::string& /*error*/) const {}
};

// A source's place in the commit order: its key and the batch's number among
// that source's batches (0, 1, 2, ...).
struct source_turn {
  std::string key;
  std::uint64_t seq = 0;
};

// One feed's records in a batch. The committer moves rows the server refused
// from loaded to rejected.
struct feed_tally {
  std::uint64_t loaded = 0;
  std::uint64_t rejected = 0;
};

struct batch {
  std::vector<table_rows> tables;
  copy_encoder rejects;  // rows of sluice.rejects (see reject_columns in batch.cpp)
  std::vector<row_origin> origins;
  std::shared_ptr<const provenance> from;  // what the origins point at, read on demand
  std::vector<std::string> feed_names;
  std::vector<feed_tally> feed_tallies;  // per feed_names entry, counted by the producer
  std::vector<std::unique_ptr<checkpoint_set>> checkpoints;
  std::vector<source_turn> turns;
  // The key of a source (one of `turns`) whose next batch follows at once: a
  // file cut by the batch size, its reading going on. The committer may stream
  // that batch into this one's COPY and transaction (see committer.h).
  std::string continues;
  std::uint64_t loaded = 0;    // rows in tables
  std::uint64_t rejected = 0;  // rows in rejects
  std::uint64_t refused = 0;   // rows the server refused (set by the committer)

  // COPY bytes of its rows and rejects (what the batch size limit counts).
  [[nodiscard]] std::size_t bytes() const;
  // The table_rows for a COPY statement, added if new.
  table_rows& table(const std::string& copy_statement);
  std::uint16_t feed_index(const std::string& feed);
};

// The table a COPY statement writes, as "schema.name" (quotes taken off).
[[nodiscard]] std::string copied_table(std::string_view copy_statement);
// The COPY of sluice.rejects that batch::rejects holds rows for.
[[nodiscard]] std::string_view rejects_copy_statement();
// A refused change of a replication source, as a person reads it: each
// column of a one-row binary COPY stream (header, row, trailer) by its name in
// `copy_statement`'s column list, its bytes as text when they are printable
// UTF-8 (text types are), else \x and hex (binary forms of numbers, dates).
[[nodiscard]] std::string describe_copy_row(std::string_view copy_statement, std::string_view row_stream);
// Appends one reject row: where it came from (`record` and raw_truncated are
// `what`'s), the field at fault ("" for the record as a whole), the reason, and
// the raw bytes (made printable; exact bytes kept too when that changed them).
void append_reject(copy_encoder& rejects, const reject_place& where, const row_origin& what, std::string_view feed,
                   std::string_view field, std::string_view reason, std::string_view raw);

// A reject's reason for a row the server refused: its message and SQLSTATE.
[[nodiscard]] std::string refusal_reason(const warehouse::db_error& e);

// One COPY of a whole stream (header, rows, trailer).
void copy_stream(warehouse::connection& conn, std::string_view statement, std::span<const char> data);

// COPYs `rows` with `statement` inside the caller's transaction, splitting
// around every row the server refuses for its data (a value that does not
// fit, a constraint, a trigger's exception), each try under a savepoint:
// `on_refused` gets such a row's index and the server's error; the other rows
// are written, in order. Any other error is thrown.
void copy_around_refused(warehouse::connection& conn, std::string_view statement, copy_encoder& rows,
                         const std::function<void(std::size_t, const warehouse::db_error&)>& on_refused);

}  // namespace sluice::loader

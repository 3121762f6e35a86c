// sluice::watcher — the logical replication wire format, decoded.
//
// Two layers, both pure functions over bytes (no connection, no allocation
// beyond the decoded values):
// - the streaming replication protocol's CopyData messages: XLogData ('w',
//   carrying one pgoutput message) and the primary keepalive ('k'); and the
//   standby status update ('r') that confirms how far the consumer got;
// - pgoutput's logical replication messages, protocol version 1 (PostgreSQL
//   10+; what a PostgreSQL 15 source sends without streaming): Begin, Commit,
//   Origin, Relation, Type, Insert, Update (with or without the old key or old
//   tuple), Delete, Truncate and Message. Formats as in the PostgreSQL manual,
//   "Logical Replication Message Formats".
//
// Errors are values: a message that is truncated, has trailing bytes, or an
// unknown tag decodes to a decode_error naming the byte offset and what was
// expected; nothing throws, nothing reads past the span (a fuzz target checks).
//
// Lifetime: decoded values own their bytes (std::string), so they outlive the
// buffer. Threading: none (pure functions).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace sluice::loader::pgoutput {

using lsn = std::uint64_t;  // a WAL position (XLogRecPtr)

// Microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's epoch).
using pg_timestamp = std::int64_t;

[[nodiscard]] std::string format_lsn(lsn position);          // "16/B374D848"
[[nodiscard]] std::optional<lsn> parse_lsn(std::string_view text);

struct decode_error {
  std::size_t offset = 0;  // where in the message decoding stopped
  std::string reason;      // e.g. "truncated: expected 4 bytes of column 2's length"
};

// One column value of a tuple.
struct column_value {
  enum class kind : char { null = 'n', unchanged_toast = 'u', text = 't', binary = 'b' };
  kind what = kind::null;
  std::string bytes;  // text or binary representation; empty for null and unchanged_toast
};
using tuple = std::vector<column_value>;

struct begin_message {
  lsn final_lsn = 0;  // the transaction's commit record
  pg_timestamp commit_time = 0;
  std::uint32_t xid = 0;
};
struct commit_message {
  std::uint8_t flags = 0;
  lsn commit_lsn = 0;
  lsn end_lsn = 0;  // the end of the commit record: where a consumer resumes after it
  pg_timestamp commit_time = 0;
};
struct origin_message {
  lsn origin_lsn = 0;
  std::string name;
};
struct relation_column {
  bool key = false;  // part of the replica identity
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
};
struct relation_message {
  std::uint32_t oid = 0;
  std::string schema;  // "" means pg_catalog
  std::string name;
  char replica_identity = 'd';  // d default (primary key), n nothing, f full, i index
  std::vector<relation_column> columns;
};
struct type_message {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
};
struct insert_message {
  std::uint32_t relation = 0;
  tuple row;
};
struct update_message {
  std::uint32_t relation = 0;
  // 'K': old key columns (the key changed), 'O': the whole old row (replica
  // identity full), 0: neither was sent.
  char old_kind = 0;
  tuple old_row;
  tuple row;
};
struct delete_message {
  std::uint32_t relation = 0;
  char old_kind = 'K';  // 'K' key columns only, 'O' the whole old row
  tuple old_row;
};
struct truncate_message {
  bool cascade = false;
  bool restart_identity = false;
  std::vector<std::uint32_t> relations;
};
struct logical_message {  // pg_logical_emit_message()
  bool transactional = false;
  lsn at = 0;
  std::string prefix;
  std::string content;
};

using message = std::variant<begin_message, commit_message, origin_message, relation_message, type_message,
                             insert_message, update_message, delete_message, truncate_message, logical_message>;

// One pgoutput message (the payload of an XLogData).
using decoded = std::variant<message, decode_error>;
[[nodiscard]] decoded decode(std::span<const char> bytes);

// The streaming replication protocol's messages inside CopyData.
struct xlog_data {
  lsn start = 0;     // WAL position of this message's start
  lsn wal_end = 0;   // the server's current end of WAL
  pg_timestamp sent_at = 0;
  std::span<const char> payload;  // a pgoutput message; points into the input
};
struct keepalive {
  lsn wal_end = 0;
  pg_timestamp sent_at = 0;
  bool reply_requested = false;
};
using copy_message = std::variant<xlog_data, keepalive, decode_error>;
[[nodiscard]] copy_message decode_copy_data(std::span<const char> bytes);

// The standby status update ('r'): written/flushed/applied positions; a
// consumer sets flushed to the last LSN durably stored, which lets the server
// recycle WAL before it.
[[nodiscard]] std::string encode_standby_status(lsn written, lsn flushed, lsn applied, pg_timestamp now,
                                                bool reply_requested);

}  // namespace sluice::loader::pgoutput

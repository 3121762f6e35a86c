// Feed declarations (sluice.feeds, feed_targets, feed_columns) compiled against
// the staging tables' catalog entries: the column types and NOT NULLs are the
// contract every record is validated against.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loader/formats/csv/csv.h"
#include "loader/contract/numeric.h"
#include "loader/contract/value_formats.h"
#include "warehouse/connection.h"
#include "warehouse/fault.h"

namespace sluice::loader {

// The PostgreSQL types a staging column may have. bpchar is char(n): like
// varchar(n), but spaces past n are dropped instead of refused.
enum class column_type { boolean, int2, int4, int8, float4, float8, numeric, text, bpchar, json, jsonb,
                         date, timestamp, timestamptz, time, interval, uuid };

enum class column_source { json_pointer, csv_header, csv_position, file_id, record_ordinal };

struct column_plan {
  std::string name;
  std::string type_name;  // as PostgreSQL spells it, with its modifier, for messages
  column_type type = column_type::text;
  std::size_t max_chars = 0;  // varchar(n) and char(n): n; else 0 (no limit)
  int numeric_precision = numeric_unconstrained;  // numeric(p,s): p
  int numeric_scale = 0;                           // numeric(p,s): s
  bool not_null = false;
  column_source source = column_source::json_pointer;
  std::string json_pointer;
  std::string csv_header;        // column_source::csv_header: the header name
  std::size_t csv_position = 0;  // column_source::csv_position: 1-based
  // How text values are read (the feed's, with this column's overrides).
  std::shared_ptr<const value_formats> formats;

  // Where the value comes from, for rejects.field and messages: the JSON
  // pointer, the CSV header name, or "field N". (Inline: the decoders use it
  // without the catalog code of feed.cpp, e.g. in the fuzz targets.)
  [[nodiscard]] std::string origin() const {
    switch (source) {
      case column_source::json_pointer: return json_pointer;
      case column_source::csv_header: return csv_header;
      case column_source::csv_position: return "field " + std::to_string(csv_position);
      case column_source::file_id:
      case column_source::record_ordinal: break;
    }
    return name;
  }
};

struct target_plan {
  std::string table;           // schema.table as declared
  std::string copy_statement;  // COPY "s"."t" ("c", ...) FROM STDIN (FORMAT binary)
  std::vector<column_plan> columns;
};

struct feed_plan {
  std::string name;
  std::vector<std::string> globs;
  std::string format;  // auto, or a format's name (loader/formats/registry.h)
  csv_dialect csv;     // format csv
  std::optional<std::string> route_pointer;
  std::vector<target_plan> targets;
  std::unordered_map<std::string, std::size_t> routes;  // route value -> targets index
  std::string route_values;  // "LOGIN, PAGE_ACCESS, ..." for messages
};

// A declaration that cannot work (unknown table or column, unsupported type,
// bad pointer). The message names the feed, table and column and what to change.
// compile_feeds() turns it into a skipped_feed. Not retryable: the declaration
// stays wrong until a person changes it.
class feed_error : public sluice::fault {
 public:
  using sluice::fault::fault;
  [[nodiscard]] bool is_retryable() const noexcept override { return false; }
};

// A feed declared (enabled) that cannot work, and why: `reason` names the
// feed, table and column and what to change, e.g. "feed shop: column
// staging.shop_order.customer has json_pointer 'customer', which is not a JSON
// pointer (it must start with /)".
struct skipped_feed {
  std::string name;
  std::vector<std::string> globs;
  std::string reason;
};

// Two enabled feeds whose globs share a path (glob.h: decided exactly): a file
// must belong to one feed, so `sluice migrate` refuses a migration that makes
// one, and the loader keeps a file in the feed of its ledger row.
struct feed_overlap {
  std::string feed_a;  // the first by name
  std::string glob_a;
  std::string feed_b;
  std::string glob_b;
  std::string example;  // a path both globs match

  [[nodiscard]] std::string describe() const;
};

// What the declarations in sluice.feeds, feed_targets and feed_columns make.
struct feed_set {
  std::vector<feed_plan> feeds;        // compiled, by name: what `sluice run` loads
  std::vector<skipped_feed> skipped;   // declared and enabled, but not loadable: by name
  std::vector<feed_overlap> overlaps;  // pairs of enabled feeds (compiled or not) sharing a path

  // One line per skipped feed and per overlap: what `sluice migrate` refuses
  // when a migration adds one (the same words `sluice run` logs).
  [[nodiscard]] std::vector<std::string> problems() const;
};

// Reads every enabled feed and compiles each on its own against the catalog,
// with the checks `sluice run` relies on: the target is an existing table of
// the `staging` schema; every mapped column exists, has a type sluice loads
// and a source that suits the format (a JSON pointer starting with /, a CSV
// header or position); value formats and CSV settings are valid. A feed that
// fails a check is skipped (feed_set::skipped), the others compile. Nothing
// (an empty set) before the sluice pack created sluice.feeds.
//
// Must run inside a transaction: each feed compiles under a savepoint, so a
// declaration the server refuses to even look up (a target_table of four
// dotted names) fails that feed only, also in a migration's transaction.
// Throws warehouse::db_error for faults (connection, ...), never for a
// declaration.
[[nodiscard]] feed_set compile_feeds(warehouse::connection& conn);

// The first feed (by name) with a glob matching `relative_path` (fnmatch; '*'
// also matches '/'), or nullptr.
[[nodiscard]] const feed_plan* match_feed(const std::vector<feed_plan>& feeds,
                                          std::string_view relative_path);

// Every feed with a glob matching `relative_path`, by name (more than one only
// when declarations overlap: see feed_overlap).
[[nodiscard]] std::vector<const feed_plan*> feeds_matching(const std::vector<feed_plan>& feeds,
                                                           std::string_view relative_path);

// Whether any of a skipped feed's globs matches `relative_path`.
[[nodiscard]] const skipped_feed* match_skipped(const std::vector<skipped_feed>& skipped,
                                                std::string_view relative_path);

}  // namespace sluice::loader

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

#include "sluice/loader/csv.h"
#include "sluice/loader/numeric.h"
#include "sluice/loader/record_reader.h"
#include "sluice/loader/value_formats.h"
#include "sluice/warehouse/connection.h"

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
  std::string format;  // auto | ndjson | json | csv
  csv_dialect csv;     // format csv
  std::optional<std::string> route_pointer;
  std::vector<target_plan> targets;
  std::unordered_map<std::string, std::size_t> routes;  // route value -> targets index
  std::string route_values;  // "LOGIN, PAGE_ACCESS, ..." for messages

  // The framing for a file whose first bytes are `head`.
  [[nodiscard]] framing framing_for(std::string_view head) const;
};

// A declaration that cannot work (unknown table or column, unsupported type,
// bad pointer). The message names the feed, table and column and what to change.
class feed_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads every enabled feed. Throws feed_error or warehouse::db_error.
[[nodiscard]] std::vector<feed_plan> load_feeds(warehouse::connection& conn);

// The first feed (by name) with a glob matching `relative_path` (fnmatch; '*'
// also matches '/'), or nullptr.
[[nodiscard]] const feed_plan* match_feed(const std::vector<feed_plan>& feeds,
                                          std::string_view relative_path);

}  // namespace sluice::loader

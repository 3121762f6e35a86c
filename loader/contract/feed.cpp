#include "loader/contract/feed.h"

#include <algorithm>
#include <map>

#include "loader/contract/glob.h"
#include "loader/formats/registry.h"
#include "warehouse/error.h"

namespace sluice::loader {

namespace {

std::optional<column_type> type_from_catalog(std::string_view name) {
  static const std::map<std::string_view, column_type> known = {
      {"boolean", column_type::boolean},
      {"smallint", column_type::int2},
      {"integer", column_type::int4},
      {"bigint", column_type::int8},
      {"real", column_type::float4},
      {"double precision", column_type::float8},
      {"numeric", column_type::numeric},
      {"text", column_type::text},
      {"character varying", column_type::text},
      {"character", column_type::bpchar},
      {"json", column_type::json},
      {"jsonb", column_type::jsonb},
      {"date", column_type::date},
      {"timestamp without time zone", column_type::timestamp},
      {"timestamp with time zone", column_type::timestamptz},
      {"time without time zone", column_type::time},
      {"interval", column_type::interval},
      {"uuid", column_type::uuid},
  };
  auto it = known.find(name);
  if (it == known.end()) return std::nullopt;
  return it->second;
}

// The text form of a text[]: {a,b} or {"a b",c,"",NULL}. Unquoted NULL is an
// SQL null element and is left out.
std::vector<std::string> parse_text_array(std::string_view literal) {
  std::vector<std::string> out;
  if (literal.size() < 2) return out;
  literal = literal.substr(1, literal.size() - 2);
  if (literal.empty()) return out;
  std::string current;
  bool quoted = false;
  bool was_quoted = false;
  auto finish = [&] {
    if (was_quoted || current != "NULL") out.push_back(std::move(current));
    current.clear();
    was_quoted = false;
  };
  for (std::size_t i = 0; i < literal.size(); ++i) {
    char c = literal[i];
    if (c == '"') {
      quoted = !quoted;
      was_quoted = true;
    } else if (c == '\\' && quoted && i + 1 < literal.size()) {
      current += literal[++i];
    } else if (c == ',' && !quoted) {
      finish();
    } else {
      current += c;
    }
  }
  finish();
  return out;
}

std::string lower_case(std::string text) {
  for (auto& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::vector<std::string> trimmed_all(std::vector<std::string> values) {
  for (auto& v : values) v = std::string(trim_blanks(v));
  return values;
}

std::vector<datetime_format> compile_formats(const std::string& where, const std::vector<std::string>& patterns,
                                             bool with_time) {
  std::vector<datetime_format> out;
  for (const auto& pattern : patterns) {
    auto compiled = datetime_format::compile(pattern, with_time);
    if (!compiled) throw feed_error(where + ": " + compiled.error());
    out.push_back(std::move(compiled).value());
  }
  return out;
}

std::shared_ptr<const time_zone> zone_named(const std::string& where, const std::string& name) {
  auto zone = time_zone::locate(name);
  if (!zone) throw feed_error(where + ": " + zone.error());
  return std::move(zone).value();
}

// One character of a CSV setting, e.g. csv_delimiter.
char single_char(const std::string& feed, const char* setting, std::string_view value) {
  if (value.size() != 1) {
    throw feed_error("feed " + feed + ": " + setting + " '" + std::string(value) +
                     "' must be one single-byte character");
  }
  return value.front();
}

// A row of sluice.feeds, copied out of its result.
struct declared_feed {
  std::string name;
  std::vector<std::string> globs;
  std::string format;
  std::optional<std::string> route_pointer;
  std::string csv_delimiter;
  std::string csv_quote;
  std::optional<std::string> csv_escape;
  bool csv_header = true;
  std::string null_strings;
  std::string date_formats;
  std::string timestamp_formats;
  std::optional<std::string> time_zone;
  std::string true_strings;
  std::string false_strings;
};

std::vector<declared_feed> read_declarations(warehouse::connection& conn) {
  auto rows = conn.exec(
      "select name, file_globs::text, format, route_pointer, csv_delimiter, csv_quote, csv_escape,"
      " csv_header, null_strings::text, date_formats::text, timestamp_formats::text, time_zone,"
      " true_strings::text, false_strings::text"
      " from sluice.feeds where enabled order by name");
  std::vector<declared_feed> out;
  for (int row = 0; row < rows.rows(); ++row) {
    declared_feed d;
    d.name = rows.text(row, 0);
    d.globs = parse_text_array(rows.text(row, 1));
    d.format = rows.text(row, 2);
    d.route_pointer = rows.optional_text(row, 3);
    d.csv_delimiter = rows.text(row, 4);
    d.csv_quote = rows.text(row, 5);
    d.csv_escape = rows.optional_text(row, 6);
    d.csv_header = rows.text(row, 7) == "t";
    d.null_strings = rows.text(row, 8);
    d.date_formats = rows.text(row, 9);
    d.timestamp_formats = rows.text(row, 10);
    d.time_zone = rows.optional_text(row, 11);
    d.true_strings = rows.text(row, 12);
    d.false_strings = rows.text(row, 13);
    out.push_back(std::move(d));
  }
  return out;
}

// Schemas whose tables a feed must never write: what sluice and the packs keep
// (a feed into sluice.jobs made a CSV row a job that ran SQL; one into
// sluice.files forged a ledger row) and the server's own.
bool is_staging_schema(std::string_view schema) { return schema == "staging"; }

// The feed's own settings (a row of sluice.feeds), checked; no targets yet.
feed_plan feed_settings(const declared_feed& declared) {
  feed_plan feed;
  feed.name = declared.name;
  feed.globs = declared.globs;
  feed.format = declared.format;
  feed.route_pointer = declared.route_pointer;
  if (feed.route_pointer && !feed.route_pointer->empty() && feed.route_pointer->front() != '/') {
    throw feed_error("feed " + feed.name + ": route_pointer '" + *feed.route_pointer +
                     "' is not a JSON pointer (it must start with /)");
  }
  feed.csv.delimiter = single_char(feed.name, "csv_delimiter", declared.csv_delimiter);
  feed.csv.quote = single_char(feed.name, "csv_quote", declared.csv_quote);
  if (declared.csv_escape) {
    feed.csv.escape = static_cast<unsigned char>(single_char(feed.name, "csv_escape", *declared.csv_escape));
  }
  feed.csv.header = declared.csv_header;
  if (feed.csv.delimiter == feed.csv.quote || feed.csv.delimiter == '\n' || feed.csv.quote == '\n' ||
      feed.csv.delimiter == '\r' || feed.csv.quote == '\r') {
    throw feed_error("feed " + feed.name + ": csv_delimiter and csv_quote must differ, and neither may be a"
                     " line break");
  }
  if (!declared_format(feed.format).routes && feed.route_pointer) {
    throw feed_error("feed " + feed.name + ": a " + feed.format + " feed routes nothing; set route_pointer to null"
                     " and give it one target (route_value '')");
  }
  return feed;
}

// The value formats of the feed, which each column starts from.
std::shared_ptr<const value_formats> feed_value_formats(const feed_plan& feed, const declared_feed& declared) {
  std::string feed_where = "feed " + feed.name;
  value_formats feed_formats;
  feed_formats.null_strings = trimmed_all(parse_text_array(declared.null_strings));
  feed_formats.date_formats = compile_formats(feed_where + " date_formats", parse_text_array(declared.date_formats), false);
  feed_formats.timestamp_formats =
      compile_formats(feed_where + " timestamp_formats", parse_text_array(declared.timestamp_formats), true);
  if (declared.time_zone) feed_formats.zone = zone_named(feed_where + " time_zone", *declared.time_zone);
  for (auto& word : parse_text_array(declared.true_strings)) feed_formats.true_strings.push_back(lower_case(word));
  for (auto& word : parse_text_array(declared.false_strings)) feed_formats.false_strings.push_back(lower_case(word));
  return std::make_shared<const value_formats>(std::move(feed_formats));
}

// Each target table by its declared name: (its quoted name, its oid).
using catalog_tables = std::map<std::string, std::pair<std::string, std::string>>;

// The feed's targets and routes (its rows of sluice.feed_targets), each table
// checked against the catalog.
catalog_tables add_targets(warehouse::connection& conn, feed_plan& feed) {
  // The table as the catalog names it: the COPY statement quotes its schema
  // and name from there (a declared 'staging."Weird"' is staging."Weird", not
  // a name with quotes in it), and its oid finds its columns.
  auto targets = conn.exec_params(
      "select t.route_value, t.target_table, c.oid is not null, coalesce(n.nspname, ''),"
      // Quoted always, as the columns (the COPY's text is what pg_stat_activity shows).
      " coalesce('\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"', ''),"
      " coalesce(c.relkind::text, ''), coalesce(c.oid, 0)"
      " from sluice.feed_targets t"
      " left join pg_class c on c.oid = to_regclass(t.target_table)"
      " left join pg_namespace n on n.oid = c.relnamespace"
      " where t.feed = $1 order by t.route_value",
      {feed.name});
  catalog_tables catalog;
  for (int row = 0; row < targets.rows(); ++row) {
    std::string route(targets.text(row, 0));
    std::string table(targets.text(row, 1));
    if (targets.text(row, 2) != "t") {
      throw feed_error("feed " + feed.name + ": target table " + table +
                       " does not exist (create it in the feed's SQL, then `sluice migrate`)");
    }
    if (!is_staging_schema(targets.text(row, 3))) {
      throw feed_error("feed " + feed.name + ": target table " + table + " is in schema " +
                       std::string(targets.text(row, 3)) +
                       "; feeds load into staging tables only (a table of the staging schema, e.g."
                       " staging.my_table); core and report tables follow from them by triggers and jobs");
    }
    auto kind = targets.text(row, 5);
    if (kind != "r" && kind != "p") {
      throw feed_error("feed " + feed.name + ": target " + table +
                       " is not a table (a view, sequence, ...); feeds load into staging tables only");
    }
    catalog[table] = {std::string(targets.text(row, 4)), std::string(targets.text(row, 6))};
    auto existing = std::find_if(feed.targets.begin(), feed.targets.end(),
                                 [&](const target_plan& t) { return t.table == table; });
    std::size_t index = static_cast<std::size_t>(existing - feed.targets.begin());
    if (existing == feed.targets.end()) {
      feed.targets.push_back({table, "", {}});
    }
    feed.routes.emplace(route, index);
    if (!feed.route_values.empty()) feed.route_values += ", ";
    feed.route_values += route;
  }
  if (feed.targets.empty()) {
    throw feed_error("feed " + feed.name + " has no rows in sluice.feed_targets");
  }
  if (!declared_format(feed.format).routes && (feed.targets.size() != 1 || feed.routes.size() != 1)) {
    throw feed_error("feed " + feed.name + ": a " + feed.format + " feed has exactly one target (one row in"
                     " sluice.feed_targets, route_value '')");
  }
  return catalog;
}

// Where a mapped column's value is read: a JSON pointer, a CSV header or a
// CSV position, as the feed's format allows (registry.h: its column_keys).
void map_column_source(const warehouse::result& columns, int row, const feed_plan& feed, const std::string& where,
                       column_plan& column) {
  bool fields = declared_format(feed.format).keys == column_keys::fields;
  if (!columns.is_null(row, 3)) {
    if (fields) {
      throw feed_error(where + " has a json_pointer, but the feed is " + feed.format + ": map it with csv_header"
                       " (or csv_position)");
    }
    column.json_pointer = columns.text(row, 3);
    if (!column.json_pointer.empty() && column.json_pointer.front() != '/') {
      throw feed_error(where + " has json_pointer '" + column.json_pointer +
                       "', which is not a JSON pointer (it must start with /)");
    }
  } else if (!fields) {
    throw feed_error(where + " is mapped by csv_header or csv_position, but the feed's format is " +
                     feed.format + ": map it with json_pointer");
  } else if (!columns.is_null(row, 8)) {
    if (!feed.csv.header) {
      throw feed_error(where + " is mapped by csv_header, but the feed has csv_header = false (no"
                       " header row): map it with csv_position");
    }
    column.source = column_source::csv_header;
    column.csv_header = std::string(trim_blanks(columns.text(row, 8)));
  } else {
    column.source = column_source::csv_position;
    column.csv_position = static_cast<std::size_t>(columns.int64(row, 9));
  }
}

// A mapped column's value formats: the feed's, with this column's overrides.
std::shared_ptr<const value_formats> column_formats(const warehouse::result& columns, int row,
                                                    const std::string& where,
                                                    const std::shared_ptr<const value_formats>& defaults) {
  bool overridden = false;
  value_formats formats = *defaults;
  if (!columns.is_null(row, 10)) {
    formats.null_strings = trimmed_all(parse_text_array(columns.text(row, 10)));
    overridden = true;
  }
  if (!columns.is_null(row, 11)) {
    formats.date_formats = compile_formats(where + " date_formats", parse_text_array(columns.text(row, 11)), false);
    overridden = true;
  }
  if (!columns.is_null(row, 12)) {
    formats.timestamp_formats =
        compile_formats(where + " timestamp_formats", parse_text_array(columns.text(row, 12)), true);
    overridden = true;
  }
  if (!columns.is_null(row, 13)) {
    formats.zone = zone_named(where + " time_zone", std::string(columns.text(row, 13)));
    overridden = true;
  }
  return overridden ? std::make_shared<const value_formats>(std::move(formats)) : defaults;
}

// A column that sluice.feed_columns maps, checked against its type.
void compile_mapped_column(const warehouse::result& columns, int row, const feed_plan& feed,
                           const target_plan& target, const std::shared_ptr<const value_formats>& defaults,
                           column_plan& column) {
  std::string where = "feed " + feed.name + ": column " + target.table + "." + column.name;
  map_column_source(columns, row, feed, where, column);
  auto type = type_from_catalog(column.type_name);
  if (!type) {
    throw feed_error(where + " has type " + column.type_name +
                     ", which sluice cannot load; use one of boolean, smallint, integer,"
                     " bigint, real, double precision, numeric, text, varchar, char, json, jsonb,"
                     " date, timestamp, timestamptz, time, interval, uuid");
  }
  column.type = *type;
  column.max_chars = static_cast<std::size_t>(columns.int64(row, 5));
  column.numeric_precision = static_cast<int>(columns.int64(row, 6));
  column.numeric_scale = static_cast<int>(columns.int64(row, 7));
  column.type_name = columns.text(row, 4);
  column.formats = column_formats(columns, row, where, defaults);
  if (column.type == column_type::date && column.formats->date_formats.empty()) {
    throw feed_error(where + " is a date column but date_formats is empty: list at least one format,"
                     " e.g. {YYYY-MM-DD}");
  }
}

// A target's columns, in the table's order, and its COPY statement.
void compile_target(warehouse::connection& conn, const feed_plan& feed, target_plan& target,
                    const std::string& quoted_table, const std::string& oid,
                    const std::shared_ptr<const value_formats>& defaults) {
  auto columns = conn.exec_params(
      "select a.attname, format_type(a.atttypid, null), a.attnotnull, c.json_pointer,"
      " format_type(a.atttypid, a.atttypmod),"
      " case when a.atttypid in ('varchar'::regtype, 'bpchar'::regtype) and a.atttypmod > 4"
      "      then a.atttypmod - 4 else 0 end,"
      " case when a.atttypid = 'numeric'::regtype and a.atttypmod >= 4"
      "      then ((a.atttypmod - 4) >> 16) & 65535 else -1 end,"
      // PostgreSQL 15 stores the scale as 11 signed bits (it may be negative).
      " case when a.atttypid = 'numeric'::regtype and a.atttypmod >= 4"
      "      then (((a.atttypmod - 4) & 2047) # 1024) - 1024 else 0 end,"
      " c.csv_header, c.csv_position, c.null_strings::text, c.date_formats::text,"
      " c.timestamp_formats::text, c.time_zone, c.column_name is not null,"
      // A column name is one identifier, dots and all.
      " '\"' || replace(a.attname, '\"', '\"\"') || '\"'"
      " from pg_attribute a"
      " left join sluice.feed_columns c"
      "   on c.feed = $1 and c.target_table = $2 and c.column_name = a.attname"
      " where a.attrelid = $3::oid and a.attnum > 0 and not a.attisdropped"
      " order by a.attnum",
      {feed.name, target.table, oid});
  std::string column_list;
  for (int row = 0; row < columns.rows(); ++row) {
    column_plan column;
    column.name = columns.text(row, 0);
    column.type_name = columns.text(row, 1);
    column.not_null = columns.text(row, 2) == "t";
    if (column.name == "_file_id") {
      column.source = column_source::file_id;
      column.type = column_type::int8;
    } else if (column.name == "_record") {
      column.source = column_source::record_ordinal;
      column.type = column_type::int8;
    } else if (columns.text(row, 14) != "t") {
      continue;  // unmapped: the column's default applies
    } else {
      compile_mapped_column(columns, row, feed, target, defaults, column);
    }
    if (!column_list.empty()) column_list += ", ";
    column_list += columns.text(row, 15);
    target.columns.push_back(std::move(column));
  }
  auto mapped = conn.exec_params(
      "select column_name from sluice.feed_columns c where feed = $1 and target_table = $2"
      " and not exists (select 1 from pg_attribute a where a.attrelid = $3::oid"
      "                  and a.attname = c.column_name and a.attnum > 0 and not a.attisdropped)",
      {feed.name, target.table, oid});
  if (mapped.rows() > 0) {
    throw feed_error("feed " + feed.name + ": sluice.feed_columns maps " +
                     std::string(mapped.text(0, 0)) + ", which is not a column of " +
                     target.table);
  }
  target.copy_statement = "copy " + quoted_table + " (" + column_list + ") from stdin (format binary)";
}

feed_plan compile_feed(warehouse::connection& conn, const declared_feed& declared) {
  feed_plan feed = feed_settings(declared);
  auto defaults = feed_value_formats(feed, declared);
  auto catalog = add_targets(conn, feed);
  for (auto& target : feed.targets) {
    const auto& [quoted_table, oid] = catalog.at(target.table);
    compile_target(conn, feed, target, quoted_table, oid, defaults);
  }
  return feed;
}

}  // namespace

std::string feed_overlap::describe() const {
  return "feeds " + feed_a + " and " + feed_b + " overlap: " + feed_a + "'s glob '" + glob_a + "' and " + feed_b +
         "'s glob '" + glob_b + "' both take paths such as '" + example +
         "'; a file belongs to one feed: narrow one of the globs (sluice.feeds.file_globs)";
}

std::vector<std::string> feed_set::problems() const {
  std::vector<std::string> out;
  for (const auto& s : skipped) out.push_back(s.reason);
  for (const auto& o : overlaps) out.push_back(o.describe());
  return out;
}

feed_set compile_feeds(warehouse::connection& conn) {
  feed_set out;
  if (conn.exec("select to_regclass('sluice.feeds') is null").text(0, 0) == "t") return out;
  auto declared = read_declarations(conn);
  for (const auto& d : declared) {
    conn.exec("savepoint sluice_compile_feed");
    try {
      out.feeds.push_back(compile_feed(conn, d));
      conn.exec("release savepoint sluice_compile_feed");
    } catch (const feed_error& e) {
      conn.exec("release savepoint sluice_compile_feed");
      out.skipped.push_back({d.name, d.globs, e.what()});
    } catch (const warehouse::db_error& e) {
      // A name the server cannot parse (to_regclass('a.b.c.d') raises 42601)
      // is the declaration's fault; a fault of the server is not.
      if (e.is_retryable() || !conn.is_open()) throw;
      conn.exec("rollback to savepoint sluice_compile_feed; release savepoint sluice_compile_feed");
      out.skipped.push_back({d.name, d.globs, "feed " + d.name + ": " + e.what()});
    }
  }
  for (std::size_t a = 0; a < declared.size(); ++a) {
    for (std::size_t b = a + 1; b < declared.size(); ++b) {
      std::optional<feed_overlap> found;
      for (const auto& glob_a : declared[a].globs) {
        for (const auto& glob_b : declared[b].globs) {
          if (found) break;
          if (auto example = common_path(glob_a, glob_b)) {
            found = feed_overlap{declared[a].name, glob_a, declared[b].name, glob_b, *example};
          }
        }
      }
      if (found) out.overlaps.push_back(std::move(*found));
    }
  }
  return out;
}

const feed_plan* match_feed(const std::vector<feed_plan>& feeds, std::string_view relative_path) {
  for (const auto& feed : feeds) {
    for (const auto& glob : feed.globs) {
      if (glob_matches(glob, relative_path)) return &feed;
    }
  }
  return nullptr;
}

std::vector<const feed_plan*> feeds_matching(const std::vector<feed_plan>& feeds, std::string_view relative_path) {
  std::vector<const feed_plan*> out;
  for (const auto& feed : feeds) {
    if (std::any_of(feed.globs.begin(), feed.globs.end(),
                    [&](const std::string& glob) { return glob_matches(glob, relative_path); })) {
      out.push_back(&feed);
    }
  }
  return out;
}

const skipped_feed* match_skipped(const std::vector<skipped_feed>& skipped, std::string_view relative_path) {
  for (const auto& feed : skipped) {
    for (const auto& glob : feed.globs) {
      if (glob_matches(glob, relative_path)) return &feed;
    }
  }
  return nullptr;
}

}  // namespace sluice::loader

#include "sluice/loader/feed.h"

#include <fnmatch.h>

#include <algorithm>

#include <map>

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

}  // namespace

framing feed_plan::framing_for(std::string_view head) const {
  if (format == "ndjson") return framing::ndjson;
  if (format == "json") return framing::json;
  if (format == "csv") return framing::csv;
  return detect_framing(head);
}

std::vector<feed_plan> load_feeds(warehouse::connection& conn) {
  std::vector<feed_plan> feeds;
  auto rows = conn.exec(
      "select name, file_globs::text, format, route_pointer, csv_delimiter, csv_quote, csv_escape,"
      " csv_header, null_strings::text, date_formats::text, timestamp_formats::text, time_zone,"
      " true_strings::text, false_strings::text"
      " from sluice.feeds where enabled order by name");
  std::map<std::string, value_formats> feed_formats;
  for (int row = 0; row < rows.rows(); ++row) {
    feed_plan feed;
    feed.name = rows.text(row, 0);
    feed.globs = parse_text_array(rows.text(row, 1));
    feed.format = rows.text(row, 2);
    feed.route_pointer = rows.optional_text(row, 3);
    if (feed.route_pointer && !feed.route_pointer->empty() && feed.route_pointer->front() != '/') {
      throw feed_error("feed " + feed.name + ": route_pointer '" + *feed.route_pointer +
                       "' is not a JSON pointer (it must start with /)");
    }
    feed.csv.delimiter = single_char(feed.name, "csv_delimiter", rows.text(row, 4));
    feed.csv.quote = single_char(feed.name, "csv_quote", rows.text(row, 5));
    if (auto escape = rows.optional_text(row, 6)) {
      feed.csv.escape = static_cast<unsigned char>(single_char(feed.name, "csv_escape", *escape));
    }
    feed.csv.header = rows.text(row, 7) == "t";
    if (feed.csv.delimiter == feed.csv.quote || feed.csv.delimiter == '\n' || feed.csv.quote == '\n' ||
        feed.csv.delimiter == '\r' || feed.csv.quote == '\r') {
      throw feed_error("feed " + feed.name + ": csv_delimiter and csv_quote must differ, and neither may be a"
                       " line break");
    }
    if (feed.format == "csv" && feed.route_pointer) {
      throw feed_error("feed " + feed.name + ": a csv feed routes nothing; set route_pointer to null and give"
                       " it one target (route_value '')");
    }
    std::string where = "feed " + feed.name;
    value_formats formats;
    formats.null_strings = trimmed_all(parse_text_array(rows.text(row, 8)));
    formats.date_formats = compile_formats(where + " date_formats", parse_text_array(rows.text(row, 9)), false);
    formats.timestamp_formats =
        compile_formats(where + " timestamp_formats", parse_text_array(rows.text(row, 10)), true);
    if (auto zone = rows.optional_text(row, 11)) formats.zone = zone_named(where + " time_zone", *zone);
    for (auto& word : parse_text_array(rows.text(row, 12))) formats.true_strings.push_back(lower_case(word));
    for (auto& word : parse_text_array(rows.text(row, 13))) formats.false_strings.push_back(lower_case(word));
    feed_formats.emplace(feed.name, std::move(formats));
    feeds.push_back(std::move(feed));
  }

  for (auto& feed : feeds) {
    auto defaults = std::make_shared<const value_formats>(feed_formats.at(feed.name));
    auto targets = conn.exec_params(
        "select route_value, target_table, to_regclass(target_table) is not null"
        " from sluice.feed_targets where feed = $1 order by route_value",
        {feed.name});
    for (int row = 0; row < targets.rows(); ++row) {
      std::string route(targets.text(row, 0));
      std::string table(targets.text(row, 1));
      if (targets.text(row, 2) != "t") {
        throw feed_error("feed " + feed.name + ": target table " + table +
                         " does not exist (create it in the feed's SQL, then `sluice migrate`)");
      }
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
    if (feed.format == "csv" && (feed.targets.size() != 1 || feed.routes.size() != 1)) {
      throw feed_error("feed " + feed.name + ": a csv feed has exactly one target (one row in"
                       " sluice.feed_targets, route_value '')");
    }

    for (auto& target : feed.targets) {
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
          " c.timestamp_formats::text, c.time_zone, c.column_name is not null"
          " from pg_attribute a"
          " left join sluice.feed_columns c"
          "   on c.feed = $1 and c.target_table = $2 and c.column_name = a.attname"
          " where a.attrelid = $2::regclass and a.attnum > 0 and not a.attisdropped"
          " order by a.attnum",
          {feed.name, target.table});
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
          std::string where = "feed " + feed.name + ": column " + target.table + "." + column.name;
          bool csv = feed.format == "csv";
          if (!columns.is_null(row, 3)) {
            if (csv) {
              throw feed_error(where + " has a json_pointer, but the feed is csv: map it with csv_header (or"
                               " csv_position)");
            }
            column.json_pointer = columns.text(row, 3);
            if (!column.json_pointer.empty() && column.json_pointer.front() != '/') {
              throw feed_error(where + " has json_pointer '" + column.json_pointer +
                               "', which is not a JSON pointer (it must start with /)");
            }
          } else if (!csv) {
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
          // Value formats: the feed's, with this column's overrides.
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
          column.formats = overridden ? std::make_shared<const value_formats>(std::move(formats)) : defaults;
          if (column.type == column_type::date && column.formats->date_formats.empty()) {
            throw feed_error(where + " is a date column but date_formats is empty: list at least one format,"
                             " e.g. {YYYY-MM-DD}");
          }
        }
        if (!column_list.empty()) column_list += ", ";
        column_list += conn.quote_qualified(column.name);
        target.columns.push_back(std::move(column));
      }
      auto mapped = conn.exec_params(
          "select column_name from sluice.feed_columns c where feed = $1 and target_table = $2"
          " and not exists (select 1 from pg_attribute a where a.attrelid = $2::regclass"
          "                  and a.attname = c.column_name and a.attnum > 0 and not a.attisdropped)",
          {feed.name, target.table});
      if (mapped.rows() > 0) {
        throw feed_error("feed " + feed.name + ": sluice.feed_columns maps " +
                         std::string(mapped.text(0, 0)) + ", which is not a column of " +
                         target.table);
      }
      target.copy_statement = "copy " + conn.quote_qualified(target.table) + " (" + column_list +
                              ") from stdin (format binary)";
    }
  }
  return feeds;
}

const feed_plan* match_feed(const std::vector<feed_plan>& feeds, std::string_view relative_path) {
  std::string path(relative_path);
  for (const auto& feed : feeds) {
    for (const auto& glob : feed.globs) {
      if (::fnmatch(glob.c_str(), path.c_str(), 0) == 0) return &feed;
    }
  }
  return nullptr;
}

}  // namespace sluice::loader

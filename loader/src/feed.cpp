#include "sluice/loader/feed.h"

#include "sluice/warehouse/log.h"

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
      {"text", column_type::text},
      {"character varying", column_type::text},
      {"character", column_type::text},
      {"json", column_type::json},
      {"jsonb", column_type::jsonb},
      {"date", column_type::date},
      {"timestamp without time zone", column_type::timestamp},
      {"timestamp with time zone", column_type::timestamptz},
  };
  auto it = known.find(name);
  if (it == known.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> parse_text_array(std::string_view literal) {
  // The text form of a text[] whose elements are globs: {a,b} or {"a b",c}.
  std::vector<std::string> out;
  if (literal.size() < 2) return out;
  literal = literal.substr(1, literal.size() - 2);
  std::string current;
  bool quoted = false;
  for (std::size_t i = 0; i < literal.size(); ++i) {
    char c = literal[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (c == '\\' && quoted && i + 1 < literal.size()) {
      current += literal[++i];
    } else if (c == ',' && !quoted) {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!literal.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

framing feed_plan::framing_for(std::string_view head) const {
  if (format == "ndjson") return framing::ndjson;
  if (format == "json") return framing::json;
  return detect_framing(head);
}

std::vector<feed_plan> load_feeds(warehouse::connection& conn) {
  std::vector<feed_plan> feeds;
  auto rows = conn.exec(
      "select name, file_globs::text, format, route_pointer from sluice.feeds"
      " where enabled order by name");
  for (int row = 0; row < rows.rows(); ++row) {
    feed_plan feed;
    feed.name = rows.text(row, 0);
    feed.globs = parse_text_array(rows.text(row, 1));
    feed.format = rows.text(row, 2);
    if (feed.format == "csv") {
      // Declared by the sales pack ahead of the CSV reader: its files are
      // left alone (said once here) rather than misread as JSON.
      static bool said = false;
      if (!said) {
        warehouse::named_logger("loader")->warn(
            "feed {}: format csv is not read by this build of sluice yet; its files are left alone", feed.name);
        said = true;
      }
      continue;
    }
    feed.route_pointer = rows.optional_text(row, 3);
    if (feed.route_pointer && !feed.route_pointer->empty() && feed.route_pointer->front() != '/') {
      throw feed_error("feed " + feed.name + ": route_pointer '" + *feed.route_pointer +
                       "' is not a JSON pointer (it must start with /)");
    }
    feeds.push_back(std::move(feed));
  }

  for (auto& feed : feeds) {
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

    for (auto& target : feed.targets) {
      auto columns = conn.exec_params(
          "select a.attname, format_type(a.atttypid, null), a.attnotnull, c.json_pointer,"
          " format_type(a.atttypid, a.atttypmod),"
          " case when a.atttypid in ('varchar'::regtype, 'bpchar'::regtype) and a.atttypmod > 4"
          "      then a.atttypmod - 4 else 0 end"
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
        } else if (columns.is_null(row, 3)) {
          continue;  // unmapped: the column's default applies
        } else {
          column.json_pointer = columns.text(row, 3);
          if (!column.json_pointer.empty() && column.json_pointer.front() != '/') {
            throw feed_error("feed " + feed.name + ": column " + target.table + "." + column.name +
                             " has json_pointer '" + column.json_pointer +
                             "', which is not a JSON pointer (it must start with /)");
          }
          auto type = type_from_catalog(column.type_name);
          if (!type) {
            throw feed_error("feed " + feed.name + ": column " + target.table + "." + column.name +
                             " has type " + column.type_name +
                             ", which sluice cannot load; use one of boolean, smallint, integer,"
                             " bigint, real, double precision, text, varchar, json, jsonb, date,"
                             " timestamp, timestamptz");
          }
          column.type = *type;
          column.max_chars = static_cast<std::size_t>(columns.int64(row, 5));
          column.type_name = columns.text(row, 4);
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

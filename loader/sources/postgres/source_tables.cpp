#include "loader/sources/postgres/source_tables.h"

#include <algorithm>
#include <set>

#include "loader/log.h"
#include "loader/sources/postgres/replication.h"
#include "loader/sources/postgres/replicator.h"
#include "warehouse/log.h"
#include "warehouse/source_ledger.h"

namespace sluice::loader {

namespace {

namespace pg = sluice::loader::pgoutput;


}  // namespace

using warehouse::connection;


std::string quote(const std::string& identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string warehouse_name(const std::string& source, const std::string& schema, const std::string& table) {
  return schema == "public" ? source + "_" + table : source + "_" + schema + "_" + table;
}

// An identifier as PostgreSQL keeps it: cut to NAMEDATALEN - 1 = 63 bytes,
// at a character boundary (a UTF-8 continuation byte is never kept alone).
std::string as_postgres_keeps(const std::string& identifier) {
  constexpr std::size_t most = 63;
  if (identifier.size() <= most) return identifier;
  std::size_t cut = most;
  while (cut > 0 && (static_cast<unsigned char>(identifier[cut]) & 0xc0) == 0x80) --cut;
  return identifier.substr(0, cut);
}


// Throws source_stopped when two of `tables` would land in the same
// warehouse tables: S_<schema>_T and S_T of public meet (s.t and public.s_t),
// and PostgreSQL cuts names past 63 bytes, so two long names that differ
// only past that are one table. Refused rather than renamed: the warehouse's
// names follow one rule people, packs and dashboards rely on, and a way out
// is one statement on the source. The mirror's function (S_T_apply, written
// by sluice.keep_mirror) is checked too: shared, one table's trigger would
// apply the other's changes.
void refuse_shared_names(const std::string& source, const std::string& publication,
                         const std::vector<source_table>& tables) {
  std::map<std::string, const source_table*> owner;
  for (const auto& t : tables) {
    auto base = warehouse_name(source, t.schema, t.name);
    auto tables_name = as_postgres_keeps(base);
    auto function_name = as_postgres_keeps(base + "_apply");
    for (const auto& kept : {"the warehouse tables staging." + tables_name + " and core." + tables_name,
                             "the mirror function core." + function_name}) {
      auto [there, fresh] = owner.emplace(kept, &t);
      if (fresh || there->second->qualified() == t.qualified()) continue;
      const auto& first = *there->second;
      throw source_stopped(
          "source " + source + ": tables " + first.qualified() + " and " + t.qualified() + " of publication " +
          publication + " would share " + kept + " (a table's name there is " + source + "_<schema>_<table>, " +
          source + "_<table> for public, cut by PostgreSQL to 63 bytes), one overwriting the other's rows; the"
          " source stops before they mix. Rename one of them on the source, or leave one out of the publication (alter"
          " publication " + publication + " drop table " + t.qualified() +
          "), then set state = 'new', last_error = null in sluice.sources to copy the source afresh");
    }
  }
}

// The tables of `publication` on the source, in order of schema and name.
std::vector<source_table> published_tables(connection& src, const std::string& publication) {
  auto r = src.exec_params(
      "select schemaname, tablename from pg_publication_tables where pubname = $1 order by 1, 2", {publication});
  std::vector<source_table> out;
  for (int row = 0; row < r.rows(); ++row) out.push_back({std::string(r.text(row, 0)), std::string(r.text(row, 1))});
  return out;
}

// A table's columns in the warehouse, in order, with their types as
// format_type() spells them; empty when the table does not exist.
std::vector<std::pair<std::string, std::string>> warehouse_columns(connection& wh, const std::string& table) {
  auto r = wh.exec_params(
      "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a"
      " where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped order by a.attnum",
      {table});
  std::vector<std::pair<std::string, std::string>> out;
  for (int row = 0; row < r.rows(); ++row) out.emplace_back(std::string(r.text(row, 0)), std::string(r.text(row, 1)));
  return out;
}

namespace {

// Checks that `table` has the columns `wanted`, in order. Columns missing at
// the end (added on the source) are added when `add_from` says they may be
// (their index is at least add_from), existing rows getting the value in
// `defaults` (by column name) if any; anything else stops the source with a
// message naming the column. Returns the ALTERs to run. In a change log
// (`also` names its mirror), the _old_<key> columns are checked by name, not
// place: a key the source's table gained later adds its column at the end.
std::string check_columns(connection& wh, const std::string& source, const std::string& table,
                          std::vector<std::pair<std::string, std::string>> wanted, std::size_t add_from,
                          const std::string& from, const std::string& also = "",
                          const std::map<std::string, std::string>& defaults = {}) {
  const auto all_have = warehouse_columns(wh, table);
  auto have = all_have;
  std::vector<std::pair<std::string, std::string>> wanted_old;
  if (add_from > 0) {
    auto is_old = [](const auto& c) { return c.first.rfind("_old_", 0) == 0; };
    for (std::size_t i = 0; i < add_from; ++i) {
      if (is_old(wanted[i])) wanted_old.push_back(wanted[i]);
    }
    add_from -= wanted_old.size();
    wanted.erase(std::remove_if(wanted.begin(), wanted.end(), is_old), wanted.end());
    have.erase(std::remove_if(have.begin(), have.end(), is_old), have.end());
  }
  auto stop = [&](const std::string& what) {
    throw sluice::loader::replication_error(
        "source " + source + ": " + table + " does not have the shape replication needs: " + what +
        ". Make it match (a pack that creates it must use the replicator's shape: _op, _lsn, _seq, _commit_at,"
        " _unchanged, _old_<key> per key column, then the source table's columns in order); sluice retries and"
        " resumes from its applied LSN");
  };
  // A column dropped or retyped (on the source, or in the warehouse), said
  // in a person's words with the statements that fix it, for this table and
  // `also` (the mirror, checked after the change log). sluice does not change
  // the warehouse's tables itself: they hold the column's history.
  auto changed = [&](const std::string& column, const std::string& what, const std::string& fix,
                     const std::string& also_fix) {
    std::string statements = "alter table " + table + " " + fix;
    if (!also.empty()) statements += "; alter table " + also + " " + also_fix;
    throw sluice::loader::replication_error("source " + source + ": column " + column + " of " + from + " " + what +
                                     "; make the warehouse's tables match (" + statements +
                                     "): sluice retries and resumes from its applied LSN once they do");
  };
  auto named = [](const std::vector<std::pair<std::string, std::string>>& columns, const std::string& name) {
    return std::find_if(columns.begin(), columns.end(), [&](const auto& c) { return c.first == name; });
  };
  for (std::size_t i = add_from; i < have.size(); ++i) {  // the source's own columns
    const auto& [name, type] = have[i];
    auto there = named(wanted, name);
    if (there == wanted.end()) {
      auto fix = "drop column " + quote(name);
      changed(name, "is no longer on the source (dropped there?) but " + table + " has it", fix, fix);
    } else if (there->second != type) {
      auto fix = "alter column " + quote(name) + " type " + there->second;
      // A key column's old value (_old_<key>) has its type too.
      auto old_key = named(all_have, "_old_" + name) != all_have.end()
                         ? ", alter column " + quote("_old_" + name) + " type " + there->second
                         : std::string();
      changed(name, "is " + there->second + " on the source but " + type + " in " + table + " (retyped?)",
              fix + old_key, fix);
    }
  }
  for (std::size_t i = 0; i < have.size() && i < wanted.size(); ++i) {
    if (have[i] != wanted[i]) {
      stop("column " + std::to_string(i + 1) + " is " + have[i].first + " " + have[i].second + ", expected " +
           wanted[i].first + " " + wanted[i].second);
    }
  }
  if (have.size() > wanted.size()) stop("it has a column the source lacks: " + have[wanted.size()].first);
  std::string alters;
  for (const auto& [name, type] : wanted_old) {
    auto there = named(all_have, name);
    if (there == all_have.end()) {
      alters += "alter table " + table + " add column " + quote(name) + " " + type + ";\n";
      alters += "comment on column " + table + "." + quote(name) + " is " +
                literal("The old value of key column " + name.substr(5) +
                        " when an update changed the key (from when the source's table gained its key).") +
                ";\n";
    } else if (there->second != type) {
      stop("column " + name + " is " + there->second + ", expected " + type);
    }
  }
  for (std::size_t i = have.size(); i < wanted.size(); ++i) {
    if (i < add_from) stop("column " + wanted[i].first + " " + wanted[i].second + " is missing");
    const auto& [name, type] = wanted[i];
    auto value = defaults.find(name);
    if (value == defaults.end()) {
      alters += "alter table " + table + " add column " + quote(name) + " " + type + ";\n";
    } else {
      // The value the source's rows from before have: a default that stores
      // it for existing rows without rewriting the table, then dropped.
      alters += "alter table " + table + " add column " + quote(name) + " " + type + " default " +
                literal(value->second) + "::" + type + ";\n";
      alters += "alter table " + table + " alter column " + quote(name) + " drop default;\n";
    }
    alters += "comment on column " + table + "." + quote(name) + " is " +
              literal("Column " + name + " of " + from +
                      (value == defaults.end()
                           ? " (added on the source later: NULL in changes and rows from before)."
                           : " (added on the source later; rows from before hold the value its ADD COLUMN gave them).")) +
              ";\n";
  }
  return alters;
}

}  // namespace

namespace {

// The key columns of t, as the warehouse's tables say them (when they
// exist): a Relation message flags the replica identity's columns instead
// (under REPLICA IDENTITY FULL every one; on_relation then asks the source
// for its primary key). Except for a mirror without a key whose table has
// one on the source now (a primary key added since, or an identity index):
// that key is taken, and true returned (the mirror is to be keyed from now
// on).
bool read_keys(connection& wh, table_info& t) {
  bool mirror = wh.exec("select to_regclass(" + literal(t.core) + ") is not null").text(0, 0) == "t";
  bool known = mirror || wh.exec("select to_regclass(" + literal(t.staging) + ") is not null").text(0, 0) == "t";
  if (!known) return false;
  // The mirror's primary key, else (a change log a pack made) the change
  // log's _old_<column> columns.
  auto key = mirror ? wh.exec("select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid"
                              " and a.attnum = any(i.indkey) where i.indrelid = to_regclass(" + literal(t.core) +
                              ") and i.indisprimary")
                    : wh.exec("select substr(attname, 6) from pg_attribute where attrelid = to_regclass(" +
                              literal(t.staging) + ") and attname like '\\_old\\_%' and attnum > 0 and not attisdropped");
  bool announced_key = (t.identity == 'd' || t.identity == 'i' || t.identity == 'f') &&
                       std::any_of(t.columns.begin(), t.columns.end(), [](const auto& c) { return c.key; });
  if (mirror && key.rows() == 0 && announced_key) return true;
  for (auto& c : t.columns) {
    c.key = false;
    for (int row = 0; row < key.rows(); ++row) c.key = c.key || key.text(row, 0) == c.name;
  }
  return false;
}

// "Column c of from.", saying the source's type when the warehouse keeps
// another.
std::string column_comment(const column_info& c, const std::string& from) {
  auto named = c.source_name.empty() ? "Column " + c.name + " of " + from
                                     : "Column " + c.source_name + " of " + from + ", called " + c.name +
                                           " here (" + c.source_name + " is a column of sluice's own)";
  if (c.source_type.empty()) return named + ".";
  return named + " (of type " + c.source_type + " there, kept as " + c.type + ").";
}

// The change log of t (`columns`: its _old_<key> and source columns, as
// "name type" after a comma each), with its comments.
std::string change_log_ddl(const table_info& t, const std::string& from, const std::string& columns) {
  std::string ddl;
  ddl += "create table " + t.staging + " (_op text not null, _lsn pg_lsn not null, _seq integer not null,"
         " _commit_at timestamptz, _unchanged text" + columns + ");\n";
  ddl += "comment on table " + t.staging + " is " +
         literal("Change log of " + from + " (sluice.sources): every change a row, in commit order (_lsn, _seq).") + ";\n";
  ddl += "select sluice.comment_change_log_op(" + literal(t.staging) + "::regclass);\n";
  ddl += "comment on column " + t.staging + "._lsn is 'Commit LSN of the source transaction (the copy''s consistent point for s and r).';\n";
  ddl += "comment on column " + t.staging + "._seq is 'Order of the change within its transaction (0 for the snapshot).';\n";
  ddl += "comment on column " + t.staging + "._commit_at is 'When the source transaction committed.';\n";
  ddl += "comment on column " + t.staging + "._unchanged is 'Comma-separated columns an update did not send because their (TOASTed) value did not change; they are NULL here and keep their value in the mirror.';\n";
  for (const auto& c : t.columns) {
    ddl += "comment on column " + t.staging + "." + quote(c.name) + " is " + literal(column_comment(c, from)) + ";\n";
    if (c.key) {
      ddl += "comment on column " + t.staging + "." + quote("_old_" + c.name) + " is " +
             literal("The old value of key column " + c.name + " when an update changed the key.") + ";\n";
    }
  }
  return ddl;
}

// The mirror of t (`columns`: "name type", comma-separated; `keys`: its key
// columns), with its comments.
std::string mirror_ddl(const table_info& t, const std::string& from, const std::string& columns,
                       const std::string& keys) {
  std::string ddl;
  ddl += "create table " + t.core + " (" + columns + (t.has_key ? ", primary key (" + keys + ")" : "") + ");\n";
  ddl += "comment on table " + t.core + " is " +
         literal(t.has_key ? "Mirror of " + from + ": equal to the source table once caught up (kept from " + t.staging + ")."
                           : "Mirror of " + from + ", which has no primary key (kept from " + t.staging +
                                 "): append-only, unless its replica identity is FULL (then an update or delete"
                                 " changes one row equal to its whole old row).") +
         ";\n";
  for (const auto& c : t.columns) {
    ddl += "comment on column " + t.core + "." + quote(c.name) + " is " + literal(column_comment(c, from)) + ";\n";
  }
  return ddl;
}

}  // namespace

// Makes sure staging.S_T, core.S_T, the function that keeps the mirror and its
// trigger exist, piece by piece: a pack may create the change log itself (so
// that its own triggers are there before the first change), and the rest is
// added here. Existing tables must have the expected columns (missing
// trailing source columns are added); the function is rewritten (by
// sluice.keep_mirror) when its body is not the one for the mirror's columns.
void ensure_tables(connection& wh, const std::string& source, table_info& t) {
  auto base = warehouse_name(source, t.schema, t.name);
  t.staging = "staging." + quote(base);
  t.staging_name = "staging." + base;
  t.core = "core." + quote(base);
  bool key_added = read_keys(wh, t);
  t.has_key = false;
  std::string cols;
  std::string old_keys;
  std::string keys;
  std::string core_cols;
  std::string copy_cols = "_op, _lsn, _seq, _commit_at, _unchanged";
  std::vector<std::pair<std::string, std::string>> staging_shape = {
      {"_op", "text"}, {"_lsn", "pg_lsn"}, {"_seq", "integer"}, {"_commit_at", "timestamp with time zone"},
      {"_unchanged", "text"}};
  std::vector<std::pair<std::string, std::string>> core_shape;
  for (const auto& c : t.columns) {
    cols += ", " + quote(c.name) + " " + c.type;
    core_cols += std::string(core_cols.empty() ? "" : ", ") + quote(c.name) + " " + c.type;
    core_shape.emplace_back(c.name, c.type);
    if (c.key) {
      t.has_key = true;
      old_keys += ", " + quote("_old_" + c.name) + " " + c.type;
      keys += std::string(keys.empty() ? "" : ", ") + quote(c.name);
      copy_cols += ", " + quote("_old_" + c.name);
      staging_shape.emplace_back("_old_" + c.name, c.type);
    }
  }
  const auto source_columns_from = staging_shape.size();
  for (const auto& c : t.columns) {
    copy_cols += ", " + quote(c.name);
    staging_shape.emplace_back(c.name, c.type);
  }
  t.copy_statement = "copy " + t.staging + " (" + copy_cols + ") from stdin (format binary)";

  std::string from = t.schema + "." + t.name + " on source " + source;
  std::string ddl;
  std::vector<std::string> made;
  bool mirror_exists = wh.exec("select to_regclass(" + literal(t.core) + ") is not null").text(0, 0) == "t";
  if (wh.exec("select to_regclass(" + literal(t.staging) + ") is not null").text(0, 0) == "t") {
    ddl += check_columns(wh, source, t.staging, staging_shape, source_columns_from, from, mirror_exists ? t.core : "");
  } else {
    made.push_back(t.staging);
    ddl += change_log_ddl(t, from, old_keys + cols);
  }
  if (mirror_exists) {
    ddl += check_columns(wh, source, t.core, core_shape, 0, from, "", t.added_defaults);
    if (key_added) {
      // Its rows are the source's (without a key, the source refused to
      // replicate updates and deletes), so they take the key as they are.
      ddl += "alter table " + t.core + " add primary key (" + keys + ");\n";
      ddl += "comment on table " + t.core + " is " +
             literal("Mirror of " + from + ": equal to the source table once caught up (kept from " + t.staging +
                     "; append-only until the source's table gained its key).") +
             ";\n";
    }
  } else {
    made.push_back(t.core);
    ddl += mirror_ddl(t, from, core_cols, keys);
  }

  // The mirror's trigger function, written for its columns now, and the
  // trigger: sluice.keep_mirror (sql/sluice/0015_mirror_trigger.sql).
  warehouse::transaction tx(wh);
  try {
    if (!ddl.empty()) wh.exec(ddl);
  } catch (const warehouse::db_error& e) {
    if (!key_added || e.is_retryable()) throw;
    throw source_stopped("source " + source + ": " + from + " gained a key on the source, which its mirror " + t.core +
                         " cannot take (" + e.what() + "): its rows are not the source's. Set state = 'new',"
                         " last_error = null in sluice.sources to copy the source afresh");
  }
  auto kept = wh.exec_params("select unnest(sluice.keep_mirror($1::regclass, $2::regclass))", {t.staging, t.core});
  for (int row = 0; row < kept.rows(); ++row) made.emplace_back(kept.text(row, 0));
  warehouse::register_source_table(wh, source, t.schema + "." + t.name, t.staging, t.core);
  tx.commit();
  if (ddl.empty() && made.empty()) return;
  std::string list;
  for (const auto& m : made) list += (list.empty() ? "" : ", ") + m;
  postgres_log()->info("source {}: {}.{}: {}", source, t.schema, t.name,
                       list.empty() ? std::string("added the columns new on the source") : "created or updated " + list);
}

// What the source's existing rows hold for `added` columns of the table
// `oid` (columns the mirror lacks): PostgreSQL keeps a non-volatile ADD COLUMN
// default as the column's "missing value" instead of rewriting the table, and
// no change is streamed for those rows, so the mirror's rows from before must
// be given it. Read from the source's catalog now (a column dropped since has
// none). A column with a default but no missing value (a volatile default
// rewrote the table) cannot be told: warned, its rows from before stay NULL.
std::map<std::string, std::string> added_defaults(const std::string& conninfo, const std::string& source,
                                                  const std::string& table, std::uint32_t oid,
                                                  const std::set<std::string>& added) {
  std::map<std::string, std::string> out;
  connection src(conninfo);
  auto r = src.exec_params(
      "select attname, (attmissingval::text::text[])[1], atthasdef from pg_attribute"
      " where attrelid = $1::oid and attnum > 0 and not attisdropped",
      {std::to_string(oid)});
  for (int row = 0; row < r.rows(); ++row) {
    auto name = warehouse_column_name(std::string(r.text(row, 0)));
    if (added.count(name) == 0) continue;
    if (!r.is_null(row, 1)) {
      out.emplace(name, std::string(r.text(row, 1)));
    } else if (r.text(row, 2) == "t") {
      postgres_log()->warn("source {}: column {} of {} was added with a default the source's catalog no longer holds for the"
                           " rows from before (a volatile default rewrote the table); the mirror has NULL there until a row"
                           " changes (set state = 'new' in sluice.sources to copy the table afresh)",
                           source, name, table);
    }
  }
  return out;
}

// A source table's columns in order, with their types as format_type()
// spells them and whether they are in its primary key, read in `src`'s
// snapshot; `oid` is the table's.
std::string warehouse_column_name(const std::string& source_name) {
  static const std::set<std::string> own = {"_op", "_lsn", "_seq", "_commit_at", "_unchanged"};
  if (own.count(source_name) || source_name.rfind("_old_", 0) == 0) return as_postgres_keeps("source" + source_name);
  return source_name;
}

void name_columns(std::vector<column_info>& columns, const std::string& from) {
  std::set<std::string> taken;
  for (auto& c : columns) {
    if (auto name = warehouse_column_name(c.name); name != c.name) {
      c.source_name = std::move(c.name);
      c.name = std::move(name);
    }
    if (taken.insert(c.name).second) continue;
    throw source_stopped("column " + (c.source_name.empty() ? c.name : c.source_name) + " of " + from + " would be " + c.name +
                         " in the warehouse (a column named as one of sluice's own, _op, _lsn, _seq, _commit_at,"
                         " _unchanged or _old_*, is called source<name> there), which the table has already; the"
                         " source stops before they mix. Rename one of them on the source, then set state = 'new',"
                         " last_error = null in sluice.sources to copy the source afresh");
  }
}

std::vector<column_info> source_columns(connection& src, const std::string& oid, const std::string& from) {
  // Generated columns are left out: pgoutput does not send them (PostgreSQL
  // 15), and what they hold follows from the others.
  auto cols = src.exec_params(
      "select a.attname, format_type(a.atttypid, a.atttypmod),"
      " coalesce(a.attnum = any(i.indkey), false), a.atttypid, a.atttypmod"
      " from pg_attribute a left join pg_index i on i.indrelid = a.attrelid and i.indisprimary"
      " where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''"
      " order by a.attnum",
      {oid});
  std::vector<column_info> out;
  for (int c = 0; c < cols.rows(); ++c) {
    auto type_oid = static_cast<std::uint32_t>(cols.int64(c, 3));
    column_info column{std::string(cols.text(c, 0)), std::string(cols.text(c, 1)), cols.text(c, 2) == "t", {}, 0, {}};
    if (type_oid >= first_user_oid) {
      auto kept = warehouse_type(src, type_oid, static_cast<int>(cols.int64(c, 4)));
      column.type = kept.type;
      column.source_type = kept.source_type;
      column.element_oid = kept.element_oid;
    }
    out.push_back(std::move(column));
  }
  name_columns(out, from);
  return out;
}

std::optional<column_rename> find_rename(connection& wh, const std::string& conninfo, const std::string& source,
                                        const table_info& t, const std::vector<column_info>& announced) {
  auto mirror = warehouse_columns(wh, "core." + quote(warehouse_name(source, t.schema, t.name)));
  if (mirror.empty() || mirror.size() > announced.size()) return std::nullopt;
  std::optional<column_rename> found;
  for (std::size_t i = 0; i < mirror.size(); ++i) {
    if (mirror[i].first == announced[i].name) continue;
    if (found || mirror[i].second != announced[i].type) return std::nullopt;
    found = column_rename{mirror[i].first, announced[i].name,
                          announced[i].source_name.empty() ? announced[i].name : announced[i].source_name};
  }
  if (!found) return std::nullopt;
  for (const auto& m : mirror) {
    if (m.first == found->to) return std::nullopt;
  }
  for (const auto& a : announced) {
    if (a.name == found->from) return std::nullopt;
  }
  // A pack's triggers on the change log or mirror read columns by name: its
  // SQL must follow a rename, so the source holds as for any other change.
  auto base = warehouse_name(source, t.schema, t.name);
  auto triggers = wh.exec_params(
      "select count(*) from pg_trigger where tgrelid in (to_regclass($1), to_regclass($2)) and not tgisinternal"
      " and tgname <> 'apply_to_mirror'",
      {"staging." + quote(base), "core." + quote(base)});
  if (triggers.int64(0, 0) > 0) return std::nullopt;
  connection src(conninfo);
  auto renamed = src.exec_params(
      "select not exists (select 1 from pg_attribute d where d.attrelid = n.attrelid and d.attisdropped"
      "   and d.attnum < n.attnum and d.attnum > coalesce((select max(p.attnum) from pg_attribute p"
      "     where p.attrelid = n.attrelid and p.attnum > 0 and not p.attisdropped and p.attnum < n.attnum), 0))"
      " from pg_attribute n where n.attrelid = $1::oid and n.attname = $2 and not n.attisdropped",
      {std::to_string(t.oid), found->source_to});
  if (renamed.rows() == 0 || renamed.text(0, 0) != "t") return std::nullopt;
  return found;
}

void rename_column(connection& wh, const std::string& source, const table_info& t, const column_rename& rename) {
  auto base = warehouse_name(source, t.schema, t.name);
  auto staging = "staging." + quote(base);
  auto core = "core." + quote(base);
  std::string from = t.schema + "." + t.name + " on source " + source;
  auto comment = literal("Column " + rename.to + " of " + from + " (" + rename.from + " before it was renamed there).");
  std::string ddl;
  for (const auto& table : {staging, core}) {
    ddl += "alter table " + table + " rename column " + quote(rename.from) + " to " + quote(rename.to) + ";\n";
    ddl += "comment on column " + table + "." + quote(rename.to) + " is " + comment + ";\n";
  }
  auto old_column = warehouse_columns(wh, staging);
  if (std::any_of(old_column.begin(), old_column.end(), [&](const auto& c) { return c.first == "_old_" + rename.from; })) {
    ddl += "alter table " + staging + " rename column " + quote("_old_" + rename.from) + " to " +
           quote("_old_" + rename.to) + ";\n";
  }
  warehouse::transaction tx(wh);
  wh.exec(ddl);
  wh.exec_params("select sluice.keep_mirror($1::regclass, $2::regclass)", {staging, core});
  tx.commit();
  postgres_log()->info("source {}: column {} of {}.{} was renamed {} there: renamed in {} and {}", source,
                       rename.from, t.schema, t.name, rename.to, staging, core);
}

column_info warehouse_type(connection& src, std::uint32_t type_oid, int typmod) {
  // The type through its domains (base), and for an array its element type
  // through its domains (element_base).
  auto r = src.exec_params(
      "with recursive d(oid, typmod, depth) as ("
      "   select $1::oid, $2::int, 0"
      "   union all select t.typbasetype, t.typtypmod, d.depth + 1 from d join pg_type t on t.oid = d.oid"
      "    where t.typtype = 'd'),"
      " base as (select oid, typmod from d order by depth desc limit 1),"
      " element as (select t.typelem as oid from base join pg_type t on t.oid = base.oid"
      "   where t.typcategory = 'A' and t.typelem <> 0 and t.typlen = -1),"
      " e(oid, depth) as ("
      "   select oid, 0 from element"
      "   union all select t.typbasetype, e.depth + 1 from e join pg_type t on t.oid = e.oid where t.typtype = 'd'),"
      " element_base as (select oid from e order by depth desc limit 1)"
      " select format_type($1::oid, $2::int),"
      "  (select format_type(oid, typmod) from base), (select typtype from pg_type where oid = (select oid from base)),"
      "  (select oid from base),"
      "  (select oid from element), (select oid from element_base),"
      "  (select typtype from pg_type where oid = (select oid from element_base)),"
      "  (select format_type(oid, null) from element_base)",
      {std::to_string(type_oid), std::to_string(typmod)});
  column_info out;
  std::string source_type(r.text(0, 0));
  out.type = source_type;
  if (!r.is_null(0, 4) && !r.is_null(0, 5)) {  // an array
    auto element = static_cast<std::uint32_t>(r.int64(0, 4));
    auto element_base = static_cast<std::uint32_t>(r.int64(0, 5));
    if (r.text(0, 6) == "e") {
      out.type = "text[]";
      out.element_oid = 25;  // text
    } else if (element_base < first_user_oid) {
      out.type = std::string(r.text(0, 7)) + "[]";
      if (element_base != element) out.element_oid = element_base;
    }
  } else if (!r.is_null(0, 1)) {
    if (r.text(0, 2) == "e") out.type = "text";
    else if (r.int64(0, 3) < first_user_oid) out.type = r.text(0, 1);
  }
  if (out.type != source_type) out.source_type = source_type;
  return out;
}

std::string select_list(const table_info& t) {
  std::string columns;
  for (const auto& c : t.columns) {
    columns += std::string(columns.empty() ? "" : ", ") + quote(c.source_name.empty() ? c.name : c.source_name);
    if (!c.source_type.empty()) columns += "::" + c.type;
  }
  return columns;
}

std::string column_list(const table_info& t) {
  std::string columns;
  for (const auto& c : t.columns) columns += std::string(columns.empty() ? "" : ", ") + quote(c.name);
  return columns;
}

}  // namespace sluice::loader

// The warehouse's tables for a replicated source: the change log staging.S_T
// and the mirror core.S_T of each published table T (S_<schema>_T outside
// public), made and kept in step with the source's columns (DDL), and the
// source catalog queries that say what a table is. Used by the snapshot and
// the stream (replicator.h says what each table holds).
//
// Threading: functions take the connection to use. Errors: db_error from the
// server; source_stopped (replicator.h) when the warehouse's tables cannot
// follow the source without a person (a column dropped or retyped, two source
// tables that would share warehouse tables), with what to do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "loader/sources/postgres/pgoutput.h"
#include "warehouse/connection.h"

namespace sluice::loader {

// The first oid of objects made after initdb (FirstNormalObjectId): a type
// with a lower one is built in, the same in the warehouse.
constexpr std::uint32_t first_user_oid = 16384;

struct column_info {
  std::string name;  // in the warehouse: the source's, unless that is sluice's own (see name_columns)
  std::string type;  // the warehouse's, as format_type() spells it
  bool key = false;
  // A source type the warehouse does not have (an enum, a domain, an array
  // of them) is kept as `type` (text, the domain's base type, text[] ...):
  // then the source's type (for comments; "" when it is `type`), and, for an
  // array whose elements change type, the warehouse element type's oid, which
  // a streamed array value's header must name (0: none to change).
  std::string source_type;
  std::uint32_t element_oid = 0;
  std::string source_name;  // on the source, when `name` is another ("" when it is the same)
};

// Names the columns (their names on the source in `name`) as the warehouse
// has them: a column named as a column of sluice's own in the change log
// (_op, _lsn, _seq, _commit_at, _unchanged, _old_*) is called source<name>
// there (_op is source_op), and keeps its own name in source_name. Throws
// source_stopped, naming `from`, when that makes two columns one.
void name_columns(std::vector<column_info>& columns, const std::string& from);
// The warehouse's name of one source column, as name_columns() gives it.
[[nodiscard]] std::string warehouse_column_name(const std::string& source_name);

// The warehouse type of a source column of type `type_oid` (and `typmod`),
// read from the source's catalog on `src`: built-in types as they are; an
// enum as text; a domain as its base type (through domains over domains,
// enums as text); an array of those as an array of that; other types by
// their name (the warehouse must have them: an extension's type).
[[nodiscard]] column_info warehouse_type(warehouse::connection& src, std::uint32_t type_oid, int typmod);

// A replicated table as the warehouse has it.
struct table_info {
  std::string schema;
  std::string name;
  std::vector<column_info> columns;
  std::string staging;  // staging."S_T"
  std::string staging_name;  // staging.S_T, as rejects name it
  std::string core;     // core."S_T"
  std::string copy_statement;
  bool has_key = false;
  // The columns of the latest Relation message, checked against the
  // warehouse's tables only when a change of the table is to be applied: after
  // a restart the source sends the old shape again for changes that were
  // applied already (and are skipped), though the tables have moved on.
  std::optional<std::vector<column_info>> announced;
  std::uint32_t oid = 0;  // on the source
  // The replica identity its latest Relation message said (d default, i
  // index, f full, n nothing); 0 when the columns' keys are the source's
  // primary key as its catalog says (the initial copy).
  char identity = 0;
  // Columns the mirror is about to gain, by name: the value the source's
  // existing rows have for each (see added_defaults).
  std::map<std::string, std::string> added_defaults;
  // For a table copied after the initial snapshot (added to the publication
  // since): the LSN its copy was taken at. Its streamed changes of
  // transactions that committed before are in the copy, and skipped.
  pgoutput::lsn copied_from = 0;
};

// An identifier quoted for SQL ("a""b").
[[nodiscard]] std::string quote(const std::string& identifier);

// A string literal for SQL ('it''s': standard_conforming_strings, PostgreSQL's default).
[[nodiscard]] std::string literal(const std::string& text);

// The name of source table schema.table's change log and mirror: S_T in
// public, S_<schema>_T elsewhere (before PostgreSQL cuts it to 63 bytes).
[[nodiscard]] std::string warehouse_name(const std::string& source, const std::string& schema, const std::string& table);

// An identifier as PostgreSQL keeps it: cut to NAMEDATALEN - 1 = 63 bytes,
// at a character boundary (a UTF-8 continuation byte is never kept alone).
[[nodiscard]] std::string as_postgres_keeps(const std::string& identifier);

// A source table, by schema and name.
struct source_table {
  std::string schema;
  std::string name;
  [[nodiscard]] std::string qualified() const { return schema + "." + name; }
};

// Throws source_stopped when two of `tables` would land in the same
// warehouse tables: S_<schema>_T and S_T of public meet (s.t and public.s_t),
// and PostgreSQL cuts names past 63 bytes, so two long names that differ
// only past that are one table. Refused rather than renamed: the warehouse's
// names follow one rule people, packs and dashboards rely on, and a way out
// is one statement on the source. The mirror's function (S_T_apply, written
// by sluice.keep_mirror) is checked too: shared, one table's trigger would
// apply the other's changes.
void refuse_shared_names(const std::string& source, const std::string& publication,
                         const std::vector<source_table>& tables);

// The tables of `publication` on the source, in order of schema and name.
[[nodiscard]] std::vector<source_table> published_tables(warehouse::connection& src, const std::string& publication);

// A table's columns in the warehouse, in order, with their types as
// format_type() spells them; empty when the table does not exist.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> warehouse_columns(warehouse::connection& wh, const std::string& table);

// Makes sure staging.S_T, core.S_T, the function that keeps the mirror
// (core.S_T_apply) and its trigger apply_to_mirror exist, piece by piece: a
// pack may create the change log itself (so that its own triggers are there
// before the first change), and the rest is added here. Existing tables must
// have the expected columns (missing trailing source columns are added); the
// function and trigger are sluice.keep_mirror's (sql/sluice), which rewrites
// the function when the mirror's columns changed.
void ensure_tables(warehouse::connection& wh, const std::string& source, table_info& t);

// A column renamed on the source: its name in the warehouse and now.
struct column_rename {
  std::string from;
  std::string to;
  std::string source_to;  // `to` as the source names it (name_columns)
};
// The rename, if any, that takes the mirror of t (core.S_T, as it is now) to
// `announced` (a Relation message's columns): one column whose name alone
// changed, at its place, to a name the mirror does not have. The source's
// catalog (`conninfo`, table `oid`) must confirm it: no dropped column between
// the one before it and it (a column dropped and another of the same type
// added at the end, in its place, is not a rename). Not for tables a pack
// hung triggers of its own on (its SQL names the column). nullopt otherwise
// (then ensure_tables says what does not match, as before).
[[nodiscard]] std::optional<column_rename> find_rename(warehouse::connection& wh, const std::string& conninfo,
                                                       const std::string& source, const table_info& t,
                                                       const std::vector<column_info>& announced);
// Renames the column in the change log (and its _old_ column), the mirror,
// and their comments, and rewrites the mirror's function, in one transaction.
void rename_column(warehouse::connection& wh, const std::string& source, const table_info& t,
                   const column_rename& rename);

// What the source's existing rows hold for `added` columns of the table
// `oid` (columns the mirror lacks): PostgreSQL keeps a non-volatile ADD COLUMN
// default as the column's "missing value" instead of rewriting the table, and
// no change is streamed for those rows, so the mirror's rows from before must
// be given it. Read from the source's catalog now (a column dropped since has
// none). A column with a default but no missing value (a volatile default
// rewrote the table) cannot be told: warned, its rows from before stay NULL.
[[nodiscard]] std::map<std::string, std::string> added_defaults(const std::string& conninfo, const std::string& source,
                                                  const std::string& table, std::uint32_t oid,
                                                  const std::set<std::string>& added);

// A source table's columns in order, with their types as format_type()
// spells them and whether they are in its primary key, read in `src`'s
// snapshot; `oid` is the table's, `from` its name in messages. Named as
// name_columns() says.
[[nodiscard]] std::vector<column_info> source_columns(warehouse::connection& src, const std::string& oid,
                                                      const std::string& from);

// The table's columns, quoted, comma-separated.
[[nodiscard]] std::string column_list(const table_info& t);
// The columns to select from the source table for them: column_list(t), each
// kept as another type cast to it (so that binary COPY sends its form).
[[nodiscard]] std::string select_list(const table_info& t);

}  // namespace sluice::loader

#include "warehouse/source_ledger.h"

#include <charconv>
#include <map>

namespace sluice::warehouse {

namespace {

std::string lsn_text(std::uint64_t lsn) {
  char out[32];
  auto* at = std::to_chars(out, out + sizeof out, static_cast<std::uint32_t>(lsn >> 32), 16).ptr;
  *at++ = '/';
  at = std::to_chars(at, out + sizeof out, static_cast<std::uint32_t>(lsn), 16).ptr;
  return {out, at};
}

// pg_lsn as text is "X/Y" (hex); as a number it is what we compare.
std::uint64_t lsn_value(std::string_view text) {
  auto slash = text.find('/');
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  if (slash == std::string_view::npos ||
      std::from_chars(text.data(), text.data() + slash, high, 16).ec != std::errc() ||
      std::from_chars(text.data() + slash + 1, text.data() + text.size(), low, 16).ec != std::errc()) {
    throw db_error(error_kind::internal, "", "not an LSN: '" + std::string(text) + "'");
  }
  return (static_cast<std::uint64_t>(high) << 32) | low;
}

// A text[] literal whose "NULL" elements are SQL NULLs.
std::string null_array(std::span<const std::string> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += values[i] == "NULL" ? values[i] : '"' + values[i] + '"';
  }
  return out + "}";
}

source_position position_of(const result& r, int row, int first_column) {
  source_position out;
  out.applied_lsn = lsn_value(r.text(row, first_column));
  if (!r.is_null(row, first_column + 1)) out.applied_end_lsn = lsn_value(r.text(row, first_column + 1));
  if (!r.is_null(row, first_column + 2)) {
    out.partial_lsn = lsn_value(r.text(row, first_column + 2));
    out.partial_seq = static_cast<std::int32_t>(r.int64(row, first_column + 3));
  }
  return out;
}

constexpr const char* position_columns = "applied_lsn::text, applied_end_lsn::text, partial_lsn::text, partial_seq";

}  // namespace

std::vector<advance_outcome> advance_sources(connection& conn, std::span<const source_advance> advances) {
  std::vector<advance_outcome> out(advances.size(), advance_outcome::elsewhere);
  if (advances.empty()) return out;
  std::vector<std::string> names;
  for (const auto& a : advances) names.push_back(a.name);
  auto now = conn.exec_params(std::string("select name, ") + position_columns +
                                  " from sluice.sources where name = any($1::text[]) order by name for update",
                              {text_array(names)});
  std::map<std::string, source_position> at;
  for (int row = 0; row < now.rows(); ++row) at.emplace(now.text(row, 0), position_of(now, row, 1));
  std::vector<std::string> due_names;
  std::vector<std::string> due_lsns;
  std::vector<std::string> due_ends;
  std::vector<std::string> due_partial_lsns;
  std::vector<std::string> due_partial_seqs;
  std::vector<std::string> due_commit_times;
  for (std::size_t i = 0; i < advances.size(); ++i) {
    auto it = at.find(advances[i].name);
    if (it == at.end()) continue;
    const auto& to = advances[i].to;
    if (it->second.same_changes(advances[i].from)) {
      out[i] = advance_outcome::advanced;
      due_names.push_back(advances[i].name);
      due_lsns.push_back(lsn_text(to.applied_lsn));
      due_ends.push_back(to.applied_end_lsn == 0 ? "NULL" : lsn_text(to.applied_end_lsn));
      due_partial_lsns.push_back(to.partial_lsn == 0 ? "NULL" : lsn_text(to.partial_lsn));
      due_partial_seqs.push_back(to.partial_lsn == 0 ? "NULL" : std::to_string(to.partial_seq));
      due_commit_times.push_back(advances[i].commit_time == 0 ? "NULL" : std::to_string(advances[i].commit_time));
    } else if (it->second.same_changes(to)) {
      out[i] = advance_outcome::already_applied;
    }
  }
  if (!due_names.empty()) {
    // A batch that ends inside a transaction keeps the end of the last whole
    // one; and the end never moves back: a heartbeat (replicator.cpp) may have
    // confirmed the slot past it before this transaction's first changes came.
    conn.exec_params(
        "update sluice.sources s set applied_lsn = c.lsn, applied_end_lsn = greatest(c.end_lsn, s.applied_end_lsn),"
        " partial_lsn = c.partial_lsn, partial_seq = c.partial_seq, updated_at = now(),"
        " last_error = case when s.state = 'stopped' then s.last_error end,"
        " applied_commit_at = coalesce(timestamptz '2000-01-01 00:00:00+00' + c.commit_us * interval '1 microsecond',"
        " s.applied_commit_at)"
        " from unnest($1::text[], $2::pg_lsn[], $3::pg_lsn[], $4::pg_lsn[], $5::int[], $6::bigint[])"
        " as c(name, lsn, end_lsn, partial_lsn, partial_seq, commit_us) where s.name = c.name",
        {text_array(due_names), text_array(due_lsns), null_array(due_ends), null_array(due_partial_lsns),
         null_array(due_partial_seqs), null_array(due_commit_times)});
  }
  return out;
}

source_position stored_position(connection& conn, const std::string& name) {
  auto r = conn.exec_params(std::string("select ") + position_columns + " from sluice.sources where name = $1", {name});
  if (r.rows() == 0) throw db_error(error_kind::schema, "", "no source named '" + name + "' in sluice.sources");
  return position_of(r, 0, 0);
}

std::uint64_t applied_lsn(connection& conn, const std::string& name) { return stored_position(conn, name).applied_lsn; }

void stop_source(connection& conn, const std::string& name, const std::string& error) {
  conn.exec_params("update sluice.sources set state = 'stopped', last_error = $2, updated_at = now() where name = $1",
                   {name, error});
}

bool claim_source(connection& conn, const std::string& name) {
  // A 64-bit hash of the name (two names would share a lock only by a
  // 2^-64 chance; the files' claims use two-int keys, another lock space).
  return conn.exec_params("select pg_try_advisory_lock(hashtextextended('sluice.source:' || $1, 0))", {name})
             .text(0, 0) == "t";
}

void note_source_error(connection& conn, const std::string& name, const std::string& error) {
  conn.exec_params("update sluice.sources set last_error = $2, updated_at = now() where name = $1 and state <> 'stopped'",
                   {name, error});
}

void note_heartbeat(connection& conn, const std::string& name, std::uint64_t wal_end) {
  conn.exec_params("update sluice.sources set applied_end_lsn = $2::pg_lsn, updated_at = now(),"
                   " last_error = case when state = 'stopped' then last_error end"
                   " where name = $1 and applied_end_lsn < $2::pg_lsn",
                   {name, lsn_text(wal_end)});
}

void note_source_progress(connection& conn, const std::string& name, std::uint64_t wal_end, double lag_seconds) {
  conn.exec_params("update sluice.sources set wal_end = $2::pg_lsn, wal_end_at = now(), lag_seconds = $3::float8"
                   " where name = $1",
                   {name, lsn_text(wal_end), std::to_string(lag_seconds)});
}

void register_source_table(connection& conn, const std::string& source, const std::string& source_table,
                           const std::string& change_log, const std::string& mirror) {
  conn.exec_params("insert into sluice.source_tables (source, source_table, change_log, mirror)"
                   " values ($1, $2, $3, $4) on conflict (source, source_table) do update"
                   " set change_log = excluded.change_log, mirror = excluded.mirror",
                   {source, source_table, change_log, mirror});
}

std::optional<forgotten_source> forget_source(connection& conn, const std::string& name) {
  auto r = conn.exec_params("delete from sluice.sources where name = $1 returning conninfo, slot_name", {name});
  if (r.rows() == 0) return std::nullopt;
  forgotten_source out{std::string(r.text(0, 0)), std::nullopt};
  if (!r.is_null(0, 1)) out.slot = std::string(r.text(0, 1));
  return out;
}

std::optional<std::string> recorded_slot(connection& conn, const std::string& name) {
  auto r = conn.exec_params("select slot_name from sluice.sources where name = $1", {name});
  if (r.rows() == 0) throw db_error(error_kind::schema, "", "no source named '" + name + "' in sluice.sources");
  if (r.is_null(0, 0)) return std::nullopt;
  return std::string(r.text(0, 0));
}

std::string record_new_slot(connection& conn, const std::string& name) {
  // The warehouse's id: its database's oid within its cluster, and the
  // cluster's system identifier (chosen at initdb), hashed to 8 hex digits.
  auto r = conn.exec_params(
      "update sluice.sources set slot_name = 'sluice_' || name || '_' ||"
      " (select left(md5(c.system_identifier::text || '/' || d.oid::text), 8)"
      "  from pg_control_system() c, pg_database d where d.datname = current_database())"
      " where name = $1 returning slot_name",
      {name});
  if (r.rows() == 0) throw db_error(error_kind::schema, "", "no source named '" + name + "' in sluice.sources");
  return std::string(r.text(0, 0));
}

std::map<std::string, std::uint64_t> table_copies(connection& conn, const std::string& source) {
  auto r = conn.exec_params("select source_table, copied_lsn::text from sluice.source_copies where source = $1",
                            {source});
  std::map<std::string, std::uint64_t> out;
  for (int row = 0; row < r.rows(); ++row) {
    out.emplace(std::string(r.text(row, 0)), r.is_null(row, 1) ? 0 : lsn_value(r.text(row, 1)));
  }
  return out;
}

void note_copy_begun(connection& conn, const std::string& source, const std::string& table) {
  conn.exec_params("insert into sluice.source_copies (source, source_table) values ($1, $2)"
                   " on conflict (source, source_table) do update set copied_lsn = null, copied_at = null",
                   {source, table});
}

void record_copy(connection& conn, const std::string& source, const std::string& table, std::uint64_t lsn) {
  conn.exec_params("insert into sluice.source_copies (source, source_table, copied_lsn, copied_at)"
                   " values ($1, $2, $3::pg_lsn, now()) on conflict (source, source_table)"
                   " do update set copied_lsn = excluded.copied_lsn, copied_at = excluded.copied_at",
                   {source, table, lsn_text(lsn)});
}

void forget_copies(connection& conn, const std::string& source) {
  conn.exec_params("delete from sluice.source_copies where source = $1", {source});
}

bool keeps_every_change(connection& conn, const std::string& change_log) {
  return conn.exec_params("select exists (select 1 from sluice.change_retention r"
                          " where to_regclass(r.change_log) = $1::regclass and r.keep is null)",
                          {change_log}).text(0, 0) == "t";
}

void mark_copy(connection& conn, const std::string& change_log, std::uint64_t lsn, std::int64_t snapshot_at) {
  conn.exec_params("insert into " + change_log + " (_op, _lsn, _seq, _commit_at)"
                   " values ('s', $1::pg_lsn, 0, timestamptz '2000-01-01 00:00:00+00' + $2::bigint * interval '1 microsecond')",
                   {lsn_text(lsn), std::to_string(snapshot_at)});
}

}  // namespace sluice::warehouse

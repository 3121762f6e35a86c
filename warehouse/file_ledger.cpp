#include "warehouse/file_ledger.h"

#include <algorithm>
#include <map>

namespace sluice::warehouse {

namespace {

// The first key of the two-int advisory locks that claim sluice.files rows
// ("sluF"); the second is the row id.
constexpr std::string_view claim_class = "1936487750";

constexpr std::string_view row_columns =
    "id, feed, path, state, bytes_done, lines_done, records_done, done_hash, guard_hash,"
    " device, inode, size_seen, mtime_ns, content_size, content_hash, head_hash, lead_hash";
constexpr int row_width = 17;

std::string quoted_element(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// A PostgreSQL array literal of the values, each quoted (text) or not (numbers).
template <typename T, typename Fn>
std::string array_of(std::span<const T> items, Fn&& value, bool quote) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    auto v = value(items[i]);
    out += quote ? quoted_element(v) : v;
  }
  out += '}';
  return out;
}

std::string num(std::int64_t value) { return std::to_string(value); }

// A row read from `row_columns` starting at column `at`; nullopt when NULL (no match).
std::optional<file_row> row_at(const result& r, int row, int at) {
  if (r.is_null(row, at)) return std::nullopt;
  file_row out;
  out.id = r.int64(row, at);
  out.feed = r.text(row, at + 1);
  out.path = r.text(row, at + 2);
  out.state = r.text(row, at + 3);
  out.done.bytes = r.int64(row, at + 4);
  out.done.lines = r.int64(row, at + 5);
  out.done.records = r.int64(row, at + 6);
  out.done.hash = r.text(row, at + 7);
  out.done.guard_hash = r.text(row, at + 8);
  if (!r.is_null(row, at + 9) && !r.is_null(row, at + 12)) {
    out.seen = file_stat{r.int64(row, at + 9), r.int64(row, at + 10), r.int64(row, at + 11),
                         r.int64(row, at + 12)};
  }
  if (!r.is_null(row, at + 13)) out.content_size = r.int64(row, at + 13);
  out.content_hash = r.optional_text(row, at + 14);
  // Rows from before version 2 keep the hash of their first line there.
  if (out.seen) out.head_hash = r.text(row, at + 15);
  out.lead_hash = r.optional_text(row, at + 16);
  return out;
}

std::string prefixed(std::string_view alias) {
  std::string out;
  std::string_view rest = row_columns;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!out.empty()) out += ", ";
    out += std::string(alias) + "." + std::string(name);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

std::vector<file_matches> lookup_files(connection& conn, std::span<const file_sighting> files) {
  std::vector<file_matches> out(files.size());
  if (files.empty()) return out;
  auto feeds = array_of(files, [](const file_sighting& f) { return f.feed; }, true);
  auto paths = array_of(files, [](const file_sighting& f) { return f.path; }, true);
  auto devices = array_of(files, [](const file_sighting& f) { return num(f.stat.device); }, false);
  auto inodes = array_of(files, [](const file_sighting& f) { return num(f.stat.inode); }, false);
  auto sizes = array_of(files, [](const file_sighting& f) { return num(f.stat.size); }, false);
  auto checks = array_of(files, [](const file_sighting& f) { return std::string(f.check_size ? "t" : "f"); }, false);
  auto r = conn.exec_params(
      "select s.idx, " + prefixed("i") + ", " + prefixed("p") +
          ", s.check_size and exists (select 1 from sluice.files c where c.feed = s.feed"
          "          and c.content_size = s.size and c.state in ('loading', 'loaded'))"
          " from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bool[])"
          "      with ordinality as s(feed, path, device, inode, size, check_size, idx)"
          // The row of the file that holds the inode now: a live one before
          // a retired one, then the newest. Not the newest alone: a row
          // moved onto the inode (a log going on in its copytruncate copy)
          // can be older than the retired row of a file that had the inode
          // before (deleted, the inode reused by the copy).
          " left join lateral (select * from sluice.files f where f.device = s.device"
          "   and f.inode = s.inode and f.feed = s.feed"
          "   and f.state in ('loading', 'loaded', 'duplicate', 'replaced')"
          "   order by f.state = 'replaced', f.id desc limit 1) i on true"
          " left join lateral (select * from sluice.files f where f.path = s.path"
          "   and f.state in ('loading', 'loaded', 'duplicate') order by f.id desc limit 1) p on true"
          " order by s.idx",
      {feeds, paths, devices, inodes, sizes, checks});
  for (int row = 0; row < r.rows(); ++row) {
    auto idx = static_cast<std::size_t>(r.int64(row, 0) - 1);
    out[idx].by_inode = row_at(r, row, 1);
    out[idx].by_path = row_at(r, row, 1 + row_width);
    out[idx].size_known = r.text(row, 1 + 2 * row_width) == "t";
  }
  return out;
}

std::vector<content_match> lookup_contents(connection& conn, std::span<const content_key> keys) {
  std::vector<content_match> out(keys.size());
  if (keys.empty()) return out;
  auto feeds = array_of(keys, [](const content_key& k) { return k.feed; }, true);
  auto sizes = array_of(keys, [](const content_key& k) { return num(k.size); }, false);
  auto hashes = array_of(keys, [](const content_key& k) { return k.hash; }, true);
  auto r = conn.exec_params(
      // Each condition is an equality on the content index, so that a lookup
      // costs the same however many files of that size the ledger holds (an
      // OR, or an ORDER BY id, let the planner walk every one of them).
      "select s.idx, " + prefixed("l") + ", " + prefixed("p") +
          " from unnest($1::text[], $2::bigint[], $3::text[]) with ordinality as s(feed, size, hash, idx)"
          " left join lateral (select * from sluice.files f where f.feed = s.feed"
          "   and f.content_size = s.size and f.content_hash = s.hash and f.state = 'loaded'"
          "   limit 1) l on true"
          " left join lateral (select * from ("
          "   (select * from sluice.files c where c.feed = s.feed and c.content_size = s.size"
          "     and c.content_hash = s.hash and c.state = 'loading' limit 1)"
          "   union all"
          "   (select * from sluice.files c where c.feed = s.feed and c.content_size = s.size"
          "     and c.content_hash is null and c.state = 'loading' limit 1)) q limit 1) p on true"
          " order by s.idx",
      {feeds, sizes, hashes});
  for (int row = 0; row < r.rows(); ++row) {
    auto idx = static_cast<std::size_t>(r.int64(row, 0) - 1);
    out[idx].loaded = row_at(r, row, 1);
    out[idx].in_progress = row_at(r, row, 1 + row_width);
  }
  return out;
}

std::optional<file_row> find_by_inode(connection& conn, const file_stat& stat) {
  auto r = conn.exec_params("select " + std::string(row_columns) +
                                " from sluice.files where device = $1 and inode = $2"
                                " and state in ('loading', 'loaded', 'duplicate') order by id desc limit 1",
                            {num(stat.device), num(stat.inode)});
  if (r.rows() == 0) return std::nullopt;
  return row_at(r, 0, 0);
}

std::optional<file_row> find_row(connection& conn, std::int64_t id) {
  auto r = conn.exec_params("select " + std::string(row_columns) + " from sluice.files where id = $1", {num(id)});
  if (r.rows() == 0) return std::nullopt;
  return row_at(r, 0, 0);
}

void lock_identity(connection& conn) {
  conn.exec("select pg_advisory_xact_lock(" + std::string(claim_class) + ", 0)");
}

bool content_size_known(connection& conn, const std::string& feed, std::int64_t content_size) {
  auto r = conn.exec_params(
      "select exists (select 1 from sluice.files c where c.feed = $1 and c.content_size = $2"
      "   and c.state in ('loading', 'loaded'))",
      {feed, num(content_size)});
  return r.text(0, 0) == "t";
}

std::int64_t insert_loading(connection& conn, const file_sighting& file,
                            std::optional<std::int64_t> content_size,
                            const std::optional<std::string>& content_hash,
                            const std::optional<std::string>& lead_hash) {
  auto r = conn.exec_params(
      "insert into sluice.files (feed, path, device, inode, size_seen, mtime_ns, content_size,"
      " content_hash, lead_hash) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
      {file.feed, file.path, num(file.stat.device), num(file.stat.inode), num(file.stat.size),
       num(file.stat.mtime_ns), content_size ? param(num(*content_size)) : param(),
       content_hash ? param(*content_hash) : param(), lead_hash ? param(*lead_hash) : param()});
  return r.int64(0, 0);
}

std::vector<std::optional<prefix_match>> lookup_prefixes(connection& conn, std::span<const prefix_key> keys) {
  std::vector<std::optional<prefix_match>> out(keys.size());
  if (keys.empty()) return out;
  auto feeds = array_of(keys, [](const prefix_key& k) { return k.feed; }, true);
  auto sizes = array_of(keys, [](const prefix_key& k) { return num(k.size); }, false);
  auto heads = array_of(keys, [](const prefix_key& k) { return k.head; }, true);
  auto leads = array_of(keys, [](const prefix_key& k) { return k.lead; }, true);
  // Each branch is an equality on its own index (files_head, files_lead);
  // only the rows that start alike are looked at.
  constexpr std::string_view known_size =
      "greatest(coalesce(f.content_size, 0), coalesce(f.size_seen, 0), f.bytes_done)";
  auto r = conn.exec_params(
      "select s.idx, m.id, m.path, m.size, m.state = 'loading', m.bytes_done, m.device, m.inode, m.guard_hash"
      " from unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) with ordinality as s(feed, size, head, lead, idx)"
      " join lateral (select * from ("
      "   (select f.id, f.path, " + std::string(known_size) + " as size, f.state, f.bytes_done, f.device, f.inode, f.guard_hash"
      "     from sluice.files f where s.head <> '' and f.feed = s.feed and f.head_hash = s.head"
      "     and f.state in ('loading', 'loaded') and (f.state = 'loading' or " + std::string(known_size) +
      " >= s.size) limit 1)"
      "   union all"
      "   (select f.id, f.path, " + std::string(known_size) + " as size, f.state, f.bytes_done, f.device, f.inode, f.guard_hash"
      "     from sluice.files f where s.lead <> '' and f.feed = s.feed and f.lead_hash = s.lead"
      "     and f.state in ('loading', 'loaded') and f.lead_hash is not null"
      "     and (s.head = '' or f.bytes_done < 4096)"
      "     and (f.state = 'loading' or " + std::string(known_size) + " >= s.size) limit 1)) q limit 1) m on true"
      " order by s.idx",
      {feeds, sizes, heads, leads});
  for (int row = 0; row < r.rows(); ++row) {
    auto idx = static_cast<std::size_t>(r.int64(row, 0) - 1);
    prefix_match m{r.int64(row, 1), std::string(r.text(row, 2)), r.int64(row, 3), r.text(row, 4) == "t",
                   r.int64(row, 5), std::nullopt, r.is_null(row, 8) ? std::string() : std::string(r.text(row, 8))};
    if (!r.is_null(row, 6) && !r.is_null(row, 7)) m.inode = std::pair{r.int64(row, 6), r.int64(row, 7)};
    out[idx] = std::move(m);
  }
  return out;
}

std::int64_t insert_duplicate(connection& conn, const file_sighting& file, const file_row& original,
                              const std::string& reason) {
  auto r = conn.exec_params(
      "insert into sluice.files (feed, path, state, duplicate_of, bytes_done, lines_done,"
      " records_done, done_hash, guard_hash, device, inode, size_seen, mtime_ns, reason)"
      " values ($1, $2, 'duplicate', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning id",
      {file.feed, file.path, num(original.id), num(original.done.bytes), num(original.done.lines),
       num(original.done.records), original.done.hash, original.done.guard_hash,
       num(file.stat.device), num(file.stat.inode), num(file.stat.size), num(file.stat.mtime_ns),
       reason});
  return r.int64(0, 0);
}

std::optional<std::int64_t> insert_refused(connection& conn, const std::string& feed,
                                           const std::string& path, const std::string& reason) {
  auto r = conn.exec_params(
      "insert into sluice.files (feed, path, state, reason)"
      " select $1, $2, 'refused', $3 where not exists (select 1 from sluice.files"
      "   where path = $2 and state = 'refused' and reason = $3"
      "   and id = (select max(id) from sluice.files where path = $2))"
      " returning id",
      {feed, path, reason});
  if (r.rows() == 0) return std::nullopt;
  return r.int64(0, 0);
}

void move_file(connection& conn, std::int64_t id, const std::string& path, const file_stat& stat) {
  conn.exec_params(
      "update sluice.files set path = $2, device = $3, inode = $4, updated_at = now(), reason = null,"
      " state = case when state <> 'replaced' then state"
      "   when bytes_done = content_size then 'loaded' else 'loading' end"
      " where id = $1",
      {num(id), path, num(stat.device), num(stat.inode)});
}

void note_file_failure(connection& conn, std::int64_t id, const std::string& reason) {
  conn.exec_params("update sluice.files set reason = 'not loaded: ' || $2, updated_at = now()"
                   " where id = $1 and state = 'loading'",
                   {num(id), reason});
}

std::optional<std::string> feed_of_file(connection& conn, const std::string& path, const file_stat& stat,
                                        const std::vector<std::string>& feeds) {
  std::span<const std::string> names(feeds);
  auto r = conn.exec_params(
      "select feed from sluice.files where feed = any($1::text[])"
      " and ((device = $2 and inode = $3) or path = $4) and state in ('loading', 'loaded', 'duplicate')"
      " order by (device = $2 and inode = $3) desc nulls last, id desc limit 1",
      {array_of(names, [](const std::string& n) { return n; }, true), num(stat.device), num(stat.inode), path});
  if (r.rows() == 0) return std::nullopt;
  return std::string(r.text(0, 0));
}

void retire_file(connection& conn, std::int64_t id, const std::string& state, const std::string& reason) {
  conn.exec_params("update sluice.files set state = $2, reason = $3, updated_at = now() where id = $1",
                   {num(id), state, reason});
}

void reopen_duplicate(connection& conn, std::int64_t id) {
  conn.exec_params(
      "update sluice.files set state = 'loading', updated_at = now() where id = $1 and state = 'duplicate'",
      {num(id)});
}

std::optional<reload_target> find_reload_target(connection& conn, std::optional<std::int64_t> id,
                                               const std::optional<std::string>& path) {
  // The row asked for, or the newest live row at the path; when that is a
  // reload still loading, the row it reloads.
  auto r = conn.exec_params(
      "with chosen as (select id, state, reload_of from sluice.files"
      "   where case when $1::bigint is not null then id = $1::bigint"
      "              else path = $2 and state in ('loading', 'loaded', 'duplicate') end"
      "   order by id desc limit 1)"
      " select " + prefixed("f") + ", f.duplicate_of,"
      "  (select r.id from sluice.files r where r.reload_of = f.id and r.state = 'loading')"
      " from chosen c join sluice.files f"
      "   on f.id = case when c.state = 'loading' and c.reload_of is not null then c.reload_of else c.id end",
      {id ? param(num(*id)) : param(), path ? param(*path) : param()});
  if (r.rows() == 0) return std::nullopt;
  reload_target out{*row_at(r, 0, 0), std::nullopt, std::nullopt};
  if (!r.is_null(0, row_width)) out.duplicate_of = r.int64(0, row_width);
  if (!r.is_null(0, row_width + 1)) out.reloading = r.int64(0, row_width + 1);
  return out;
}

std::int64_t insert_reload(connection& conn, const file_row& old, const file_stat& stat) {
  auto r = conn.exec_params(
      "insert into sluice.files (feed, path, device, inode, size_seen, mtime_ns, first_seen_at, reload_of)"
      " select feed, path, $2, $3, $4, $5, first_seen_at, id from sluice.files where id = $1 returning id",
      {num(old.id), num(stat.device), num(stat.inode), num(stat.size), num(stat.mtime_ns)});
  return r.int64(0, 0);
}

std::vector<std::int64_t> claim_files(connection& conn, std::span<const std::int64_t> ids) {
  std::vector<std::int64_t> held;
  if (ids.empty()) return held;
  auto r = conn.exec_params(
      "select id from unnest($1::bigint[]) as id"
      " where pg_try_advisory_lock(" + std::string(claim_class) + ", (id % 2147483647)::int)",
      {array_of(ids, [](std::int64_t id) { return num(id); }, false)});
  for (int row = 0; row < r.rows(); ++row) held.push_back(r.int64(row, 0));
  return held;
}

void release_files(connection& conn, std::span<const std::int64_t> ids) {
  if (ids.empty()) return;
  conn.exec_params(
      "select pg_advisory_unlock(" + std::string(claim_class) + ", (id % 2147483647)::int)"
      " from unnest($1::bigint[]) as id",
      {array_of(ids, [](std::int64_t id) { return num(id); }, false)});
}

std::vector<advance_outcome> advance_files(connection& conn, std::span<const file_advance> advances) {
  std::vector<advance_outcome> out(advances.size(), advance_outcome::elsewhere);
  if (advances.empty()) return out;
  auto ids = array_of(advances, [](const file_advance& a) { return num(a.id); }, false);
  // Rows are locked in id order, so that two transactions never wait on each
  // other's rows in opposite orders. FOR NO KEY UPDATE, not FOR UPDATE: a
  // later batch of the same file that inserted rejects holds FOR KEY SHARE on
  // the row (sluice.rejects.file_id references it) while it waits with its
  // transaction open for this batch to commit (see committer.h); FOR UPDATE
  // would wait for it in turn, and neither would ever go on.
  // Only a live row advances: one retired meanwhile (replaced, or reloaded
  // by `sluice reload` while a daemon still held it in memory) is elsewhere,
  // and its loader looks at the file again.
  auto now = conn.exec_params(
      "select id, bytes_done, done_hash from sluice.files where id = any($1::bigint[])"
      " and state in ('loading', 'loaded') order by id for no key update",
      {ids});
  std::map<std::int64_t, std::pair<std::int64_t, std::string>> at;
  for (int row = 0; row < now.rows(); ++row) {
    at.emplace(now.int64(row, 0), std::pair{now.int64(row, 1), std::string(now.text(row, 2))});
  }
  std::vector<file_advance> due;
  for (std::size_t i = 0; i < advances.size(); ++i) {
    const auto& a = advances[i];
    auto it = at.find(a.id);
    if (it == at.end()) continue;
    const auto& [bytes, hash] = it->second;
    if (bytes == a.from_bytes && hash == a.from_hash) {
      out[i] = advance_outcome::advanced;
      due.push_back(a);
    } else if (bytes == a.to.bytes && hash == a.to.hash) {
      out[i] = advance_outcome::already_applied;
    }
  }
  if (due.empty()) return out;
  std::span<const file_advance> d(due);
  conn.exec_params(
      "update sluice.files f set bytes_done = c.to_bytes, lines_done = c.to_lines,"
      " records_done = c.to_records, done_hash = c.to_hash, guard_hash = c.guard,"
      " device = c.device, inode = c.inode, size_seen = c.size, mtime_ns = c.mtime, head_hash = c.head,"
      " rows_loaded = f.rows_loaded + c.loaded, rows_rejected = f.rows_rejected + c.rejected,"
      " state = case when c.complete then 'loaded' else 'loading' end,"
      // A file read to its end once settled is known by its whole content;
      // one that grows past what it was known by is not any more.
      " content_size = case when c.complete then coalesce(c.file_bytes, c.to_bytes)"
      "   when coalesce(c.file_bytes, c.to_bytes) > coalesce(f.content_size, -1) then null"
      "   else f.content_size end,"
      " content_hash = case when c.complete then coalesce(c.content, c.to_hash)"
      "   when coalesce(c.file_bytes, c.to_bytes) > coalesce(f.content_size, -1) then null"
      "   else f.content_hash end,"
      // A row that loads again is not failing any more (note_file_failure).
      " reason = coalesce(c.reason, case when f.reason like 'not loaded: %' then null else f.reason end),"
      " updated_at = now()"
      " from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],"
      "             $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],"
      "             $12::bigint[], $13::bool[], $14::text[], $15::text[], $16::bigint[], $17::text[])"
      "   as c(id, to_bytes, to_lines, to_records, to_hash, guard, device, inode, size, mtime,"
      "        loaded, rejected, complete, content, head, file_bytes, reason)"
      " where f.id = c.id",
      {array_of(d, [](const file_advance& a) { return num(a.id); }, false),
       array_of(d, [](const file_advance& a) { return num(a.to.bytes); }, false),
       array_of(d, [](const file_advance& a) { return num(a.to.lines); }, false),
       array_of(d, [](const file_advance& a) { return num(a.to.records); }, false),
       array_of(d, [](const file_advance& a) { return a.to.hash; }, true),
       array_of(d, [](const file_advance& a) { return a.to.guard_hash; }, true),
       array_of(d, [](const file_advance& a) { return num(a.seen.device); }, false),
       array_of(d, [](const file_advance& a) { return num(a.seen.inode); }, false),
       array_of(d, [](const file_advance& a) { return num(a.seen.size); }, false),
       array_of(d, [](const file_advance& a) { return num(a.seen.mtime_ns); }, false),
       array_of(d, [](const file_advance& a) { return num(a.loaded); }, false),
       array_of(d, [](const file_advance& a) { return num(a.rejected); }, false),
       array_of(d, [](const file_advance& a) { return std::string(a.complete ? "t" : "f"); }, false),
       array_of(d, [](const file_advance& a) { return a.content_hash ? quoted_element(*a.content_hash) : std::string("NULL"); }, false),
       array_of(d, [](const file_advance& a) { return a.head_hash; }, true),
       array_of(d, [](const file_advance& a) { return a.file_bytes ? num(*a.file_bytes) : std::string("NULL"); }, false),
       array_of(d, [](const file_advance& a) { return a.reason ? quoted_element(*a.reason) : std::string("NULL"); }, false)});
  return out;
}

}  // namespace sluice::warehouse

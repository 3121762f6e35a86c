#include "warehouse/migrate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "warehouse/log.h"

namespace sluice::warehouse {

namespace {

// Key of the session advisory lock that serializes migrations.
constexpr std::string_view lock_key = "7307731203";

// The bookkeeping of packs. It belongs to the migration runner, not to a pack:
// it must exist before the first migration is recorded, and recording
// sluice/0001 cannot wait for sluice/0001.
constexpr std::string_view bookkeeping_sql = R"sql(
create schema if not exists sluice;

create table if not exists sluice.packs (
  name         text primary key,
  source       text not null check (source in ('builtin', 'dir')),
  dir          text,
  installed_at timestamptz not null default now(),
  check ((source = 'dir') = (dir is not null))
);
comment on table sluice.packs is 'The packs installed in this warehouse by `sluice migrate`: sluice''s own (always), the built-in packs chosen with --packs, and users'' packs from --pack-dir folders.';
comment on column sluice.packs.name is 'Pack name: its folder''s name (sql/<name>/ in the source for built-in packs).';
comment on column sluice.packs.source is 'builtin: SQL built into the sluice binary, upgraded by every `sluice migrate` and checked by `sluice run`; dir: a user''s folder, upgraded when given again with --pack-dir.';
comment on column sluice.packs.dir is 'For dir packs, the folder it was last migrated from (absolute path); NULL for built-in packs.';
comment on column sluice.packs.installed_at is 'When its first migration was applied.';

create table if not exists sluice.pack_migrations (
  pack       text not null references sluice.packs,
  version    int not null check (version > 0),
  name       text not null,
  checksum   text not null,
  applied_at timestamptz not null default now(),
  primary key (pack, version)
);
comment on table sluice.pack_migrations is 'One row per migration file applied by `sluice migrate`, each applied in its own transaction together with its row.';
comment on column sluice.pack_migrations.pack is 'The pack (sluice.packs.name).';
comment on column sluice.pack_migrations.version is 'The NNNN prefix of the file name; versions count per pack.';
comment on column sluice.pack_migrations.name is 'File name, e.g. 0101_staging.sql.';
comment on column sluice.pack_migrations.checksum is 'XXH3-64 (hex) of the file as applied: a file changed since is refused by migrate, and a built-in one by run.';
comment on column sluice.pack_migrations.applied_at is 'When it was applied.';
)sql";

struct tables_present {
  bool packs = false;
  bool legacy = false;  // sluice.migrations: one global version order, before packs were chosen
};

tables_present find_tables(connection& conn) {
  auto r = conn.exec(
      "select to_regclass('sluice.pack_migrations') is not null and to_regclass('sluice.packs') is not null,"
      " to_regclass('sluice.migrations') is not null");
  return {r.text(0, 0) == "t", r.text(0, 1) == "t"};
}

// Moves the rows of the old sluice.migrations table (version, 'pack/file',
// checksum, applied_at) into the per-pack tables and drops it. Every migration
// it lists was built in. Runs inside the caller's transaction.
void absorb_legacy_table(connection& conn) {
  if (!find_tables(conn).legacy) return;
  auto odd = conn.exec("select name from sluice.migrations where name !~ '^[^/]+/[^/]+$' limit 1");
  if (odd.rows() > 0) {
    throw pack_error("sluice.migrations in " + conn.target() + " lists '" + std::string(odd.text(0, 0)) +
                     "', which is not <pack>/<file>: this table was not written by sluice; rename it"
                     " and run `sluice migrate` again");
  }
  auto moved = conn.exec(
      "insert into sluice.packs (name, source, installed_at)"
      " select split_part(name, '/', 1), 'builtin', min(applied_at) from sluice.migrations group by 1"
      " on conflict (name) do nothing;"
      "with moved as ("
      " insert into sluice.pack_migrations (pack, version, name, checksum, applied_at)"
      " select split_part(name, '/', 1), version, split_part(name, '/', 2), checksum, applied_at"
      "   from sluice.migrations"
      " on conflict (pack, version) do nothing returning 1)"
      " select count(*) from moved");
  conn.exec("drop table sluice.migrations");
  if (moved.int64(0, 0) > 0) {
    logger()->info("converted {} rows of sluice.migrations into sluice.pack_migrations (versions per pack)",
                   moved.int64(0, 0));
  }
}

// Creates the bookkeeping tables, or converts the old one. Call under the lock.
void bootstrap(connection& conn) {
  auto present = find_tables(conn);
  if (present.packs && !present.legacy) return;
  transaction tx(conn);
  if (!present.packs) conn.exec(bookkeeping_sql);
  absorb_legacy_table(conn);
  tx.commit();
}

std::vector<installed_pack> read_installed(connection& conn) {
  auto rows = conn.exec("select name, source, coalesce(dir, '') from sluice.packs order by installed_at, name");
  std::vector<installed_pack> out;
  for (int row = 0; row < rows.rows(); ++row) {
    out.push_back({std::string(rows.text(row, 0)),
                   rows.text(row, 1) == "dir" ? pack_source::dir : pack_source::builtin,
                   std::string(rows.text(row, 2))});
  }
  return out;
}

std::vector<applied_migration> read_applied(connection& conn) {
  auto rows = conn.exec("select pack, version, name, checksum from sluice.pack_migrations");
  std::vector<applied_migration> out;
  for (int row = 0; row < rows.rows(); ++row) {
    out.push_back({std::string(rows.text(row, 0)), static_cast<int>(rows.int64(row, 1)),
                   std::string(rows.text(row, 2)), std::string(rows.text(row, 3))});
  }
  return out;
}

// Re-records the rows an older sluice wrote for built-in files that were
// renamed or amended since (builtin_migration_ancestors(), packs.h), each only
// when it is exactly as that sluice applied it, in one transaction. Call under
// the lock, before the applied migrations are read for pending_migrations().
void convert_ancestors(connection& conn, const std::vector<applied_migration>& applied) {
  std::vector<const migration_ancestor*> found;
  for (const auto& ancestor : builtin_migration_ancestors()) {
    bool present = std::any_of(applied.begin(), applied.end(), [&](const applied_migration& a) {
      return a.pack == ancestor.pack && a.version == ancestor.applied_version && a.file == ancestor.applied_as &&
             a.checksum == ancestor.applied_checksum;
    });
    if (present) found.push_back(&ancestor);
  }
  if (found.empty()) return;
  transaction tx(conn);
  for (const auto* ancestor : found) {
    const auto& now = *ancestor->now;
    conn.exec_params(
        "update sluice.pack_migrations set version = $5::int, name = $6, checksum = $7"
        " where pack = $1 and version = $2::int and name = $3 and checksum = $4",
        {ancestor->pack, std::to_string(ancestor->applied_version), ancestor->applied_as,
         ancestor->applied_checksum, std::to_string(now.version), now.file, now.checksum});
  }
  tx.commit();
  for (const auto* ancestor : found) {
    bool renamed = ancestor->applied_as != ancestor->now->file;
    bool amended = ancestor->applied_checksum != ancestor->now->checksum;
    logger()->info("pack {}: {} as an older sluice applied it is recorded as {} ({}{}{}; see warehouse/pack_history.cpp)",
                   ancestor->pack, ancestor->applied_as, ancestor->now->origin, renamed ? "renamed" : "",
                   renamed && amended ? " and " : "", amended ? "amended" : "");
  }
}

// The problems of the declarations, for a migration that may not add any.
struct declaration_check {
  const std::function<std::vector<std::string>(connection&)>& problems_of;
  std::optional<std::set<std::string>> known;  // before the migration at hand; nullopt: not read yet

  [[nodiscard]] bool active() const { return static_cast<bool>(problems_of); }

  // Reads what was there before (in its own transaction), once.
  void start(connection& conn) {
    if (!active() || known) return;
    transaction tx(conn);
    auto problems = problems_of(conn);
    tx.commit();
    known.emplace(problems.begin(), problems.end());
    for (const auto& p : *known) {
      logger()->warn("{} (declared before this migrate; `sluice run` skips or warns about it until it is fixed)", p);
    }
  }

  // Inside the migration's transaction, after its SQL.
  void check(connection& conn, const migration& m) {
    auto problems = problems_of(conn);
    std::string added;
    for (const auto& p : problems) {
      if (known->count(p) == 0) added += "\n  " + p;
    }
    if (!added.empty()) {
      throw pack_error("migration " + m.origin + " is refused and rolled back: it leaves a declaration that `sluice"
                       " run` would refuse:" + added + "\nfix the file (or add one that fixes it) and migrate again");
    }
    known.emplace(problems.begin(), problems.end());
  }
};

void apply(connection& conn, const pack& p, const migration& m, declaration_check& declarations) {
  bool checked = declarations.active() && p.name != core_pack;
  if (checked) declarations.start(conn);
  transaction tx(conn);
  try {
    conn.exec(m.sql);
  } catch (const db_error& e) {
    throw db_error(e.kind(), e.sqlstate(), "migration " + m.origin + ": " + e.what());
  }
  if (!conn.in_transaction()) {
    // find_transaction_statement refuses such files before they run; this
    // is for one it could not see.
    throw pack_error("migration " + m.origin + " ended the transaction it runs in (a COMMIT or ROLLBACK of its"
                     " own): what it did up to there may be committed without its row in"
                     " sluice.pack_migrations; remove the statement, undo what it left, and migrate again");
  }
  auto before = declarations.known;
  if (checked) declarations.check(conn, m);
  std::string dir_text = p.dir.string();
  param dir = p.source == pack_source::dir ? param(dir_text) : std::nullopt;
  conn.exec_params(
      "insert into sluice.packs (name, source, dir) values ($1, $2, $3)"
      " on conflict (name) do update set dir = excluded.dir",
      {p.name, to_string(p.source), dir});
  conn.exec_params(
      "insert into sluice.pack_migrations (pack, version, name, checksum) values ($1, $2, $3, $4)",
      {m.pack, std::to_string(m.version), m.file, m.checksum});
  // sluice/0001 creates the old bookkeeping table: on a new warehouse it goes
  // again at once, so that no warehouse keeps two.
  if (p.name == core_pack) absorb_legacy_table(conn);
  try {
    tx.commit();
  } catch (...) {
    declarations.known = std::move(before);
    throw;
  }
}

}  // namespace

migrate_outcome migrate(connection& conn, const migrate_options& options) {
  auto log = logger();
  // Pack folders are read before anything touches the warehouse: a mistake in
  // one is reported without a lock held or a table created.
  std::vector<pack> user_packs;
  for (const auto& dir : options.pack_dirs) user_packs.push_back(read_pack_dir(dir));

  conn.exec("select pg_advisory_lock(" + std::string(lock_key) + ")");
  struct unlock {
    connection& conn;
    ~unlock() {
      try {
        if (conn.is_open()) conn.exec("select pg_advisory_unlock_all()");
      } catch (...) {
      }
    }
  } unlock_at_exit{conn};

  bootstrap(conn);
  convert_ancestors(conn, read_applied(conn));
  auto installed = read_installed(conn);
  auto selection = select_packs(builtin_packs(), user_packs, options.packs, installed);
  for (const auto& note : selection.notes) log->info("{}", note);
  auto applied = read_applied(conn);
  auto pending = pending_migrations(selection.packs, applied);

  migrate_outcome outcome;
  std::map<std::string, const pack*> by_name;
  for (const auto* p : selection.packs) {
    outcome.packs.push_back(p->name);
    by_name.emplace(p->name, p);
    for (const auto& a : applied) outcome.already_applied += a.pack == p->name ? 1 : 0;
    if (p->source == pack_source::dir) {  // the folder may have moved since
      conn.exec_params("update sluice.packs set dir = $2 where name = $1 and dir is distinct from $2",
                       {p->name, p->dir.string()});
    }
  }
  // All or nothing per file: a file with its own COMMIT would be half applied
  // (and every later migrate would fail on what it left). Refused before
  // anything is applied.
  for (const auto* m : pending) {
    if (auto found = find_transaction_statement(m->sql)) {
      throw pack_error("migration " + m->origin + " line " + std::to_string(found->line) + ": '" +
                       found->statement +
                       "' ends or starts a transaction; sluice runs each migration file in one transaction of"
                       " its own (all of it or nothing): remove BEGIN, COMMIT, ROLLBACK, END, ABORT, START"
                       " TRANSACTION and PREPARE TRANSACTION from the file. Nothing was applied");
    }
  }
  declaration_check declarations{options.declaration_problems, std::nullopt};
  for (const auto* m : pending) {
    log->info("applying migration {} (pack {}, version {})", m->origin, m->pack, m->version);
    apply(conn, *by_name.at(m->pack), *m, declarations);
    ++outcome.applied;
  }
  // The roles' grants cover what every pack made, this time and before
  // (sql/sluice/0019_roles.sql).
  conn.exec("call sluice.grant_roles()");
  return outcome;
}

std::vector<installed_pack> require_up_to_date(connection& conn) {
  auto present = find_tables(conn);
  if (!present.packs) {
    throw pack_error("the warehouse at " + conn.target() +
                     (present.legacy ? " was migrated by an older sluice (it has sluice.migrations)"
                                     : " is not migrated") +
                     "; run `sluice migrate` with the same DSN first");
  }
  auto installed = read_installed(conn);
  auto applied = read_applied(conn);
  std::map<std::pair<std::string, int>, std::string> checksum_of;
  for (const auto& a : applied) checksum_of.emplace(std::pair{a.pack, a.version}, a.checksum);

  std::vector<std::string> problems;
  bool core_installed = false;
  for (const auto& i : installed) {
    core_installed = core_installed || i.name == core_pack;
    if (i.source == pack_source::dir) {
      bool recorded = std::any_of(applied.begin(), applied.end(), [&](const auto& a) { return a.pack == i.name; });
      if (!recorded) problems.push_back("pack " + i.name + " (from " + i.dir + ") has no migration applied");
      continue;
    }
    const auto& builtins = builtin_packs();
    auto b = std::find_if(builtins.begin(), builtins.end(), [&](const pack& p) { return p.name == i.name; });
    if (b == builtins.end()) {
      logger()->warn("pack {} is installed in the warehouse but not built into this sluice: not checked", i.name);
      continue;
    }
    for (const auto& m : b->migrations) {
      auto it = checksum_of.find({m.pack, m.version});
      if (it == checksum_of.end()) {
        problems.push_back(m.origin + " is not applied");
      } else if (it->second != m.checksum) {
        problems.push_back(m.origin + " was applied with other content than this sluice has");
      }
    }
  }
  if (!core_installed) problems.push_back("the sluice pack is not installed");
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    throw pack_error("the warehouse at " + conn.target() + " is not up to date with this sluice:" + list +
                     "\nrun `sluice migrate` with the same DSN first (it upgrades every installed built-in"
                     " pack)");
  }
  return installed;
}

}  // namespace sluice::warehouse

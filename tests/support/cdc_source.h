// What the change-data-capture tests share: a source database, the digest
// both sides are compared by, crashing a server, and the checks on a change
// log and a mirror.
//
// The source lives on the cluster SLUICE_TEST_SOURCE_DSN names (scripts/test.sh
// starts a second throwaway cluster for it), else on the warehouse's cluster
// (SLUICE_TEST_DSN). Both run with wal_level = logical.
#pragma once

#include <unistd.h>

#include <cstdlib>

#include <atomic>
#include <optional>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture.h"

namespace sluice::testing {

// The maintenance conninfo of the sources' cluster.
inline std::string source_admin_dsn() {
  const char* own = std::getenv("SLUICE_TEST_SOURCE_DSN");
  return own != nullptr && *own != '\0' ? std::string(own) : admin_dsn();
}

// True when sources and the warehouse are separate clusters.
inline bool separate_source_cluster() { return source_admin_dsn() != admin_dsn(); }

// A source database with a publication, dropped (slots first) at the end.
class source_db {
 public:
  explicit source_db(const std::string& name) : name_(name), admin_(source_admin_dsn()) {
    admin_.exec("drop database if exists " + name_);
    admin_.exec("create database " + name_);
    dsn_ = with_dbname(source_admin_dsn(), name_);
    conn_.emplace(dsn_);
  }
  ~source_db() {
    try {
      conn_.reset();
      admin_ = warehouse::connection(source_admin_dsn());  // the server may have restarted
      admin_.exec("select pg_terminate_backend(active_pid) from pg_replication_slots where database = '" + name_ +
                  "' and active_pid is not null");
      wait_until([&] {
        return admin_.exec("select count(*) from pg_replication_slots where active and database = '" + name_ + "'")
                   .text(0, 0) == "0";
      }, 10s);
      admin_.exec("select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '" + name_ +
                  "'");
      admin_.exec("drop database if exists " + name_ + " with (force)");
    } catch (...) {
    }
  }
  source_db(const source_db&) = delete;
  source_db& operator=(const source_db&) = delete;
  [[nodiscard]] const std::string& dsn() const { return dsn_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  warehouse::connection& db() { return *conn_; }
  // A new connection (after the server restarted).
  void reconnect() { conn_.emplace(dsn_); }
  // "count|md5" of a table's rows in key order, the same query on both sides.
  static std::string digest(warehouse::connection& conn, const std::string& table) {
    return std::string(conn.exec("select count(*) || '|' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '')"
                                 " from " + table + " t").text(0, 0));
  }

 private:
  std::string name_;
  warehouse::connection admin_;
  std::string dsn_;
  std::optional<warehouse::connection> conn_;
};

inline std::string source_name(const sluice_fixture& fx, const std::string& prefix = "src_") {
  return prefix + fx.database().substr(fx.database().size() - 8);
}

// Adds the source `name` to the warehouse of `fx` (a row of sluice.sources):
// the database `conninfo` names and its `publication`. `slot` is the slot
// recorded at insert, as a warehouse from before slot names carried its id
// has it; without it sluice names the slot on its first run.
// Throws warehouse::db_error when the warehouse refuses the row.
inline void add_source(sluice_fixture& fx, const std::string& name, const std::string& conninfo,
                       const std::string& publication, const std::optional<std::string>& slot = std::nullopt) {
  if (slot) {
    fx.db().exec_params(
        "insert into sluice.sources (name, conninfo, publication, slot_name) values ($1, $2, $3, $4)",
        {name, conninfo, publication, *slot});
  } else {
    fx.db().exec_params("insert into sluice.sources (name, conninfo, publication) values ($1, $2, $3)",
                        {name, conninfo, publication});
  }
}

// The same for `src`'s database.
inline void add_source(sluice_fixture& fx, const std::string& name, const source_db& src,
                       const std::string& publication, const std::optional<std::string>& slot = std::nullopt) {
  add_source(fx, name, src.dsn(), publication, slot);
}

// The replication slot the warehouse of `fx` uses for the source `name`, as
// sluice.sources records it.
// The simplest source: public.items (id key, note) in publication pub, added
// to the warehouse as `name`.
inline void add_items_source(sluice_fixture& fx, source_db& src, const std::string& name = "app") {
  src.db().exec("create table items (id int primary key, note text); create publication pub for table items;");
  add_source(fx, name, src, "pub");
}

inline std::string slot_of(sluice_fixture& fx, const std::string& name) {
  return fx.text("select coalesce(slot_name, '') from sluice.sources where name = $1", {name});
}

// The state of the source `name` in sluice.sources: new, streaming or stopped.
inline std::string source_state(sluice_fixture& fx, const std::string& name) {
  return fx.text("select state from sluice.sources where name = $1", {name});
}

// The last_error of the source `name`, "" when there is none.
inline std::string source_error(sluice_fixture& fx, const std::string& name) {
  return fx.text("select coalesce(last_error, '') from sluice.sources where name = $1", {name});
}

// Polls until the source `name` is in `state`, through restarts of the
// warehouse (a query that fails reconnects and counts as not yet).
inline bool wait_for_source_state(sluice_fixture& fx, const std::string& name, const std::string& state,
                                  std::chrono::milliseconds timeout) {
  return fx.wait_until_reconnecting([&] { return source_state(fx, name) == state; }, timeout, 100ms);
}

// `pg_ctl restart -m immediate` of the cluster `cluster_dsn` names (a crash),
// see crash_restart_command().
inline exit_status crash_restart_server(sluice_fixture& fx, const std::string& cluster_dsn) {
  return run_process(crash_restart_command(cluster_dsn), fx.work() / "restart.log", 90s);
}

// Sets a parameter of the sources' cluster (ALTER SYSTEM, reloaded) and
// resets it when it goes out of scope.
class server_setting {
 public:
  server_setting(std::string name, const std::string& value) : name_(std::move(name)) {
    warehouse::connection admin(source_admin_dsn());
    admin.exec("alter system set " + name_ + " = '" + value + "'");
    admin.exec("select pg_reload_conf()");
  }
  ~server_setting() {
    try {
      warehouse::connection admin(source_admin_dsn());
      admin.exec("alter system reset " + name_);
      admin.exec("select pg_reload_conf()");
    } catch (...) {
    }
  }
  server_setting(const server_setting&) = delete;
  server_setting& operator=(const server_setting&) = delete;

 private:
  std::string name_;
};

// A workload thread that is told to stop and joined however the test ends
// (a failed REQUIRE must not leave a joinable std::thread behind).
class workload_thread {
 public:
  template <typename Body>
  explicit workload_thread(Body body) : thread_([this, body] { body(running_); }) {}
  ~workload_thread() { stop(); }
  workload_thread(const workload_thread&) = delete;
  workload_thread& operator=(const workload_thread&) = delete;
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// Rows of (_lsn, _seq) that appear more than once in a change log (the
// snapshot's rows all share the consistent point and seq 0).
inline std::int64_t doubled_changes(sluice_fixture& fx, const std::string& staging) {
  return fx.scalar("select count(*) from (select _lsn, _seq from " + staging +
                   " where _op not in ('r', 'o') group by 1, 2 having count(*) > 1) d");
}

// Polls `sql` on the warehouse (reconnecting after a server restart) until it
// returns `want`.
inline bool wait_for_text(sluice_fixture& fx, const std::string& sql, const std::string& want,
                   std::chrono::milliseconds timeout) {
  return fx.wait_until_reconnecting([&] { return fx.text(sql) == want; }, timeout, 200ms);
}

// Waits until the mirror `core` equals the source's `table` (row-for-row
// digest), through the warehouse's failures and restarts.
inline bool mirror_catches_up(sluice_fixture& fx, source_db& src, const std::string& core, const std::string& table,
                       std::chrono::milliseconds timeout) {
  auto want = source_db::digest(src.db(), table);
  return wait_until(
      [&] {
        try {
          return source_db::digest(fx.db(), core) == want;
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout, 200ms);
}

// A COPY into `table` under way in the warehouse, with rows in already, by a
// backend other than `other_than`: {its pid, rows copied}, or {0, 0}.
inline std::pair<std::int64_t, std::int64_t> copy_progress(sluice_fixture& fx, const std::string& table,
                                                           std::int64_t other_than = 0) {
  auto progress = fx.db().exec(
      "select p.pid, p.tuples_processed from pg_stat_progress_copy p where p.datname = current_database()"
      " and p.relid = to_regclass('" + table + "') and p.tuples_processed > 0 and p.pid <> " +
      std::to_string(other_than));
  if (progress.rows() == 0) return {0, 0};
  return {progress.int64(0, 0), progress.int64(0, 1)};
}

}  // namespace sluice::testing

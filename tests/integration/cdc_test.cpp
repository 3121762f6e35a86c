// Change data capture against a real source: a second database on the test
// server (the test clusters run with wal_level = logical). The invariants:
// every mirror equals its source table row for row, and the change log holds
// each source change exactly once.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <random>
#include <thread>

#include "checks.h"
#include "fixture.h"

namespace sluice::itest {
namespace {

// A source database with a publication, dropped (slot first) at the end.
class source_db {
 public:
  explicit source_db(const std::string& name) : name_(name), admin_(admin_dsn()) {
    admin_.exec("drop database if exists " + name_);
    admin_.exec("create database " + name_);
    dsn_ = with_dbname(admin_dsn(), name_);
    conn_.emplace(dsn_);
  }
  ~source_db() {
    try {
      conn_.reset();
      admin_.exec("select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '" + name_ +
                  "'");
      admin_.exec("drop database if exists " + name_ + " with (force)");
    } catch (...) {
    }
  }
  source_db(const source_db&) = delete;
  source_db& operator=(const source_db&) = delete;
  [[nodiscard]] const std::string& dsn() const { return dsn_; }
  warehouse::connection& db() { return *conn_; }
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

std::string source_name(const sluice_fixture& fx) { return "src_" + fx.database().substr(fx.database().size() - 8); }

}  // namespace

TEST_CASE("a source is copied from its snapshot and then streamed with every change exactly once",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, name text, price numeric(8,2), big text);"
      "alter table items alter column big set storage external;"
      "create table notes (body text);"
      "insert into items select i, 'item ' || i, i * 1.5, null from generate_series(1, 2000) i;"
      "update items set big = (select string_agg(md5(g::text), '') from generate_series(1, 100) g) where id = 1;"
      "insert into notes values ('a'), ('b');"
      "create publication shop_pub for table items, notes;");
  fx.db().exec_params("insert into sluice.sources (name, conninfo, publication) values ('app', $1, 'shop_pub')",
                      {src.dsn()});

  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'r'") == 2000);

  // A workload running while sluice streams: inserts, updates (one leaves a
  // TOASTed value unchanged, one changes a key), deletes, truncate.
  std::atomic<bool> running{true};
  std::atomic<int> inserts{0};
  std::thread workload([&] {
    warehouse::connection w(src.dsn());
    int next = 10000;
    while (running) {
      w.exec("insert into items values (" + std::to_string(next) + ", 'new', 1, null)");
      ++inserts;
      w.exec("update items set price = price + 1 where id = " + std::to_string(1 + next % 50));
      w.exec("delete from items where id = " + std::to_string(100 + next % 1000));
      ++next;
      std::this_thread::sleep_for(2ms);
    }
  });
  auto during = fx.run_once();
  running = false;
  workload.join();
  INFO(during.describe());
  REQUIRE(during.ok());
  src.db().exec(
      "update items set price = 0.5 where id = 1;"  // big is not sent: unchanged TOAST
      "update items set id = 99999 where id = 3;"
      "insert into notes values ('c'); truncate notes; insert into notes values ('d');");
  auto last = fx.run_once();
  INFO(last.describe());
  REQUIRE(last.ok());

  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(source_db::digest(fx.db(), "core.app_notes") == source_db::digest(src.db(), "public.notes"));
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'i'") == inserts.load());
  CHECK(fx.scalar("select count(*) from (select _lsn, _seq from staging.app_items where _op <> 'r' group by 1, 2 having count(*) > 1) d") ==
        0);
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'u' and _unchanged = 'big'") >= 1);
  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "streaming");
}

// Regression: under REPLICA IDENTITY FULL a Relation message flags every
// column as the identity; the replicator took them all for the key, its COPY
// named _old_ columns the change log lacks, and --once exited 0 having applied
// nothing.
TEST_CASE("tables with REPLICA IDENTITY FULL, with and without a primary key, stream every change",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table history (tid int, delta int, note text);"
      "alter table history replica identity full;"
      "create table accounts (id int primary key, balance int);"
      "alter table accounts replica identity full;"
      "insert into history select i, i, 'h' from generate_series(1, 100) i;"
      "insert into accounts select i, 0 from generate_series(1, 100) i;"
      "create publication full_pub for table history, accounts;");
  fx.db().exec_params("insert into sluice.sources (name, conninfo, publication) values ('app', $1, 'full_pub')",
                      {src.dsn()});
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());

  src.db().exec(
      "insert into history select i, -i, 'later' from generate_series(101, 150) i;"
      "update history set note = 'changed' where tid <= 10;"
      "delete from history where tid between 11 and 20;"
      "update accounts set balance = id * 2 where id <= 50;"
      "update accounts set id = 1000 where id = 99;"
      "delete from accounts where id between 60 and 69;");
  auto streamed = fx.run_once();
  INFO(streamed.describe());
  REQUIRE(streamed.ok());
  CHECK(fx.scalar("select count(*) from staging.app_history where _op = 'i'") == 50);
  CHECK(fx.scalar("select count(*) from staging.app_history where _op = 'u'") == 10);
  CHECK(fx.scalar("select count(*) from staging.app_history where _op = 'd'") == 10);
  // No primary key: the mirror is append-only.
  CHECK(fx.scalar("select count(*) from core.app_history") == 150);
  CHECK(source_db::digest(fx.db(), "core.app_accounts") == source_db::digest(src.db(), "public.accounts"));
}

TEST_CASE("kill -9 of sluice while it streams a source loses and doubles no change", "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table events (id bigint primary key, payload text);"
      "create publication ev_pub for table events;");
  fx.db().exec_params("insert into sluice.sources (name, conninfo, publication) values ('app', $1, 'ev_pub')",
                      {src.dsn()});
  REQUIRE(fx.run_once().ok());  // the snapshot (empty)
  // 30 source transactions of 10,000 rows, then 500 small ones.
  src.db().exec(
      "do $$ begin for batch in 0..29 loop"
      "  insert into events select i, repeat('p', 200) from generate_series(batch * 10000 + 1, batch * 10000 + 10000) i;"
      "  commit; end loop; end $$");
  src.db().exec(
      "do $$ begin for i in 300001..300500 loop insert into events values (i, 'late'); commit; end loop; end $$");
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto daemon = fx.start_sluice({"--once"}, "kill-" + std::to_string(attempt) + ".log");
    std::this_thread::sleep_for(std::chrono::milliseconds(600 + attempt * 300));
    daemon->kill();
  }
  auto after_kills = fx.scalar("select count(*) from staging.app_events");
  INFO("changes committed before the last kill: " << after_kills);
  CHECK(after_kills < 300500);  // the kills landed mid-stream
  auto finished = fx.run_once();
  INFO(finished.describe());
  REQUIRE(finished.ok());
  CHECK(fx.scalar("select count(*) from staging.app_events") == 300500);
  CHECK(fx.scalar("select count(distinct id) from staging.app_events") == 300500);
  CHECK(source_db::digest(fx.db(), "core.app_events") == source_db::digest(src.db(), "public.events"));
}

}  // namespace sluice::itest

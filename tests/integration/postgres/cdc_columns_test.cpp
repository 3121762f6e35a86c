// Change data capture when a source table changes shape while sluice streams
// it: columns added (with and without defaults, also in the middle of a large
// transaction with sluice killed), dropped or retyped. The change log and the
// mirror follow, or the source is held with the reason; every change is kept
// once.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {

TEST_CASE("a column added on the source while streaming is added to the change log and the mirror, with its values",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, name text);"
      "insert into items select i, 'item ' || i from generate_series(1, 100) i;"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));

  std::atomic<bool> may_alter{false};
  std::atomic<int> step{0};
  std::atomic<int> altered_at{0};
  workload_thread workload([&](const std::atomic<bool>& running) {
    warehouse::connection w(src.dsn());
    bool added = false;
    while (running) {
      int i = ++step;
      if (!added && i >= 200 && may_alter) {
        w.exec("alter table items add column color text");
        added = true;
        altered_at = i;
      }
      w.exec("insert into items values (" + std::to_string(1000 + i) + ", 'new'" + (added ? ", 'c" + std::to_string(i) + "'" : std::string()) + ")");
      if (added) w.exec("update items set color = 'u" + std::to_string(i) + "' where id = " + std::to_string(i % 100 + 1));
      std::this_thread::sleep_for(2ms);
    }
  });
  // The ALTER happens while changes stream: once some have arrived.
  std::int64_t streamed_before_alter = 0;
  REQUIRE(wait_until(
      [&] {
        streamed_before_alter = fx.scalar("select count(*) from staging.app_items where _op = 'i'");
        return streamed_before_alter > 0;
      },
      30s));
  may_alter = true;
  REQUIRE(wait_until([&] { return altered_at.load() > 0; }, 30s));
  REQUIRE(wait_until([&] { return step.load() >= altered_at.load() + 300; }, 60s));
  workload.stop();
  INFO("inserts streamed before the ALTER: " << streamed_before_alter);
  CHECK(streamed_before_alter > 0);

  bool caught_up = mirror_catches_up(fx, src, "core.app_items", "public.items", 60s);
  INFO(daemon->output());
  CHECK(caught_up);
  CHECK(fx.scalar("select count(*) from staging.app_items where color is not null") > 0);
  CHECK(fx.scalar("select count(*) from core.app_items where color like 'u%'") > 0);
  stop_daemon(*daemon, 60s);

  // Added while sluice is not running: the next run adds it too.
  src.db().exec("alter table items add column size int; insert into items values (5000, 'later', 'red', 42);"
                "update items set size = 7 where id = 1");
  auto once = fx.run_once();
  INFO(once.describe());
  REQUIRE(once.ok());
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(fx.scalar("select size from staging.app_items where id = 5000") == 42);
  CHECK(doubled_changes(fx, "staging.app_items") == 0);
}

TEST_CASE("a column dropped or retyped on the source while streaming holds that source with the reason in "
          "sluice.sources, and once the warehouse's tables match it resumes with nothing lost or doubled",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, name text, qty int);"
      "insert into items select i, 'item ' || i, i from generate_series(1, 100) i;"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  src.db().exec("insert into items values (1001, 'before the drop', 1)");
  REQUIRE(wait_for_text(fx, "select count(*) from core.app_items where id = 1001", "1", 30s));
  auto applied_before = fx.text("select applied_lsn::text from sluice.sources where name = 'app'");

  // Dropped: the change after it cannot go into tables that still have the
  // column. The source waits, saying which column; nothing after it lands.
  src.db().exec("alter table items drop column name; insert into items values (1002, 2);"
                "update items set qty = 9 where id = 1");
  auto error_names = [&](const std::string& column) {
    return wait_until(
        [&] {
          auto error = source_error(fx, "app");
          return error.find("column " + column + " ") != std::string::npos;
        },
        30s, 100ms);
  };
  bool held = error_names("name");
  INFO(daemon->output());
  INFO("last_error: " << source_error(fx, "app"));
  REQUIRE(held);
  CHECK(source_state(fx, "app") == "streaming");
  CHECK(fx.text("select applied_lsn::text from sluice.sources where name = 'app'") == applied_before);
  CHECK(fx.scalar("select count(*) from staging.app_items where id = 1002") == 0);
  CHECK(fx.scalar("select qty from core.app_items where id = 1") == 1);
  // Held, not given up: the daemon keeps trying while another change waits.
  src.db().exec("insert into items values (1003, 3)");
  std::this_thread::sleep_for(3s);
  CHECK(daemon->running());
  CHECK(fx.scalar("select count(*) from staging.app_items where id in (1002, 1003)") == 0);

  // Fixed as the message says: the same column dropped in the warehouse.
  fx.db().exec("alter table staging.app_items drop column name; alter table core.app_items drop column name");
  auto caught_up = [&] { return mirror_catches_up(fx, src, "core.app_items", "public.items", 90s); };
  CHECK(caught_up());
  CHECK(fx.scalar("select count(*) from staging.app_items where id in (1002, 1003) and _op = 'i'") == 2);
  CHECK(fx.text("select coalesce(last_error, 'none') from sluice.sources where name = 'app'") == "none");

  // Retyped: the same, for a column whose values no longer fit.
  src.db().exec("alter table items alter column qty type bigint; insert into items values (1004, 5000000000)");
  REQUIRE(error_names("qty"));
  CHECK(fx.scalar("select count(*) from staging.app_items where id = 1004") == 0);
  fx.db().exec("alter table staging.app_items alter column qty type bigint;"
               "alter table core.app_items alter column qty type bigint");
  CHECK(caught_up());
  CHECK(fx.scalar("select qty from core.app_items where id = 1004") == 5000000000LL);
  CHECK(doubled_changes(fx, "staging.app_items") == 0);
  CHECK(fx.scalar("select count(*) from staging.app_items where _op not in ('r', 's')") == 5);  // 1001, 1002, the update, 1003, 1004
  CHECK(daemon->output().find("no longer on the source") != std::string::npos);
  CHECK(daemon->output().find("retyped") != std::string::npos);
  stop_daemon(*daemon, 60s);
}

TEST_CASE("columns added on the source with a default give the mirror's rows from before that default, as the "
          "source's rows have it, and a volatile one is warned about",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, name text);"
      "insert into items select i, 'item ' || i from generate_series(1, 50) i;"
      "create publication pub for table items;");
  // Its change log keeps the copied rows (as for a pack that reads them).
  fx.db().exec("insert into sluice.change_retention (change_log, keep, pack, reason)"
               " values ('staging.app_items', null, 'test', 'reads the copied rows')");
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());
  REQUIRE(fx.scalar("select count(*) from staging.app_items where _op = 'r'") == 50);
  // No row is rewritten on the source, and no change is streamed for them.
  src.db().exec(
      "alter table items add column color text default 'red, or ''so''', add column n int default 7,"
      " add column note text;"
      "insert into items (id, name) values (100, 'new'); update items set n = 8 where id = 1");
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(fx.scalar("select count(*) from core.app_items where n = 7 and color = 'red, or ''so'''") == 50);  // 2..50 and 100
  // The change log keeps history as it came: rows from before have no value.
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'r' and color is not null") == 0);
  CHECK(fx.text("select column_default is null from information_schema.columns"
                " where table_schema = 'core' and table_name = 'app_items' and column_name = 'n'") == "t");

  // A volatile default rewrites the source's table: its values cannot be told.
  src.db().exec("alter table items add column r float8 default random(); update items set name = 'x' where id = 2");
  auto volatile_run = fx.run_once();
  INFO(volatile_run.describe());
  REQUIRE(volatile_run.ok());
  CHECK(volatile_run.output.find("column r of public.items was added with a default") != std::string::npos);
  CHECK(fx.scalar("select count(*) from core.app_items where r is null") == 50);
  CHECK(fx.scalar("select count(*) from core.app_items where id = 2 and r is not null") == 1);
}

TEST_CASE("a column added in the middle of a large source transaction, sluice killed after its part past the ALTER "
          "committed: the restart skips the part before it under the old shape and loads the rest once",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec("create table items (id int primary key, name text); create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());  // the snapshot (empty)
  constexpr int half = 150'000;
  // One transaction: rows, the ALTER, rows with the new column.
  src.db().exec("begin;"
                "insert into items select i, 'before ' || i from generate_series(1, " + std::to_string(half) + ") i;"
                "alter table items add column color text;"
                "insert into items select i, 'after ' || i, 'c' || i from generate_series(" +
                std::to_string(half + 1) + ", " + std::to_string(2 * half) + ") i;"
                "commit");

  // Killed once a batch past the ALTER committed, before the transaction's end.
  auto first = fx.start_sluice({"--once", "--batch-mb", "1"}, "killed.log");
  bool past_alter = wait_until(
      [&] {
        return fx.scalar("select coalesce(max(partial_seq), 0) from sluice.sources where name = 'app'") > half + 1 ||
               !first->running();
      },
      120s, 5ms);
  first->kill();
  INFO(first->output());
  REQUIRE(past_alter);
  auto partial = fx.scalar("select coalesce(max(partial_seq), 0) from sluice.sources where name = 'app'");
  INFO("changes of the transaction committed when killed: " << partial);
  REQUIRE(partial > half + 1);  // past the ALTER (the inserts before it are seq 1..half)
  REQUIRE(partial < 2 * half);  // and before the transaction's end: the kill landed mid-transaction
  CHECK(fx.scalar("select count(*) from staging.app_items where color is not null") > 0);

  auto rest = fx.run_once();
  INFO(rest.describe());
  REQUIRE(rest.ok());
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'i'") == 2 * half);
  CHECK(doubled_changes(fx, "staging.app_items") == 0);
}

}  // namespace sluice::testing

namespace sluice::testing {

TEST_CASE("columns renamed on the source, a key column among them, are renamed in the change log and the mirror with"
          " every value kept",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, name text, qty int);"
      "insert into items select i, 'item ' || i, i from generate_series(1, 1000) i;"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  src.db().exec(
      "update items set qty = qty + 1 where id <= 10;"
      "alter table items rename column name to title;"
      "insert into items values (1001, 'item 1001', 5);"
      "update items set title = 'renamed ' || id where id between 20 and 29;"
      "alter table items rename column id to item_id;"
      "update items set item_id = 5000 where item_id = 50;"
      "delete from items where item_id = 60;");
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());
  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "streaming");
  CHECK(fx.text("select string_agg(attname, ',' order by attnum) from pg_attribute where attrelid ="
                " 'core.app_items'::regclass and attnum > 0 and not attisdropped") == "item_id,title,qty");
  CHECK(fx.scalar("select count(*) from core.app_items where title is null") == 0);
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'u' and _old_item_id = 50") == 1);
}

TEST_CASE("the last column dropped and another of its type added is not taken for a rename: the source holds, naming"
          " the column",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, name text, qty int);"
      "insert into items select i, 'item ' || i, i from generate_series(1, 100) i;"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());
  src.db().exec(
      "alter table items drop column qty; alter table items add column amount int;"
      "update items set amount = 7 where id <= 5;");
  auto second = fx.run_once({"--give-up-after-s", "2"});
  INFO(second.describe());
  CHECK_FALSE(second.ok());
  CHECK(second.output.find("qty") != std::string::npos);
  CHECK(fx.scalar("select count(*) from core.app_items where qty is not null") == 100);  // nothing renamed
}

// BUG (issue 15): a primary key added to a table that had none left its mirror
// append-only: the updates and deletes that followed were not applied.
// BUG (issue 15, until 2026-12-07): under REPLICA IDENTITY FULL the Relation
// message flags every column as the key, and a primary key added to such a
// table keyed its mirror by all of them: a row with a NULL in any column was
// then refused.
TEST_CASE("a primary key added on the source to a table without one keys its mirror from then on", "[integration][cdc]") {
  const bool full = GENERATE(false, true);
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(std::string("create table logs (id int not null, msg text);") +
                (full ? "alter table logs replica identity full;" : "") +
                "insert into logs select i, 'm' || i from generate_series(1, 10) i;"
                "create publication pub for table logs;");
  add_source(fx, "app", src, "pub");
  auto first = fx.run_once();
  INFO((full ? "replica identity full: " : "replica identity default: ") << first.describe());
  REQUIRE(first.ok());
  auto primary_key = [&] {
    return fx.text("select coalesce(string_agg(a.attname, ','), '') from pg_index i join pg_attribute a"
                   " on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
                   " where i.indrelid = 'core.app_logs'::regclass and i.indisprimary");
  };
  REQUIRE(primary_key().empty());
  if (full) {
    src.db().exec("update logs set msg = 'keyless' where id = 2;");  // matched by its whole old row
    REQUIRE(fx.run_once().ok());
  }

  src.db().exec(
      "insert into logs values (11, 'before the key');"
      "alter table logs add primary key (id);"
      "update logs set msg = 'changed' where id <= 3;"
      "update logs set id = 100 where id = 4;"
      "delete from logs where id = 10;"
      "insert into logs values (12, 'after the key'), (13, null);");
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());
  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "streaming");
  // Keyed by the source's key, not by every column the message flagged.
  CHECK(primary_key() == "id");
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  CHECK(rows_of(fx.db(), "select id, msg from core.app_logs") == rows_of(src.db(), "select id, msg from logs"));
  CHECK(fx.scalar("select count(*) from staging.app_logs where _op = 'u' and _old_id = 4 and id = 100") == 1);
  // An update is one change row now, no longer an 'o' row and a 'u' row.
  CHECK(fx.scalar("select count(*) from staging.app_logs where _op = 'o' and id = 1") == 0);

  // Again after a restart: the change log's _old_id stands after its columns
  // now, and the Relation message comes again (under FULL, all flagged).
  src.db().exec("update logs set msg = 'again', id = 101 where id = 100; delete from logs where id = 1;");
  auto third = fx.run_once();
  INFO(third.describe());
  REQUIRE(third.ok());
  CHECK(primary_key() == "id");
  CHECK(rows_of(fx.db(), "select id, msg from core.app_logs") == rows_of(src.db(), "select id, msg from logs"));
}

TEST_CASE("a key added on the source that the mirror's rows cannot take stops the source, saying why",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table logs (id int not null, msg text);"
      "insert into logs values (1, 'a'), (1, 'b'), (2, 'c');"
      "create publication pub for table logs with (publish = 'insert');");  // its delete below is not sent
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());
  src.db().exec(
      "delete from logs where msg = 'b';"
      "alter table logs add primary key (id);"
      "insert into logs values (3, 'd');");
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "stopped");
  CHECK(fx.text("select last_error from sluice.sources where name = 'app'")
            .find("gained a key on the source, which its mirror core.\"app_logs\" cannot take") != std::string::npos);
}

}  // namespace sluice::testing

// The names replication gives things: a source table's warehouse tables
// (staging.S_T, core.S_T) and the replication slot on the source. Two source
// tables must never share warehouse tables, and two warehouses must never
// share a slot.
#include <catch2/catch.hpp>

#include <string>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {
// Regression: S_<schema>_T and S_T of public meet: s.t and public.s_t both
// became staging.app_s_t / core.app_s_t, rows of one overwriting the other's,
// with rc 0, state streaming and no warning.
TEST_CASE("two source tables whose warehouse names meet (s.t and public.s_t) stop the source naming both, instead of "
          "sharing one mirror",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create schema s;"
      "create table s.t (id int primary key, v text);"
      "create table public.s_t (id int primary key, v text);"
      "insert into s.t values (1, 's.t one'), (2, 's.t two'), (3, 's.t three');"
      "insert into public.s_t values (1, 'public.s_t one');"
      "create publication pub for table s.t, public.s_t;");
  add_source(fx, "app", src, "pub");
  auto run = fx.run_once();
  INFO(run.describe());
  auto error = source_error(fx, "app");
  INFO("last_error: " << error);
  CHECK_FALSE(run.ok());
  CHECK(source_state(fx, "app") == "stopped");
  CHECK(error.find("tables public.s_t and s.t") != std::string::npos);
  CHECK(error.find("staging.app_s_t") != std::string::npos);
  CHECK(error.find("alter publication pub drop table") != std::string::npos);
  CHECK(fx.text("select coalesce(to_regclass('core.app_s_t')::text, 'none')") == "none");
  CHECK(run.output.find("staging.app_s_t") != std::string::npos);

  // The way out the message gives: one left out, the source copied afresh.
  src.db().exec("alter publication pub drop table s.t");
  fx.db().exec("update sluice.sources set state = 'new', last_error = null where name = 'app'");
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(source_db::digest(fx.db(), "core.app_s_t") == source_db::digest(src.db(), "public.s_t"));
}

// Regression: PostgreSQL cuts identifiers to 63 bytes, so two 60-character
// table names equal in their first 58 characters were one warehouse table
// (shop_ + 58 characters), a row of one overwriting the other's.
TEST_CASE("two long table names that PostgreSQL's 63-byte limit would cut into one warehouse table stop the source "
          "naming both",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  const std::string stem(58, 'x');
  const auto first = stem + "01";
  const auto second = stem + "02";
  src.db().exec("create table " + first + " (id int primary key, v text);"
                "create table " + second + " (id int primary key, v text);"
                "insert into " + first + " values (1, 'first');"
                "insert into " + second + " values (1, 'second');"
                "create publication pub for table " + first + ", " + second + ";");
  add_source(fx, "shop", src, "pub");
  auto run = fx.run_once();
  INFO(run.describe());
  auto error = source_error(fx, "shop");
  INFO("last_error: " << error);
  CHECK_FALSE(run.ok());
  CHECK(source_state(fx, "shop") == "stopped");
  CHECK(error.find("public." + first + " and public." + second) != std::string::npos);
  CHECK(error.find("staging.shop_" + stem + " ") != std::string::npos);
  CHECK(error.find("63 bytes") != std::string::npos);
  CHECK(fx.scalar("select count(*) from pg_tables where schemaname in ('staging', 'core') and tablename like 'shop\\_xx%'")
        == 0);
}

// Regression: the same meeting, with the second table added to the
// publication while the daemon streams: its changes went into the first
// table's mirror.
TEST_CASE("a table added to the publication while streaming whose warehouse name is another's stops the source "
          "before it touches that mirror",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table public.s_t (id int primary key, v text);"
      "insert into public.s_t select i, 'public ' || i from generate_series(1, 10) i;"
      "create publication pub for table public.s_t;");
  add_source(fx, "app", src, "pub");
  auto daemon = start_daemon(fx, "names-daemon.log");
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  src.db().exec(
      "create schema s; create table s.t (id int primary key, v text);"
      "alter publication pub add table s.t;"
      "insert into s.t values (1, 'from s.t'), (11, 'from s.t');"
      "insert into public.s_t values (12, 'public 12');");
  CHECK(wait_for_source_state(fx, "app", "stopped", 30s));
  auto error = source_error(fx, "app");
  INFO("last_error: " << error);
  CHECK(error.find("public.s_t and s.t") != std::string::npos);
  CHECK(error.find("core.app_s_t") != std::string::npos);
  // Nothing of s.t in public.s_t's mirror.
  CHECK(fx.scalar("select count(*) from core.app_s_t where v = 'from s.t'") == 0);
  stop_daemon(*daemon);
}

// Regression: the slot was sluice_<name> whatever the warehouse, so a second
// warehouse adding a source of the same name dropped the first one's slot
// and made its own: the first stopped for good, its rows since missing.
TEST_CASE("two warehouses replicating one source database under the same source name each keep their own slot, and "
          "neither loses a row",
          "[integration][cdc]") {
  sluice_fixture first;
  sluice_fixture second;
  source_db src(source_name(first));
  src.db().exec(
      "create table items (id int primary key, note text);"
      "insert into items values (0, 'before both');"
      "create publication pub for table items;");
  add_source(first, "app", src, "pub");
  auto first_copy = first.run_once();
  INFO(first_copy.describe());
  REQUIRE(first_copy.ok());
  add_source(second, "app", src, "pub");
  auto second_copy = second.run_once();
  INFO(second_copy.describe());
  REQUIRE(second_copy.ok());

  src.db().exec("insert into items select i, 'after both' from generate_series(1, 100) i");
  for (auto* fx : {&first, &second}) {
    auto run = fx->run_once();
    INFO(fx->database() << ": " << run.describe());
    CHECK(run.ok());
    CHECK(fx->text("select state || ' ' || coalesce(last_error, '') from sluice.sources where name = 'app'") ==
          "streaming ");
    CHECK(source_db::digest(fx->db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  }
  CHECK(slot_of(first, "app") != slot_of(second, "app"));
  CHECK(src.db().exec("select count(*) from pg_replication_slots where database = current_database()").int64(0, 0) ==
        2);
}

// A warehouse whose source was added before slot names carried the
// warehouse's id has the slot sluice_<name>: it keeps it (it is recorded in
// sluice.sources), and copying the source afresh makes it again under the
// same name.
TEST_CASE("a source whose recorded slot is sluice_<name> keeps streaming from it, also when copied afresh",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, note text);"
      "insert into items values (1, 'one');"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub", "sluice_app");
  REQUIRE(fx.run_once().ok());
  src.db().exec("insert into items values (2, 'two')");
  REQUIRE(fx.run_once().ok());
  fx.db().exec("update sluice.sources set state = 'new' where name = 'app'");
  src.db().exec("insert into items values (3, 'three')");
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  CHECK(slot_of(fx, "app") == "sluice_app");
  CHECK(src.db().exec("select string_agg(slot_name, ',') from pg_replication_slots where database = current_database()")
            .text(0, 0) == "sluice_app");
}

// Regression: a table added to the publication while streaming was never
// copied: of its 100 rows, the mirror held only the ones changed after,
// with no log line and last_error empty.
TEST_CASE("a table added to the publication while streaming is copied, then streamed, each row once",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, note text);"
      "create table later (id int primary key, note text);"
      "insert into items values (1, 'one');"
      "insert into later select i, 'before it was published' from generate_series(1, 100) i;"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  auto daemon = start_daemon(fx, "added-table-daemon.log");
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  src.db().exec("alter publication pub add table later");
  src.db().exec("insert into later values (101, 'after')");
  src.db().exec("update later set note = 'changed after' where id = 7");
  src.db().exec("insert into items values (2, 'two')");
  auto caught_up = [&] {
    try {
      return source_db::digest(fx.db(), "core.app_later") == source_db::digest(src.db(), "public.later") &&
             fx.scalar("select count(*) from core.app_items") == 2;
    } catch (const std::exception&) {
      return false;
    }
  };
  bool equal = wait_until(caught_up, 30s, 200ms);
  INFO("mirror: " << fx.text("select count(*) || ' rows' from core.app_later") << "; last_error: "
                  << source_error(fx, "app"));
  CHECK(equal);
  // The copy in the mirror alone, its marker at the copy's LSN, and only
  // the changes after it in the change log, each once.
  CHECK(fx.scalar("select count(*) from staging.app_later where _op = 'r'") == 0);
  CHECK(fx.scalar("select count(*) from staging.app_later l join sluice.source_copies c"
                  " on c.source = 'app' and c.source_table = 'public.later' and l._lsn = c.copied_lsn"
                  " where l._op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_later where _op <> 's' and _lsn <="
                  " (select copied_lsn from sluice.source_copies where source = 'app' and source_table = 'public.later')") == 0);
  CHECK(fx.scalar("select count(*) from (select _lsn, _seq from staging.app_later"
                  " group by 1, 2 having count(*) > 1) d") == 0);
  const auto inserts_before = fx.scalar("select count(*) from staging.app_later where _op = 'i'");
  // And after a restart, nothing copied or streamed again.
  stop_daemon(*daemon);
  src.db().exec("insert into later values (102, 'while stopped')");
  auto once = fx.run_once();
  INFO(once.describe());
  REQUIRE(once.ok());
  CHECK(source_db::digest(fx.db(), "core.app_later") == source_db::digest(src.db(), "public.later"));
  CHECK(fx.scalar("select count(*) from staging.app_later where _op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_later where _op = 'i'") == inserts_before + 1);
  CHECK(fx.text("select state || ' ' || coalesce(last_error, '') from sluice.sources where name = 'app'") ==
        "streaming ");
}

}  // namespace sluice::testing

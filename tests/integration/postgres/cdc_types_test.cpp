// Types a real application has, replicated: enums (kept as text), arrays of
// enums (text[]), domains (their base type, also over an enum), arrays of
// domains, and generated columns (left out: pgoutput does not send them).
// Through the initial copy, streamed changes, and a column of an enum type
// added while streaming. BUG (issue 15): "type ???" stopped the source.

#include <catch2/catch.hpp>

#include <string>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {
TEST_CASE("enum, enum[], domain and domain[] columns replicate as their text or base type, and a generated column is"
          " left out",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create type mood as enum ('sad', 'ok', 'happy');"
      "create domain posint as integer check (value > 0);"
      "create domain feeling as mood;"
      "create table items (id int primary key, m mood, ms mood[], q posint, qs posint[], f feeling,"
      "  total int generated always as (q * 2) stored, note text);"
      "insert into items (id, m, ms, q, qs, f, note)"
      "  select i, 'ok', array['sad', 'happy']::mood[], i, array[i, i + 1], 'happy', 'n' || i"
      "    from generate_series(1, 50) i;"
      "create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  CHECK(fx.scalar("select count(*) from core.app_items") == 50);

  src.db().exec(
      "insert into items (id, m, ms, q, qs, f, note) values (51, 'happy', '{ok,ok}', 7, '{1,2,3}', 'sad', null),"
      "  (52, null, '{}', null, null, null, 'empty');"
      "update items set m = 'happy', ms = '{ok}', q = q + 100, qs = array[q] where id <= 10;"
      "delete from items where id > 45 and id <= 50;"
      "alter table items add column m2 mood, add column fs feeling[];"
      "update items set m2 = 'sad', fs = '{happy,sad}' where id in (1, 51);");
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());

  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "streaming");
  CHECK(rows_of(fx.db(), "select id, m, ms, q, qs, f, note, m2, fs from core.app_items") ==
        rows_of(src.db(), "select id, m::text, ms::text[], q::int, qs::int[], f::text, note, m2::text, fs::text[]"
                          " from items"));
  CHECK(fx.text("select string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' order by attnum)"
                " from pg_attribute where attrelid = 'core.app_items'::regclass and attnum > 0 and not attisdropped") ==
        "id integer, m text, ms text[], q integer, qs integer[], f text, note text, m2 text, fs text[]");
  CHECK(fx.text("select col_description('core.app_items'::regclass, 2)").find("mood") != std::string::npos);
  // The change log holds the streamed values too, as the mirror does.
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'u' and ms = '{ok}'::text[]") == 11);  // row 1 twice
}

// BUG (issue 15): a source column named as one of the change log's own
// columns (_op, _lsn ...) stopped the source: "column specified more than once".
TEST_CASE("source columns named as sluice's own are called source<name> in the warehouse, visibly",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table events (_op text, id int primary key, _lsn bigint, _old_id int, note text);"
      "insert into events select 'op' || i, i, i * 10, i + 1000, 'n' || i from generate_series(1, 20) i;"
      "create publication pub for table events;");
  add_source(fx, "app", src, "pub");
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  CHECK(fx.text("select string_agg(attname, ', ' order by attnum) from pg_attribute"
                " where attrelid = 'core.app_events'::regclass and attnum > 0 and not attisdropped") ==
        "source_op, id, source_lsn, source_old_id, note");

  src.db().exec(
      "update events set _op = 'changed', _lsn = -1 where id <= 5;"
      "update events set id = id + 100, _old_id = 0 where id = 6;"  // a key change: _old_id holds the old key
      "delete from events where id = 7;"
      "insert into events values ('new', 21, 210, 1021, 'n21');"
      "alter table events add column _commit_at text;"
      "update events set _commit_at = 'later' where id in (1, 21);");
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());
  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "streaming");
  CHECK(rows_of(fx.db(), "select source_op, id, source_lsn, source_old_id, note, source_commit_at from core.app_events") ==
        rows_of(src.db(), "select _op, id, _lsn, _old_id, note, _commit_at from events"));
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 'u' and _old_id = 6 and id = 106") == 1);
  CHECK(fx.text("select col_description('core.app_events'::regclass, 1)").find("_op is a column of sluice's own") !=
        std::string::npos);
}

TEST_CASE("a source column whose warehouse name another column has stops the source, saying which",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table clash (id int primary key, _op text, source_op text);"
      "insert into clash values (1, 'a', 'b');"
      "create publication pub for table clash;");
  add_source(fx, "app", src, "pub");
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(fx.text("select state from sluice.sources where name = 'app'") == "stopped");
  CHECK(fx.text("select last_error from sluice.sources where name = 'app'")
            .find("column source_op of public.clash on source app would be source_op") != std::string::npos);
}

}  // namespace sluice::testing

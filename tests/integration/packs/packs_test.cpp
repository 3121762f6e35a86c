// Packs: `sluice migrate --packs ... --pack-dir ...` installs the packs chosen
// (built-in or a user's folder), upgrades them by version per pack, refuses an
// applied migration that was edited, converts the bookkeeping of warehouses
// migrated before packs were chosen; `sluice run` refuses a warehouse whose
// built-in packs are behind the binary.
#include <catch2/catch.hpp>

#include "support/temp_dir.h"
#include "support/fixture.h"
#include "warehouse/packs.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

// A user's pack: NDJSON orders dropped into inbox/shop/.
const std::string shop_staging = R"sql(
create table staging.shop_order (
  _file_id   bigint not null,
  _record    bigint not null,
  ordered_at timestamptz not null,
  order_id   bigint not null,
  customer   text not null,
  total      double precision
);
comment on table staging.shop_order is 'Shop orders as loaded.';
insert into sluice.feeds (name, file_globs, format) values ('shop', '{shop/*.ndjson}', 'ndjson');
insert into sluice.feed_targets (feed, target_table) values ('shop', 'staging.shop_order');
insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values
  ('shop', 'staging.shop_order', 'ordered_at', '/ordered_at'),
  ('shop', 'staging.shop_order', 'order_id',   '/order_id'),
  ('shop', 'staging.shop_order', 'customer',   '/customer'),
  ('shop', 'staging.shop_order', 'total',      '/total');
)sql";

const std::string shop_reports = R"sql(
create view reports.shop_daily_sales as
select (ordered_at at time zone 'UTC')::date as day, count(*) as orders, sum(total) as total
  from staging.shop_order group by 1;
comment on view reports.shop_daily_sales is 'Orders and revenue per UTC day.';
)sql";

const std::string shop_orders =
    "{\"ordered_at\":\"2024-05-01T10:00:00+02:00\",\"order_id\":1,\"customer\":\"ada\",\"total\":19.5}\n"
    "{\"ordered_at\":\"2024-05-01T11:30:00+02:00\",\"order_id\":2,\"customer\":\"bob\",\"total\":5}\n"
    "{\"ordered_at\":\"yesterday\",\"order_id\":3,\"customer\":\"cy\",\"total\":1}\n";

fs::path write_pack_file(sluice_fixture& fx, const std::string& pack, const std::string& file,
                         const std::string& sql) {
  fs::path path = fx.work() / pack / file;
  sluice::testing::write_in_place(path, sql);
  return path;
}

std::string shop_dir(sluice_fixture& fx) { return (fx.work() / "shop").string(); }

std::int64_t applied_count(sluice_fixture& fx, const std::string& pack) {
  return fx.scalar("select count(*) from sluice.pack_migrations where pack = $1", {pack});
}

bool relation_exists(sluice_fixture& fx, const std::string& name) {
  return fx.text("select to_regclass($1) is not null", {name}) == "t";
}

// Migrations built into this binary, of one pack or (empty name) of all.
std::int64_t builtin_migration_count(const std::string& pack = "") {
  std::int64_t total = 0;
  for (const auto& p : warehouse::builtin_packs()) {
    if (pack.empty() || p.name == pack) total += static_cast<std::int64_t>(p.migrations.size());
  }
  return total;
}

}  // namespace

TEST_CASE("a user pack from --pack-dir is installed, loads its feed, and is upgraded by a new file",
          "[integration][packs]") {
  sluice_fixture fx;
  write_pack_file(fx, "shop", "0001_staging.sql", shop_staging);
  auto installed = fx.migrate({"--pack-dir", shop_dir(fx)});
  INFO(installed.describe());
  REQUIRE(installed.ok());
  CHECK(fx.text("select source || ' ' || dir from sluice.packs where name = 'shop'") ==
        "dir " + fs::canonical(shop_dir(fx)).string());
  CHECK(applied_count(fx, "shop") == 1);
  CHECK(applied_count(fx, "hubdoc") == builtin_migration_count("hubdoc"));

  fx.write_file("shop/2024-05-01.ndjson", shop_orders);
  auto loaded = fx.run_once();
  INFO(loaded.describe());
  REQUIRE(loaded.ok());
  CHECK(fx.scalar("select count(*) from staging.shop_order") == 2);
  CHECK(fx.rejects(fx.file_id("shop/2024-05-01.ndjson")) == 1);

  // The upgrade: a new file in the folder, the same command again.
  auto first_applied_at = fx.text("select applied_at::text from sluice.pack_migrations where pack = 'shop'");
  write_pack_file(fx, "shop", "0002_reports.sql", shop_reports);
  auto upgraded = fx.migrate({"--pack-dir", shop_dir(fx)});
  INFO(upgraded.describe());
  REQUIRE(upgraded.ok());
  CHECK(applied_count(fx, "shop") == 2);
  CHECK(fx.text("select applied_at::text from sluice.pack_migrations where pack = 'shop' and version = 1") ==
        first_applied_at);
  CHECK(fx.scalar("select orders from reports.shop_daily_sales") == 2);

  // Without its folder the pack is left as it is, and the warehouse still runs.
  auto without_folder = fx.migrate();
  INFO(without_folder.describe());
  REQUIRE(without_folder.ok());
  CHECK_THAT(without_folder.output, Catch::Contains("pack shop") && Catch::Contains("left as it is"));
  auto run_again = fx.run_once();
  INFO(run_again.describe());
  CHECK(run_again.ok());
}

TEST_CASE("a migration edited after it was applied is refused, naming the file, and nothing is applied",
          "[integration][packs]") {
  sluice_fixture fx;
  auto first = write_pack_file(fx, "shop", "0001_staging.sql", shop_staging);
  REQUIRE(fx.migrate({"--pack-dir", shop_dir(fx)}).ok());

  write_pack_file(fx, "shop", "0001_staging.sql", shop_staging + "-- one more line\n");
  write_pack_file(fx, "shop", "0002_reports.sql", shop_reports);
  auto refused = fx.migrate({"--pack-dir", shop_dir(fx)});
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains(fs::canonical(first).string() + " was changed after it was applied") &&
                                 Catch::Contains("add a new migration"));
  CHECK(applied_count(fx, "shop") == 1);
  CHECK_FALSE(relation_exists(fx, "reports.shop_daily_sales"));
}

TEST_CASE("a built-in migration applied with other content is refused by migrate and run, naming the file",
          "[integration][packs]") {
  sluice_fixture fx;
  fx.db().exec("update sluice.pack_migrations set checksum = '0123456789abcdef'"
               " where pack = 'hubdoc' and version = 1");
  auto migrate = fx.migrate();
  INFO(migrate.describe());
  CHECK_FALSE(migrate.ok());
  CHECK_THAT(migrate.output, Catch::Contains("sql/hubdoc/0001_staging.sql was changed after it was applied"));
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK_FALSE(run.ok());
  CHECK_THAT(run.output, Catch::Contains("sql/hubdoc/0001_staging.sql was applied with other content"));
}

TEST_CASE("sluice run is refused while an installed built-in pack lacks a migration, saying to migrate",
          "[integration][packs]") {
  sluice_fixture fx;
  fx.db().exec("delete from sluice.pack_migrations where pack = 'hubdoc' and version = 4");
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(run.exited);
  CHECK(run.code == 1);
  CHECK_THAT(run.output, Catch::Contains("sql/hubdoc/0004_maintenance.sql is not applied") &&
                             Catch::Contains("run `sluice migrate` with the same DSN"));
  CHECK(fx.scalar("select count(*) from sluice.files") == 0);
}

TEST_CASE("migrate with --packs sluice installs no domain pack: no Hubdoc tables nor job, and run --once works",
          "[integration][packs]") {
  sluice_fixture fx(fixture_options{true, {"--packs", "sluice"}});
  CHECK(fx.text("select string_agg(name, ',') from sluice.packs") == "sluice");
  // sluice/0001 still creates the old bookkeeping table; it must not outlive the migrate.
  CHECK(fx.text("select to_regclass('sluice.migrations') is null") == "t");
  CHECK(fx.scalar("select count(*) from sluice.jobs") == 0);
  CHECK_FALSE(relation_exists(fx, "staging.hubdoc_login"));

  fx.write_file("hubdoc/2019-01.log", "{\"log_type\":\"LOGIN\"}\n");
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK_THAT(run.output, Catch::Contains("no feed takes this file"));
  CHECK(fx.scalar("select count(*) from sluice.jobs where last_run_at is not null") == 0);

  // A plain migrate keeps the warehouse to the packs it has ...
  auto plain = fx.migrate();
  INFO(plain.describe());
  REQUIRE(plain.ok());
  CHECK_THAT(plain.output, Catch::Contains("built-in packs not installed: hubdoc"));
  CHECK(fx.scalar("select count(*) from sluice.packs") == 1);
  // ... until a pack is named.
  auto hubdoc = fx.migrate({"--packs", "hubdoc"});
  INFO(hubdoc.describe());
  REQUIRE(hubdoc.ok());
  CHECK(applied_count(fx, "hubdoc") == builtin_migration_count("hubdoc"));
  CHECK(fx.scalar("select count(*) from sluice.jobs") > 0);
}

TEST_CASE("a warehouse made with --packs sales takes the hubdoc pack later: the calendar is sluice's",
          "[integration][packs]") {
  sluice_fixture fx(fixture_options{true, {"--packs", "sales"}});
  CHECK(fx.scalar("select count(*) from core.dim_date where date between '2000-01-01' and '2060-12-31'") ==
        fx.scalar("select '2060-12-31'::date - '2000-01-01'::date + 1"));
  fx.db().exec("select core.sales_ensure_dates(array['1999-12-24'::date])");

  auto hubdoc = fx.migrate({"--packs", "hubdoc"});
  INFO(hubdoc.describe());
  REQUIRE(hubdoc.ok());
  CHECK(applied_count(fx, "hubdoc") == builtin_migration_count("hubdoc"));
  CHECK(fx.scalar("select count(*) from core.dim_date where date = '1999-12-24' and weekday = 5") == 1);
  // No pack's migration creates the calendar: it is sql/sluice's.
  for (const auto& p : warehouse::builtin_packs()) {
    for (const auto& m : p.migrations) {
      INFO(m.origin);
      if (p.name != "sluice") CHECK(m.sql.find("table core.dim_date") == std::string::npos);
    }
  }
}

TEST_CASE("migrate refuses a pack that is neither built in nor given, and a folder named like a built-in pack",
          "[integration][packs]") {
  sluice_fixture fx(fixture_options{false, {}});
  auto unknown = fx.migrate({"--packs", "hubdoc,nosuch"});
  INFO(unknown.describe());
  CHECK_FALSE(unknown.ok());
  CHECK_THAT(unknown.output, Catch::Contains("--packs nosuch: no such pack") && Catch::Contains("sluice, hubdoc"));

  write_pack_file(fx, "hubdoc", "0001_mine.sql", "select 1;");
  auto clash = fx.migrate({"--pack-dir", (fx.work() / "hubdoc").string()});
  INFO(clash.describe());
  CHECK_FALSE(clash.ok());
  CHECK_THAT(clash.output, Catch::Contains("is the name of a built-in pack"));
  CHECK(fx.text("select to_regclass('sluice.files') is null") == "t");  // nothing installed
}

TEST_CASE("a warehouse migrated before packs were chosen has its sluice.migrations rows converted",
          "[integration][packs][upgrade]") {
  sluice_fixture fx(fixture_options{false, {}});
  // What the old `sluice migrate` left: the sluice pack's first file and every
  // Hubdoc file (the packs of that time) applied, each recorded under one
  // global version: Hubdoc's files were numbered 01xx then, as their
  // ancestors (pack_history.cpp) say.
  // Hubdoc's files of that time are the ones with a 01xx ancestor; later ones
  // (0007_time_zone on) came with packs and may need later sluice files.
  auto was_legacy = [](const warehouse::migration& m) {
    if (m.pack == "sluice") return m.version == 1;
    if (m.pack != "hubdoc") return false;
    for (const auto& a : warehouse::builtin_migration_ancestors()) {
      if (a.now == &m) return true;
    }
    return false;
  };
  auto legacy_name = [](const warehouse::migration& m) {
    for (const auto& a : warehouse::builtin_migration_ancestors()) {
      if (a.now == &m) return std::pair{a.applied_version, a};
    }
    return std::pair{m.version, warehouse::migration_ancestor{m.pack, m.version, m.file, m.checksum, &m}};
  };
  std::int64_t legacy_rows = 0;
  for (const auto& p : warehouse::builtin_packs()) {
    for (const auto& m : p.migrations) {
      if (!was_legacy(m)) continue;
      auto [version, was] = legacy_name(m);
      fx.db().exec(m.sql);
      fx.db().exec_params(
          "insert into sluice.migrations (version, name, checksum, applied_at)"
          " values ($1::int, $2, $3, '2024-01-01 00:00:00+00'::timestamptz + $1::int * interval '1 second')",
          {std::to_string(version), m.pack + "/" + was.applied_as, was.applied_checksum});
      ++legacy_rows;
    }
  }
  auto refused = fx.run_once();
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains("migrated by an older sluice"));

  auto upgraded = fx.migrate();
  INFO(upgraded.describe());
  REQUIRE(upgraded.ok());
  CHECK(fx.text("select to_regclass('sluice.migrations') is null") == "t");
  CHECK(fx.text("select string_agg(name || ':' || source, ',' order by name) from sluice.packs") ==
        "hubdoc:builtin,sluice:builtin");
  // Every old row kept its time, under its pack, as the file that stands for
  // it now.
  for (const auto& p : warehouse::builtin_packs()) {
    for (const auto& m : p.migrations) {
      if (!was_legacy(m)) continue;
      INFO(m.origin);
      CHECK(fx.text("select name || ' ' || checksum || ' ' || (applied_at < '2025-01-01') from"
                    " sluice.pack_migrations where pack = $1 and version = $2",
                    {m.pack, std::to_string(m.version)}) == m.file + " " + m.checksum + " true");
    }
  }
  CHECK(fx.scalar("select count(*) from sluice.pack_migrations where applied_at < '2025-01-01'") == legacy_rows);
  // Then the installed packs are upgraded, and only those.
  CHECK(fx.scalar("select count(*) from sluice.pack_migrations") ==
        builtin_migration_count("sluice") + builtin_migration_count("hubdoc"));

  auto again = fx.migrate();
  INFO(again.describe());
  CHECK(again.ok());
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(run.ok());
}

TEST_CASE("two migrations of a new warehouse at once take turns: every file applied once",
          "[integration][packs]") {
  sluice_fixture fx(fixture_options{false, {}});
  std::vector<std::string> argv{SLUICE_BINARY, "migrate", "--dsn", fx.dsn()};
  child_process first(argv, fx.work() / "migrate-a.log");
  child_process second(argv, fx.work() / "migrate-b.log");
  auto a = first.wait_for(120s);
  auto b = second.wait_for(120s);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  INFO(a->describe());
  INFO(b->describe());
  CHECK(a->ok());
  CHECK(b->ok());
  CHECK(fx.scalar("select count(*) from sluice.pack_migrations") == builtin_migration_count());
  CHECK(fx.text("select to_regclass('sluice.migrations') is null") == "t");
}

}  // namespace sluice::testing

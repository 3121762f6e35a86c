// Carrying a warehouse forward: one made by the sluice of commit
// `made_by` (before the packs were made uniform: numbered per pack, the
// calendar in the sluice pack, sales' tables prefixed, orders' *_full()) is
// migrated by this sluice without a refusal and without losing a row, and
// ends with the schema a new warehouse gets. The old warehouse is made from
// that commit's own files (git show), applied and recorded as its `sluice
// migrate` did, so the test needs the repository's history.
#include <catch2/catch.hpp>

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <sstream>

#include "support/fixture.h"
#include "support/temp_dir.h"
#include "warehouse/packs.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

// The last commit of main before the packs were made uniform.
constexpr std::string_view made_by = "8256d3529efaec821ebab51f92974ca5ad873dbe";

// The standard output of a shell command; fails the test when it fails.
std::string capture(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe);
  std::string out;
  std::array<char, 65536> buffer{};
  std::size_t got = 0;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) out.append(buffer.data(), got);
  int status = pclose(pipe.release());
  INFO(command);
  REQUIRE(status == 0);
  return out;
}

std::string git(const std::string& args) {
  return capture("git -C '" + std::string(SLUICE_SOURCE_DIR) + "' " + args);
}

std::string hex64(std::string_view text) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return out;
}

// What `sluice migrate --packs <packs>` of commit `made_by` did to a new
// warehouse: its bookkeeping tables (the SQL in its migrate.cpp), then each
// pack's files in version order (sluice first, then by name), each in a
// transaction with its rows in sluice.packs and sluice.pack_migrations.
void make_warehouse_as_before(sluice_fixture& fx, std::vector<std::string> packs) {
  auto rev = std::string(made_by);
  auto migrate_cpp = git("show " + rev + ":warehouse/migrate.cpp");
  auto begin = migrate_cpp.find("bookkeeping_sql = R\"sql(");
  REQUIRE(begin != std::string::npos);
  begin = migrate_cpp.find('(', begin) + 1;
  auto end = migrate_cpp.find(")sql\"", begin);
  fx.db().exec(migrate_cpp.substr(begin, end - begin));

  std::sort(packs.begin(), packs.end());
  packs.insert(packs.begin(), "sluice");
  for (const auto& pack : packs) {
    std::istringstream names(git("ls-tree --name-only " + rev + " sql/" + pack + "/"));
    std::vector<std::pair<int, std::string>> files;
    for (std::string path; std::getline(names, path);) {
      auto file = fs::path(path).filename().string();
      if (auto version = warehouse::migration_version(file)) files.emplace_back(*version, file);
    }
    REQUIRE_FALSE(files.empty());
    std::sort(files.begin(), files.end());
    for (const auto& [version, file] : files) {
      auto sql = git("show " + rev + ":sql/" + pack + "/" + file);
      warehouse::transaction tx(fx.db());
      fx.db().exec(sql);
      fx.db().exec_params("insert into sluice.packs (name, source) values ($1, 'builtin') on conflict do nothing",
                          {pack});
      fx.db().exec_params(
          "insert into sluice.pack_migrations (pack, version, name, checksum, applied_at)"
          " values ($1, $2::int, $3, $4, '2026-01-01')",
          {pack, std::to_string(version), file, hex64(sql)});
      if (pack == "sluice" && version == 1) fx.db().exec("drop table sluice.migrations");
      tx.commit();
    }
  }
}

// A few rows of each pack, as its loads would leave them (the triggers run).
void add_rows_as_before(sluice_fixture& fx, const std::vector<std::string>& packs) {
  auto file = [&](const std::string& feed, const std::string& path) {
    return std::to_string(fx.scalar(
        "insert into sluice.files (feed, path, state, head_hash, done_hash) values ($1, $2, 'loaded', 'h', 'h')"
        " returning id",
        {feed, path}));
  };
  auto has = [&](const std::string& p) { return std::find(packs.begin(), packs.end(), p) != packs.end(); };
  if (has("hubdoc")) {
    auto id = file("hubdoc", "hubdoc/2019-01.log");
    fx.db().exec("insert into staging.hubdoc_signup (_file_id, _record, event_time, account, plan, address) values"
                 " (" + id + ", 1, '2019-01-03 10:00-05', 1, 'basic', '1 Main St, Toronto, ON M5V 2T6'),"
                 " (" + id + ", 2, '2019-01-04 10:00-05', 2, 'pro', '2 Rue Sainte, Montreal, QC H2X 1Y4')");
    fx.db().exec("insert into staging.hubdoc_login (_file_id, _record, event_time, account) values"
                 " (" + id + ", 3, '2019-01-05 10:00-05', 1), (" + id + ", 4, '2019-03-20 10:00-05', 2)");
    fx.db().exec("select reports.hubdoc_rebuild()");
  }
  if (has("sales")) {
    auto id = file("sales", "sales/export.csv");
    fx.db().exec("insert into staging.sales (_file_id, _record, sale_id, product_id, product_name, brand, category,"
                 " retailer_id, retailer_name, channel, location, quantity, price, sale_date) values"
                 " (" + id + ", 1, 1, 1, 'Laptop', 'BrandA', 'Electronics', 1, 'TechGear', 'Online', null, 3, 4500,"
                 " '2024-02-05'),"
                 " (" + id + ", 2, 2, 2, 'Coffee Maker', 'BrandB', 'Appliances', 2, 'Home', 'Offline', 'NY', 1, 100,"
                 " '1999-12-24'),"
                 " (" + id + ", 3, 3, null, 'Mystery', null, null, 1, 'TechGear', 'Online', null, 2, 10,"
                 " '2024-02-06')");
  }
  if (has("orders")) {
    auto id = file("orders", "orders/orders-20240302T000000Z.csv");
    fx.db().exec("insert into staging.orders_export (_file_id, _record, order_id, ordered_at, customer_id,"
                 " product_id, product_name, quantity, unit_price, status) values"
                 " (" + id + ", 1, 16, '2024-03-01 00:49:51Z', 45, 10, 'Milk jug', 4, 14.64, 'paid'),"
                 " (" + id + ", 2, 16, '2024-03-01 00:49:51Z', 45, 11, 'Cup', 1, 3.50, 'paid'),"
                 " (" + id + ", 3, 17, '2024-03-01 08:00:00Z', 46, 10, 'Milk jug', 1, 14.64, 'placed')");
  }
}

// The warehouse's schema as pg_dump writes it, without what names the database.
std::string schema_of(sluice_fixture& fx) {
  auto dump = capture(std::string(PG_BINDIR) + "/pg_dump --schema-only --no-owner --no-privileges -d '" +
                      fx.dsn() + "'");
  std::istringstream lines(dump);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    // \restrict and \unrestrict carry a random key per dump (pg_dump 15.14 on).
    if (line.starts_with("--") || line.empty() || line.starts_with("\\restrict") ||
        line.starts_with("\\unrestrict")) {
      continue;
    }
    out += line + "\n";
  }
  return out;
}

// An empty string when equal, else what diff -u says.
std::string schema_difference(sluice_fixture& fx, const std::string& got, const std::string& want) {
  if (got == want) return "";
  auto got_path = fx.work() / "schema-upgraded.sql";
  auto want_path = fx.work() / "schema-new.sql";
  write_in_place(got_path, got);
  write_in_place(want_path, want);
  return capture("diff -u '" + want_path.string() + "' '" + got_path.string() + "' || true");
}

std::int64_t builtin_migrations(const std::vector<std::string>& packs) {
  std::int64_t total = 0;
  for (const auto& p : warehouse::builtin_packs()) {
    if (p.name == "sluice" || std::find(packs.begin(), packs.end(), p.name) != packs.end()) {
      total += static_cast<std::int64_t>(p.migrations.size());
    }
  }
  return total;
}

}  // namespace

TEST_CASE("a warehouse made before the packs were uniform migrates forward with its rows, to a new one's schema",
          "[integration][packs][upgrade]") {
  const std::vector<std::string> all{"hubdoc", "orders", "pleo", "sales"};
  sluice_fixture old(fixture_options{false, {}});
  make_warehouse_as_before(old, all);
  add_rows_as_before(old, all);
  auto facts_before = old.text("select string_agg(sale_id || ':' || quantity || ':' || amount, ',' order by sale_id)"
                               " from core.fact_sales");
  auto daily_before = old.text("select string_agg(day || ':' || orders || ':' || revenue, ',') from reports.orders_daily");
  REQUIRE(old.scalar("select count(*) from core.fact_sales") == 3);
  REQUIRE(old.scalar("select count(*) from core.hubdoc_dim_customer") == 2);

  auto refused = old.run_once();
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains("run `sluice migrate`"));

  auto migrated = old.migrate();
  INFO(migrated.describe());
  REQUIRE(migrated.ok());
  CHECK_THAT(migrated.output, Catch::Contains("0101_staging.sql as an older sluice applied it is recorded as"
                                              " sql/hubdoc/0001_staging.sql"));
  // Every file of this sluice is recorded once, under its name now; the rows
  // of the old files keep when they were applied.
  CHECK(old.scalar("select count(*) from sluice.pack_migrations") == builtin_migrations(all));
  for (const auto& p : warehouse::builtin_packs()) {
    // The packs it has (a pack added to sluice since is not installed here).
    if (p.name != "sluice" && std::find(all.begin(), all.end(), p.name) == all.end()) continue;
    for (const auto& m : p.migrations) {
      INFO(m.origin);
      CHECK(old.text("select name || ' ' || checksum from sluice.pack_migrations where pack = $1 and version = $2",
                     {m.pack, std::to_string(m.version)}) == m.file + " " + m.checksum);
    }
  }
  CHECK(old.scalar("select count(*) from sluice.pack_migrations where pack = 'hubdoc' and applied_at = '2026-01-01'") ==
        6);

  // The rows are all there, under the tables' names now.
  CHECK(old.scalar("select count(*) from staging.sales") == 3);
  CHECK(old.text("select string_agg(sale_id || ':' || quantity || ':' || amount, ',' order by sale_id)"
                 " from core.sales_fact") == facts_before);
  CHECK(old.text("select string_agg(day || ':' || orders || ':' || revenue, ',') from reports.orders_daily") ==
        daily_before);
  CHECK(old.scalar("select count(*) from core.hubdoc_dim_customer") == 2);
  CHECK(old.scalar("select count(*) from core.dim_date where date between '2000-01-01' and '2060-12-31'") ==
        old.scalar("select '2060-12-31'::date - '2000-01-01'::date + 1"));
  CHECK(old.scalar("select count(*) from core.dim_date where date = '1999-12-24' and weekday = 5") == 1);

  // The same schema as a new warehouse's (tables, columns in their order,
  // functions, triggers, comments).
  sluice_fixture fresh(fixture_options{true, {"--packs", "hubdoc,orders,pleo,sales"}});  // the packs it has
  auto difference = schema_difference(old, schema_of(old), schema_of(fresh));
  INFO(difference);
  CHECK(difference.empty());

  auto again = old.migrate();
  INFO(again.describe());
  CHECK(again.ok());
  CHECK_THAT(again.output, !Catch::Contains("as an older sluice applied it"));
  auto run = old.run_once();
  INFO(run.describe());
  CHECK(run.ok());
}

TEST_CASE("a warehouse made before with --packs sales takes the hubdoc pack later", "[integration][packs][upgrade]") {
  sluice_fixture old(fixture_options{false, {}});
  make_warehouse_as_before(old, {"sales"});
  add_rows_as_before(old, {"sales"});

  auto migrated = old.migrate({"--packs", "hubdoc"});
  INFO(migrated.describe());
  REQUIRE(migrated.ok());
  CHECK(old.text("select string_agg(name, ',' order by name) from sluice.packs") == "hubdoc,sales,sluice");
  CHECK(old.scalar("select count(*) from sluice.pack_migrations") == builtin_migrations({"hubdoc", "sales"}));
  CHECK(old.scalar("select count(*) from core.sales_fact") == 3);
  // The calendar kept sales' day outside 2000-2060 and has hubdoc's days.
  CHECK(old.scalar("select count(*) from core.dim_date where date = '1999-12-24'") == 1);
  CHECK(old.scalar("select count(*) from core.dim_date where date = '2060-12-31'") == 1);

  sluice_fixture fresh(fixture_options{true, {"--packs", "sales,hubdoc"}});
  auto difference = schema_difference(old, schema_of(old), schema_of(fresh));
  INFO(difference);
  CHECK(difference.empty());
}

}  // namespace sluice::testing

// The orders pack end to end: sluice-gen-orders runs the shop's workload on a
// real source database (a source_db of support/cdc_source.h, on the sources'
// cluster), sluice replicates it as source `shop`, and the pack's
// reports must equal the same reports computed on the source's own tables.
// The CSV exports of sluice-gen-orders --csv go through the inbox into the
// same reports.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {
namespace {

// The reports as the pack defines them, computed on the shop's own tables.
constexpr const char* daily_on_source =
    "select (o.ordered_at at time zone 'UTC')::date as day, count(*)::int as orders, sum(b.items)::int as items,"
    " sum(b.revenue) as revenue, round(sum(b.items)::numeric / count(*), 2), round(sum(b.revenue) / count(*), 2)"
    " from orders o cross join lateral (select coalesce(sum(quantity), 0) as items,"
    "   coalesce(sum(quantity * unit_price), 0) as revenue from order_lines l where l.order_id = o.order_id) b"
    " where o.status <> 'cancelled' group by 1";
constexpr const char* pairs_on_source =
    "select a.product_id, b.product_id, count(*)::int from orders o"
    " join order_lines a on a.order_id = o.order_id"
    " join order_lines b on b.order_id = o.order_id and b.product_id > a.product_id"
    " where o.status <> 'cancelled' group by 1, 2";
// Revenue printed with two decimals on both sides (sums of numeric(10,2)
// carry their scale; the warehouse's may differ in trailing zeros).
std::string normalised_daily(warehouse::connection& db, const std::string& query) {
  return rows_of(db, "select day, orders, items, revenue::numeric(14,2), r5, r6 from (" + query +
                         ") d(day, orders, items, revenue, r5, r6)");
}

exit_status generate(const sluice_fixture& fx, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv{SLUICE_GEN_ORDERS};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, fx.work() / log, 120s);
}

}  // namespace

TEST_CASE("the orders reports equal the same reports computed on the shop's database after sluice replicates its workload",
          "[integration][cdc][orders]") {
  sluice_fixture fx;
  source_db shop(source_name(fx, "shop_"));
  // Before sluice knows the shop: the schema, the publication, some orders
  // (the initial snapshot takes them).
  auto before = generate(fx, {"--dsn", shop.dsn(), "--rate", "100", "--seconds", "2", "--seed", "11"}, "gen-1.log");
  INFO(before.describe());
  REQUIRE(before.ok());
  add_source(fx, "shop", shop, "orders_pub");
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  CHECK(fx.scalar("select count(*) from staging.shop_orders where _op = 'r'") > 50);

  // The workload while sluice streams, then a last catch-up.
  auto workload = std::make_unique<child_process>(
      std::vector<std::string>{SLUICE_GEN_ORDERS, "--dsn", shop.dsn(), "--rate", "60", "--seconds", "4", "--seed",
                               "12"},
      fx.work() / "gen-2.log");
  auto during = fx.run_once();
  INFO(during.describe());
  REQUIRE(during.ok());
  auto ended = workload->wait_for(60s);
  REQUIRE(ended.has_value());
  INFO(ended->describe());
  REQUIRE(ended->ok());
  auto last = fx.run_once();
  INFO(last.describe());
  REQUIRE(last.ok());

  warehouse::connection source(shop.dsn());
  CHECK(fx.scalar("select count(*) from staging.shop_orders where _op = 'u'") > 20);
  CHECK(fx.scalar("select count(*) from staging.shop_order_lines where _op = 'd'") > 0);
  // The pack made the change logs; the replicator added the mirrors to them.
  CHECK(rows_of(fx.db(), "select * from core.shop_orders") == rows_of(source, "select * from orders"));
  CHECK(rows_of(fx.db(), "select * from core.shop_order_lines") == rows_of(source, "select * from order_lines"));

  CHECK(normalised_daily(fx.db(), "select * from reports.orders_daily") == normalised_daily(source, daily_on_source));
  CHECK(rows_of(fx.db(), "select * from reports.orders_product_pairs") == rows_of(source, pairs_on_source));
  CHECK(rows_of(fx.db(), "select order_id, status from core.orders_status_history where is_current") ==
        rows_of(source, "select order_id, status from orders"));
  CHECK(fx.scalar("select count(*) from core.orders_status_history where version > 1") > 10);
  CHECK(fx.scalar("select count(*) from reports.orders_daily") >= 1);
  // Incremental equals full, on a real change log (snapshot rows included).
  for (const auto* table : {"reports.orders_daily", "reports.orders_product_pairs", "core.orders_order",
                            "core.orders_line", "core.orders_basket", "core.orders_status_history"}) {
    INFO(table);
    CHECK(rows_of(fx.db(), std::string("table ") + table) ==
          rows_of(fx.db(), std::string("select * from ") + table + "_full()"));
  }
}

TEST_CASE("a change log of the orders pack whose columns differ from the shop's table stops the source naming the column",
          "[integration][cdc][orders]") {
  sluice_fixture fx;
  source_db shop(source_name(fx, "shop_"));
  auto made = generate(fx, {"--dsn", shop.dsn(), "--rate", "50", "--seconds", "1"}, "gen.log");
  REQUIRE(made.ok());
  // As a pack written for another shop might have it: quantity is text.
  fx.db().exec("alter table staging.shop_order_lines alter column quantity type text");
  add_source(fx, "shop", shop, "orders_pub");
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK_FALSE(run.ok());
  CHECK(run.output.find("column quantity of public.order_lines on source shop is integer on the source but text in"
                        " staging.\"shop_order_lines\"") != std::string::npos);
  CHECK(run.output.find("alter column \"quantity\" type integer") != std::string::npos);
  CHECK(fx.scalar("select count(*) from staging.shop_orders") == 0);  // nothing half-copied
}

TEST_CASE("a column added on the shop while sluice is stopped is added to the pack's change log and the mirror",
          "[integration][cdc][orders]") {
  sluice_fixture fx;
  source_db shop(source_name(fx, "shop_"));
  REQUIRE(generate(fx, {"--dsn", shop.dsn(), "--rate", "50", "--seconds", "1"}, "gen.log").ok());
  add_source(fx, "shop", shop, "orders_pub");
  REQUIRE(fx.run_once().ok());
  warehouse::connection source(shop.dsn());
  source.exec("alter table orders add column note text; update orders set note = 'rush', updated_at = now()"
              " where order_id in (select order_id from orders order by order_id limit 3)");
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(fx.scalar("select count(*) from staging.shop_orders where note = 'rush'") == 3);
  CHECK(rows_of(fx.db(), "select * from core.shop_orders") == rows_of(source, "select * from orders"));
  CHECK(rows_of(fx.db(), "select order_id, status from core.orders_order") ==
        rows_of(source, "select order_id, status from orders"));
}

TEST_CASE("the shop's CSV exports dropped into the inbox fill the same reports", "[integration][orders]") {
  sluice_fixture fx;
  auto made = generate(fx, {"--csv", (fx.inbox() / "orders").string(), "--orders", "400", "--exports", "4",
                            "--seed", "5"}, "gen-csv.log");
  INFO(made.describe());
  REQUIRE(made.ok());
  std::uint64_t rows = 0;
  for (const auto& entry : std::filesystem::directory_iterator(fx.inbox() / "orders")) {
    auto content = read_file(entry.path());
    rows += static_cast<std::uint64_t>(std::count(content.begin(), content.end(), '\n')) - 1;  // minus the header
  }
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(fx.scalar("select count(*) from staging.orders_export") == static_cast<std::int64_t>(rows));
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  CHECK(fx.scalar("select count(*) from staging.orders_export where product_name like '%,%'") > 0);
  // Each order as its latest export has it.
  CHECK(rows_of(fx.db(), "select order_id, status from core.orders_order") ==
        rows_of(fx.db(),
                "select distinct on (order_id) order_id, status from staging.orders_export"
                " order by order_id, core.orders_export_time(_file_id) desc"));
  CHECK(fx.scalar("select count(*) from core.orders_order where status = 'shipped'") > 0);
  CHECK(fx.scalar("select sum(orders) from reports.orders_daily") ==
        fx.scalar("select count(*) from core.orders_order where status <> 'cancelled'"));
  CHECK(fx.scalar("select count(*) from reports.orders_product_pairs") > 0);
  CHECK(rows_of(fx.db(), "table reports.orders_daily") == rows_of(fx.db(), "select * from reports.orders_daily_full()"));
  CHECK(rows_of(fx.db(), "table reports.orders_product_pairs") ==
        rows_of(fx.db(), "select * from reports.orders_product_pairs_full()"));
  // Its ids are above any the demo shop's database hands out, seed 5's own.
  CHECK(fx.scalar("select count(*) from staging.orders_export where order_id not between 1005000000 and 1005000399") ==
        0);

  // Run again into the same folder: it overwrites nothing.
  std::map<std::string, std::string> before;
  for (const auto& entry : std::filesystem::directory_iterator(fx.inbox() / "orders")) {
    before[entry.path().filename().string()] = read_file(entry.path());
  }
  auto again = generate(fx, {"--csv", (fx.inbox() / "orders").string(), "--orders", "400", "--exports", "4",
                             "--seed", "6"}, "gen-csv-again.log");
  CHECK_FALSE(again.ok());
  CHECK(again.output.find("exists; nothing written") != std::string::npos);
  std::map<std::string, std::string> after;
  for (const auto& entry : std::filesystem::directory_iterator(fx.inbox() / "orders")) {
    after[entry.path().filename().string()] = read_file(entry.path());
  }
  CHECK(after == before);
}

}  // namespace sluice::testing

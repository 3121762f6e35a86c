// The sales pack end to end: CSV exports dropped into sales/ go through the
// loader (CSV reader, value formats, gzip) into staging.sales, and the pack's
// triggers keep the star schema and the reports. The sample export of
// ../shared/samples/sales is checked against figures computed by hand; exports
// with every trap, cut into pieces, some gzipped, dropped in random order over
// several runs, are checked against the pack's full recompute.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "support/gzip.h"
#include "support/checks.h"
#include "support/fixture.h"
#include "support/sales_input.h"

namespace sluice::testing {
namespace {

// The first rows of a real export, as ../shared/samples/sales/export-sample.csv
// has them (kept here so that the test does not depend on a folder outside
// the repository).
constexpr std::string_view sample_export =
    "SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,Quantity,Price,Date\n"
    "1,1,Laptop,BrandA,Electronics,1,TechGear,Online,,3,4500,2024-02-05\n"
    "2,2,Coffee Maker,BrandB,Appliances,1,TechGear,Online,,1,100,2024-02-24\n"
    "3,5,Blender,BrandE,Appliances,1,TechGear,Online,,4,800,2024-02-10\n"
    "4,1,Laptop,BrandA,Electronics,1,TechGear,Online,,2,3000,2024-02-26\n"
    "5,2,Coffee Maker,BrandB,Appliances,3,GadgetWorld,Offline,San Francisco,1,100,2024-02-09\n"
    "6,5,Blender,BrandE,Appliances,1,TechGear,Online,,5,1000,2024-02-06\n"
    "7,4,Desk Chair,BrandD,Furniture,1,TechGear,Online,,5,1500,2024-02-14\n"
    "8,3,Smartphone,BrandC,Electronics,1,TechGear,Online,,2,1600,2024-02-04\n"
    "9,4,Desk Chair,BrandD,Furniture,2,HomeEssentials,Offline,New York,2,600,2024-02-20\n"
    "10,2,Coffee Maker,BrandB,Appliances,2,HomeEssentials,Offline,New York,1,100,2024-02-25\n"
    "11,4,Desk Chair,BrandD,Furniture,1,TechGear,Online,,3,900,2024-02-17\n"
    "12,5,Blender,BrandE,Appliances,2,HomeEssentials,Offline,New York,1,200,2024-02-03\n"
    "13,4,Desk Chair,BrandD,Furniture,3,GadgetWorld,Offline,San Francisco,4,1200,2024-02-25\n"
    "14,1,Laptop,BrandA,Electronics,3,GadgetWorld,Offline,San Francisco,5,7500,2024-02-19\n"
    "15,3,Smartphone,BrandC,Electronics,3,GadgetWorld,Offline,San Francisco,1,800,2024-02-22\n"
    "16,1,Laptop,BrandA,Electronics,3,GadgetWorld,Offline,San Francisco,3,4500,2024-02-21\n"
    "17,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,1500,2024-02-01\n"
    "18,4,Desk Chair,BrandD,Furniture,2,HomeEssentials,Offline,New York,3,900,2024-02-14\n"
    "19,2,Coffee Maker,BrandB,Appliances,2,HomeEssentials,Offline,New York,2,200,2024-02-17\n"
    "20,3,Smartphone,BrandC,Electronics,3,GadgetWorld,Offline,San Francisco,1,800,2024-01-30";

// Everything the pack's triggers keep equals its full recompute from staging.
void check_equals_full(sluice_fixture& fx) {
  CHECK(difference(fx, "select product_id, product_name, brand, category, valid_from, valid_to from core.sales_dim_product",
                   "select * from core.sales_dim_product_full()") == 0);
  CHECK(difference(fx,
                   "select retailer_id, retailer_name, channel, location, valid_from, valid_to from core.sales_dim_retailer",
                   "select * from core.sales_dim_retailer_full()") == 0);
  CHECK(difference(fx,
                   "select f.sale_id, d.date, p.product_id, p.valid_from, r.retailer_id, r.valid_from, f.quantity,"
                   " f.amount from core.sales_fact f join core.dim_date d on d.date_key = f.date_key"
                   " join core.sales_dim_product p on p.product_key = f.product_key"
                   " join core.sales_dim_retailer r on r.retailer_key = f.retailer_key",
                   "select * from core.sales_fact_full()") == 0);
  CHECK(difference(fx, "select * from reports.sales_monthly", "select * from reports.sales_monthly_full()") == 0);
  CHECK(difference(fx, "select * from reports.sales_data_quality", "select * from reports.sales_data_quality_full()") ==
        0);
}

// `content` (a header line, then rows) cut into `pieces` files of whole rows,
// each with the header.
std::vector<std::string> cut(const std::string& content, std::size_t pieces, std::mt19937_64& random) {
  auto header_end = content.find('\n') + 1;
  std::string header = content.substr(0, header_end);
  std::vector<std::size_t> row_starts;
  for (std::size_t at = header_end; at < content.size();) {
    row_starts.push_back(at);
    auto nl = content.find('\n', at);
    at = nl == std::string::npos ? content.size() : nl + 1;
  }
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < pieces; ++i) cuts.push_back(row_starts[random() % row_starts.size()]);
  cuts.push_back(header_end);
  cuts.push_back(content.size());
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    auto piece = content.substr(cuts[i], cuts[i + 1] - cuts[i]);
    if (!piece.empty() && piece.back() != '\n') piece += '\n';  // only the export's last row lacks it
    out.push_back(header + piece);
  }
  return out;
}

}  // namespace

TEST_CASE("the sales sample goes through the sales pack into the star schema and reports computed by hand",
          "[integration][sales]") {
  sluice_fixture fx;
  fx.write_file("sales/export-sample.csv", sample_export);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  check_conserved(fx, "sales/export-sample.csv", 20, static_cast<std::int64_t>(sample_export.size()));
  CHECK(fx.scalar("select count(*) from staging.sales") == 20);
  CHECK(fx.scalar("select count(*) from core.sales_fact") == 20);
  // Price is the line's amount: 31,800 in all, 800 of it in January.
  CHECK(fx.text("select sum(amount)::text from core.sales_fact") == "31800.00");
  CHECK(fx.text("select sum(revenue)::text from reports.sales_monthly where month = '2024-01-01'") == "800.00");
  CHECK(fx.text("select sum(revenue)::text from reports.sales_monthly where month = '2024-02-01'") == "31000.00");
  // Laptop at TechGear (Online) in February: sales 1, 4 and 17.
  CHECK(fx.text("select quantity || '|' || revenue from reports.sales_monthly where month = '2024-02-01'"
                " and product_name = 'Laptop' and retailer_name = 'TechGear' and channel = 'Online'") == "6|9000.00");
  CHECK(fx.scalar("select count(*) from reports.sales_monthly") == 13);
  // Five products and three retailers, one version each; the unknown product member.
  CHECK(fx.scalar("select count(*) from core.sales_dim_product where product_id is not null") == 5);
  CHECK(fx.scalar("select count(*) from core.sales_dim_product where product_name = 'Unknown'") == 1);
  CHECK(fx.scalar("select count(*) from core.sales_dim_retailer") == 3);
  CHECK(fx.scalar("select count(*) from core.sales_dim_retailer where retailer_id = 1 and location is null") == 1);
  // Every sale date is in dim_date, with its calendar.
  CHECK(fx.text("select year || '-' || quarter || '-' || month || '-' || day || '-' || iso_week || '-' || weekday"
                " from core.dim_date where date = '2024-01-30'") == "2024-1-1-30-5-2");
  CHECK(fx.scalar("select count(*) from reports.sales_data_quality") == 0);
  check_equals_full(fx);
}

TEST_CASE("sales exports with every trap, cut in pieces, some gzipped, in random order: incremental equals full",
          "[integration][sales]") {
  sluice_fixture fx;
  std::mt19937_64 random(20241130);
  // Four exports; the later ones repeat sale ids of the earlier ones with
  // other values (corrections), and every trap of the real export.
  std::vector<sales_export> exports;
  exports.push_back(generate_sales(fx, 3000, 101, 37, 1));
  exports.push_back(generate_sales(fx, 3000, 102, 41, 2001));
  exports.push_back(generate_sales(fx, 1500, 103, 29, 1));
  exports.push_back(generate_sales(fx, 800, 104, 0, 4500));
  std::int64_t bad_prices = 0;
  std::int64_t rows = 3000 + 3000 + 1500 + 800;
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  for (std::size_t e = 0; e < exports.size(); ++e) {
    bad_prices += exports[e].traps["bad_price"];
    auto pieces = cut(exports[e].content, 1 + random() % 4, random);
    for (std::size_t p = 0; p < pieces.size(); ++p) {
      auto name = "sales/export-" + std::to_string(e) + "-" + std::to_string(p) + ".csv";
      if (random() % 3 == 0) files.emplace_back(name + ".gz", sluice::testing::gzip_of(pieces[p]));
      else files.emplace_back(name, pieces[p]);
    }
  }
  REQUIRE(bad_prices > 0);
  std::shuffle(files.begin(), files.end(), random);
  INFO(files.size() << " files");
  // Three runs, each with the next third of the files; checked after each.
  for (std::size_t run_index = 0; run_index < 3; ++run_index) {
    for (std::size_t f = run_index * files.size() / 3; f < (run_index + 1) * files.size() / 3; ++f) {
      fx.write_file(files[f].first, files[f].second);
    }
    auto run = fx.run_once();
    INFO(run.describe());
    REQUIRE(run.ok());
    check_equals_full(fx);
  }
  CHECK(fx.scalar("select count(*) from staging.sales") + fx.scalar("select count(*) from sluice.rejects") == rows);
  CHECK(fx.scalar("select count(*) from sluice.rejects where field = 'Price' and reason like '%100USD%'") == bad_prices);
  // The traps reach the report: missing product ids, non-positive quantities,
  // sale ids seen more than once.
  CHECK(fx.scalar("select count(*) from reports.sales_data_quality where rule = 'missing_product_id'") > 0);
  CHECK(fx.scalar("select count(*) from reports.sales_data_quality where rule = 'non_positive_quantity'") > 0);
  CHECK(fx.scalar("select count(*) from reports.sales_data_quality where rule = 'duplicate_sale_id'") > 0);
  CHECK(fx.scalar("select count(distinct sale_id) from core.sales_fact") == fx.scalar("select count(*) from core.sales_fact"));
}

}  // namespace sluice::testing

// CSV feeds end to end with `sluice run`: conservation across batch sizes, every
// kind of bad row as a reject, a header that lacks a declared column, position
// mappings, a growing CSV tailed across a restart, and kill -9 mid-load.
#include <catch2/catch.hpp>

#include <signal.h>

#include <random>
#include <thread>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/sales_input.h"

namespace sluice::testing {
namespace {

std::vector<std::string> batch_flags(const std::string& which) {
  if (which == "1 MB batches") return {"--batch-mb", "1"};
  if (which == "1 MB batches streamed 2 MB at a time, 4 COPY streams") {
    return {"--batch-mb", "1", "--stream-mb", "2", "--copy-streams", "4"};
  }
  if (which == "1 MB batches unstreamed") return {"--batch-mb", "1", "--stream-mb", "0"};
  return {};
}

// Rows of a generated export that hold `part` and load (a 100USD price is rejected).
std::int64_t loaded_rows_with(std::string_view content, std::string_view part) {
  std::int64_t n = 0;
  while (!content.empty()) {
    auto newline = content.find('\n');
    auto line = content.substr(0, newline);
    if (line.find(part) != std::string_view::npos && line.find(",100USD,") == std::string_view::npos) ++n;
    if (newline == std::string_view::npos) break;
    content.remove_prefix(newline + 1);
  }
  return n;
}

}  // namespace

TEST_CASE("a generated sales export loads with loaded + rejected == records, only its bad prices rejected",
          "[integration][csv][conservation]") {
  for (std::string batches : {"default batches", "1 MB batches", "1 MB batches unstreamed",
                              "1 MB batches streamed 2 MB at a time, 4 COPY streams"}) {
    DYNAMIC_SECTION(batches) {
      sluice_fixture fx;
      declare_sales_feed(fx);
      auto made = generate_sales(fx, 40'000, 31, 97);
      fx.write_file("test-sales/2024-02.csv", made.content);
      auto run = fx.run_once(batch_flags(batches));
      INFO(run.describe());
      REQUIRE(run.ok());
      check_conserved(fx, "test-sales/2024-02.csv", 40'000, static_cast<std::int64_t>(made.content.size()));
      auto id = std::to_string(fx.file_id("test-sales/2024-02.csv"));
      // Only "100USD" prices are bad: blank ids and None are NULL, slashed dates
      // are an accepted format, negative quantities and duplicates are data.
      CHECK(fx.rejects(std::stoll(id)) == made.traps.at("bad_price"));
      CHECK(fx.scalar("select count(*) from sluice.rejects where file_id = $1 and field = 'Price'"
                      " and reason like '%\"100USD\" is not a valid numeric(12,2)%'", {id}) == made.traps.at("bad_price"));
      CHECK(fx.scalar("select count(*) from staging.test_sales where product_id is null") ==
            made.traps.at("blank_product"));
      CHECK(fx.scalar("select count(*) from staging.test_sales where location is null") ==
            loaded_rows_with(made.content, ",Online,,") + loaded_rows_with(made.content, ",None,"));
      CHECK(fx.scalar("select count(*) from staging.test_sales where quantity < 0") == made.traps.at("negative_qty"));
      CHECK(fx.scalar("select count(*) from staging.test_sales where location = 'Austin, TX'") ==
            loaded_rows_with(made.content, ",\"Austin, TX\","));
      CHECK(fx.scalar("select count(*) from staging.test_sales where product_name = 'Monitor 27\", 4K'") ==
            loaded_rows_with(made.content, ",\"Monitor 27\"\", 4K\","));
      CHECK(fx.scalar("select count(*) from staging.test_sales where sold_on not between '2024-02-01' and '2024-02-29'") == 0);
      CHECK(fx.duplicate_staging_keys() == 0);
    }
  }
}

TEST_CASE("every kind of bad CSV row is a reject with its line, header name, value and what was expected",
          "[integration][csv][rejects]") {
  for (std::string batches : {"default batches", "1 MB batches"}) {
    DYNAMIC_SECTION(batches) {
      sluice_fixture fx;
      declare_sales_feed(fx);
      const std::string header =
          "\xEF\xBB\xBF" "SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,"
          "Quantity,Price,Date\r\n";
      auto good = [](int id) {
        return std::to_string(id) + ",1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,1500,2024-02-05";
      };
      std::string content = header;                                            // line 1
      content += good(1) + "\r\n";                                             // line 2
      content += "2,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,100USD,2024-02-05\n";    // 3: bad price
      content += "\n";                                                         // 4: blank
      content += "3,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,1500,2024-13-45\n";      // 5: bad date
      content += "4,1,\"Laptop\nwith a line break\",BrandA,Electronics,1,TechGear,Online,,1,1500,2024-02-05\n";  // 6-7
      content += "5,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,1500\n";  // 8: too few fields
      content += "6,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,1500,2024-02-05,extra\n";  // 9: too many
      content += "7,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,1234567890123.5,2024-02-05\n";  // 10: too big
      content += "None,1,Laptop,BrandA,Electronics,1,TechGear,Online,,1,15,2024-02-05\n";   // 11: NULL SaleID
      content += good(8) + "\n";                                               // 12
      content += "9,1,\"Laptop\"x,BrandA,Electronics,1,TechGear,Online,,1,1,2024-02-05\n";  // 13: text after quote
      content += good(10) + "\n";                                              // 14
      content += "11,1,\"never closed,BrandA,Electronics,1,TechGear,Online,,1,1,2024-02-05\n";  // 15-16: unterminated
      fx.write_file("test-sales/bad.csv", content);
      auto run = fx.run_once(batch_flags(batches));
      INFO(run.describe());
      REQUIRE(run.ok());
      check_conserved(fx, "test-sales/bad.csv", 12, static_cast<std::int64_t>(content.size()));
      auto id = std::to_string(fx.file_id("test-sales/bad.csv"));
      auto rejects = fx.db().exec_params(
          "select record, line, byte_offset, coalesce(field, ''), reason from sluice.rejects where file_id = $1"
          " order by record", {id});
      struct want {
        std::int64_t record, line;
        std::string field, reason_part, starts;
      };
      std::vector<want> expected = {
          {2, 3, "Price", "\"100USD\" is not a valid numeric(12,2)", "2,1,Laptop"},
          {3, 5, "Date", "\"2024-13-45\" is not a valid date: month is not between 01 and 12", "3,1,"},
          {5, 8, "", "ragged row: 11 fields, but the header has 12", "5,1,"},
          {6, 9, "", "ragged row: 13 fields", "6,1,"},
          {7, 10, "Price", "too many digits before the decimal point", "7,1,"},
          {8, 11, "SaleID", "NOT NULL", "None,1,"},
          {10, 13, "ProductName", "text after the closing quote", "9,1,"},
          {12, 15, "", "unterminated quote", "11,1,"},
      };
      REQUIRE(rejects.rows() == static_cast<int>(expected.size()));
      for (int row = 0; row < rejects.rows(); ++row) {
        const auto& w = expected[static_cast<std::size_t>(row)];
        INFO("reject " << row << ": " << rejects.text(row, 4));
        CHECK(rejects.int64(row, 0) == w.record);
        CHECK(rejects.int64(row, 1) == w.line);
        CHECK(rejects.int64(row, 2) == static_cast<std::int64_t>(content.find("\n" + w.starts) + 1));
        CHECK(rejects.text(row, 3) == w.field);
        CHECK(rejects.text(row, 4).find(w.reason_part) != std::string::npos);
      }
      CHECK(fx.text("select product_name from staging.test_sales where sale_id = 4") == "Laptop\nwith a line break");
      CHECK(fx.scalar("select _record from staging.test_sales where sale_id = 10") == 11);
    }
  }
}

TEST_CASE("a file whose header lacks a declared column is rejected row by row, and other files load",
          "[integration][csv][rejects]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 500, 41, 0);
  fx.write_file("test-sales/good.csv", made.content);
  // The same rows with the columns in another order and Price renamed.
  std::string renamed = "Date,SaleID,Cost\n2024-02-01,1,10\n2024-02-02,2,20\n2024-02-03,3,30";
  fx.write_file("test-sales/renamed.csv", renamed);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  check_conserved(fx, "test-sales/good.csv", 500, static_cast<std::int64_t>(made.content.size()));
  check_conserved(fx, "test-sales/renamed.csv", 3, static_cast<std::int64_t>(renamed.size()));
  auto id = std::to_string(fx.file_id("test-sales/renamed.csv"));
  CHECK(fx.rejects(std::stoll(id)) == 3);
  CHECK(fx.scalar("select count(*) from sluice.rejects where file_id = $1 and field = 'ProductID'"
                  " and reason like '%header has no column ProductID, ProductName%Price%'", {id}) == 3);
  CHECK(run.output.find("every row of this file is rejected") != std::string::npos);
  CHECK(fx.rejects(fx.file_id("test-sales/good.csv")) == 0);
}

TEST_CASE("a CSV feed mapped by position loads files without a header", "[integration][csv]") {
  sluice_fixture fx;
  declare_sales_feed(fx, false);
  auto made = generate_sales(fx, 300, 43, 0);
  auto rows = made.content.substr(made.content.find('\n') + 1);  // no header
  fx.write_file("test-sales/no-header.csv", rows);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  check_conserved(fx, "test-sales/no-header.csv", 300, static_cast<std::int64_t>(rows.size()));
  CHECK(fx.rejects(fx.file_id("test-sales/no-header.csv")) == 0);
  CHECK(fx.scalar("select min(sale_id) from staging.test_sales") == 1);
}

TEST_CASE("a growing CSV is tailed like a log, and after a restart its header is read again",
          "[integration][csv][daemon]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  // Columns in another order than the table's: rows only bind through the header.
  const std::string path = "test-sales/live.csv";
  auto row = [](int id) {
    return std::to_string(id) + ",2024-02-0" + std::to_string(1 + id % 9) + "," + std::to_string(id) + ".25,x\n";
  };
  std::string content = "SaleID,Date,Price,Location,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,"
                        "Channel,Quantity\n";
  // The feed needs every declared header; give the rest as empty fields.
  auto full = [&](int id) {
    auto r = row(id);
    r.pop_back();
    return r + ",,,,,,,,\n";
  };
  content += full(1) + full(2);
  fx.write_file(path, content);
  auto daemon = fx.start_sluice({"--settle-ms", "50"}, "tail-1.log");
  auto rows_in = [&] { return fx.scalar("select count(*) from staging.test_sales"); };
  REQUIRE(wait_until([&] { return rows_in() == 2; }, 30s));
  // Appended a row at a time, the last one in two writes (a line without its
  // line break waits).
  for (int id = 3; id <= 6; ++id) {
    fx.append_file(path, full(id));
    content += full(id);
  }
  auto last = full(7);
  fx.append_file(path, last.substr(0, 8));
  REQUIRE(wait_until([&] { return rows_in() == 6; }, 30s));
  std::this_thread::sleep_for(300ms);
  CHECK(rows_in() == 6);
  daemon->kill();

  // A restart resumes at the committed offset and reads the header again.
  fx.append_file(path, last.substr(8));
  content += last;
  fx.append_file(path, full(8));
  content += full(8);
  auto again = fx.start_sluice({"--settle-ms", "50"}, "tail-2.log");
  REQUIRE(wait_until([&] { return rows_in() == 8; }, 30s));
  again->signal(SIGTERM);
  auto ended = again->wait_for(30s);
  REQUIRE(ended.has_value());
  INFO(ended->describe());
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  CHECK(fx.scalar("select (sum(price) * 100)::bigint from staging.test_sales") == 36 * 100 + 8 * 25);
  CHECK(fx.scalar("select count(distinct _record) from staging.test_sales") == 8);
  CHECK(fx.scalar("select max(_record) from staging.test_sales") == 8);
  CHECK(fx.scalar("select count(*) from sluice.files") == 1);
  CHECK(fx.duplicate_staging_keys() == 0);
}

TEST_CASE("kill -9 during a large CSV load, then --once: nothing lost, nothing doubled",
          "[integration][csv][exactly-once][slow]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 1'000'000, 47, 499);
  check_killed_load_is_exactly_once(fx, "test-sales/big.csv", made.content, made, 1'000'000);
}

}  // namespace sluice::testing

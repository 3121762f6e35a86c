// The CSV feed the CSV and gzip tests load: staging.test_sales, declared the way
// a sales pack would declare it, and sluice-gen-sales' exports for it.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {

// staging.test_sales and feed test_sales: test-sales/*.csv and *.csv.gz (the sales
// pack takes sales/), by
// header name, NULL for "" and None, ISO or slashed dates. `header` false: the
// same columns by position, files without a header row.
inline void declare_sales_feed(sluice_fixture& fx, bool header = true) {
  fx.db().exec(R"sql(
    create table staging.test_sales (
      _file_id      bigint not null,
      _record       bigint not null,
      sale_id       integer not null,
      product_id    integer,
      product_name  text,
      brand         text,
      category      text,
      retailer_id   integer,
      retailer_name text,
      channel       text,
      location      text,
      quantity      integer,
      price         numeric(12,2),
      sold_on       date not null
    ))sql");
  fx.db().exec(std::string("insert into sluice.feeds (name, file_globs, format, csv_header, null_strings, date_formats)"
                           " values ('test_sales', '{test-sales/*.csv,test-sales/*.csv.gz}', 'csv', ") +
               (header ? "true" : "false") + ", '{\"\",None}', '{YYYY-MM-DD,YYYY/MM/DD}')");
  fx.db().exec("insert into sluice.feed_targets (feed, route_value, target_table)"
               " values ('test_sales', '', 'staging.test_sales')");
  static constexpr const char* columns[][2] = {
      {"sale_id", "SaleID"},          {"product_id", "ProductID"}, {"product_name", "ProductName"},
      {"brand", "Brand"},             {"category", "Category"},    {"retailer_id", "RetailerID"},
      {"retailer_name", "RetailerName"}, {"channel", "Channel"},   {"location", "Location"},
      {"quantity", "Quantity"},       {"price", "Price"},          {"sold_on", "Date"}};
  int position = 0;
  for (const auto& [column, name] : columns) {
    ++position;
    fx.db().exec_params(std::string("insert into sluice.feed_columns (feed, target_table, column_name, ") +
                            (header ? "csv_header" : "csv_position") +
                            ") values ('test_sales', 'staging.test_sales', $1, $2)",
                        {column, header ? std::string(name) : std::to_string(position)});
  }
}

struct sales_export {
  std::string content;
  std::map<std::string, std::int64_t> traps;  // blank_product, bad_price, ... as the generator counted them
};

// sluice-gen-sales output (header + rows; the last row without a line break).
inline sales_export generate_sales(sluice_fixture& fx, std::uint64_t rows, std::uint64_t seed,
                                   std::uint64_t traps_every = 97, std::uint64_t first_id = 1) {
  auto out = fx.work() / ("sales-" + std::to_string(seed) + ".csv");
  auto run = run_process({SLUICE_GEN_SALES, "--rows", std::to_string(rows), "--seed", std::to_string(seed),
                          "--traps-every", std::to_string(traps_every), "--first-id", std::to_string(first_id),
                          "--out", out.string()},
                         fx.work() / "gen-sales.log", std::chrono::seconds(300));
  if (!run.ok()) throw std::runtime_error("sluice-gen-sales failed: " + run.describe());
  sales_export made;
  made.content = read_file(out);
  std::regex count(R"((\w+)=(\d+))");
  for (std::sregex_iterator it(run.output.begin(), run.output.end(), count), end; it != end; ++it) {
    made.traps[(*it)[1]] = std::stoll((*it)[2]);
  }
  std::filesystem::remove(out);
  return made;
}

// Writes `file_content` (a sales export, maybe gzipped) at `path`, kills
// `sluice run --once` with SIGKILL at random moments of its load (three times,
// at least once mid-load), checking the ledger and staging after each kill,
// then finishes with --once: every record of `made` once, in staging or in
// rejects.
inline void check_killed_load_is_exactly_once(sluice_fixture& fx, const std::string& path,
                                              const std::string& file_content, const sales_export& made,
                                              std::int64_t records) {
  fx.write_file(path, file_content);
  int kills_mid_load = kill_loads_midway(fx, path, records, 3, std::chrono::milliseconds(300), "kill", [&] {
    auto id = std::to_string(fx.file_id(path));
    auto ledger =
        fx.db().exec_params("select records_done, rows_loaded, rows_rejected from sluice.files where id = $1", {id});
    CHECK(ledger.int64(0, 1) + ledger.int64(0, 2) == ledger.int64(0, 0));
    CHECK(fx.staging_rows(std::stoll(id)) == ledger.int64(0, 1));
  });
  CHECK(kills_mid_load >= 1);
  auto finish = fx.run_once({"--batch-mb", "1"});
  INFO(finish.describe());
  REQUIRE(finish.ok());
  check_conserved(fx, path, records, static_cast<std::int64_t>(made.content.size()));
  CHECK(fx.rejects(fx.file_id(path)) == made.traps.at("bad_price"));
  CHECK(fx.duplicate_staging_keys() == 0);
}

}  // namespace sluice::testing

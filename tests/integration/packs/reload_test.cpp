// `sluice reload`: a file loaded under a wrong feed declaration is loaded
// again once the declaration is fixed. On every built-in pack: the old rows
// and rejects go, the new ones come, each record once, and every report
// equals its full recomputation (reports.X_full()), which the packs'
// incremental paths alone (they only add) would not give after a removal.
// Also: --dry-run changes nothing; a reload killed after its first batch
// committed is finished by the next run, each record once.

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <span>
#include <string>
#include <thread>

#include "support/checks.h"
#include "support/fixture.h"
#include "warehouse/file_ledger.h"
#include "support/hubdoc_input.h"

namespace sluice::testing {
namespace {

// Every report of the pack (reports.<prefix>*) against its _full().
void check_reports_equal_full(sluice_fixture& fx, const std::string& prefix) {
  auto reports = fx.db().exec("select relname from pg_class where relnamespace = 'reports'::regnamespace"
                              " and relkind in ('r', 'v') and relname like '" + prefix + "%' order by 1");
  REQUIRE(reports.rows() > 0);
  for (int row = 0; row < reports.rows(); ++row) {
    std::string name(reports.text(row, 0));
    INFO("report " << name);
    CHECK(difference(fx, "select * from reports." + name, "select * from reports." + name + "_full()") == 0);
  }
}

struct pack_case {
  std::string pack;
  std::string report_prefix;
  std::string table;       // the staging table whose column the declaration gets wrong
  std::string column;
  std::string wrong;       // the mapping (json_pointer or csv_header) it gets
  std::string wrong_sql;   // true for a row loaded under the wrong mapping
};

void write_inputs(sluice_fixture& fx, const std::string& pack) {
  if (pack == "hubdoc") {
    auto run = run_process({SLUICE_GEN_HUBDOC, "--events", "3000", "--seed", "7", "--split-months", "--out-dir",
                            (fx.inbox() / "hubdoc").string()},
                           fx.work() / "gen.log", std::chrono::seconds(60));
    REQUIRE(run.ok());
  } else if (pack == "pleo") {
    auto run = run_process({SLUICE_GEN_PLEO, "--out", (fx.inbox() / "pleo").string(), "--users", "30", "--cards",
                            "120", "--seed", "3"},
                           fx.work() / "gen.log", std::chrono::seconds(60));
    REQUIRE(run.ok());
  } else if (pack == "sales") {
    for (int part = 0; part < 2; ++part) {
      auto out = fx.inbox() / "sales" / ("export-" + std::to_string(part) + ".csv");
      std::filesystem::create_directories(out.parent_path());
      auto run = run_process({SLUICE_GEN_SALES, "--rows", "400", "--seed", std::to_string(11 + part),
                              "--first-id", std::to_string(1 + part * 300), "--out", out.string()},
                             fx.work() / "gen.log", std::chrono::seconds(60));
      REQUIRE(run.ok());
    }
  } else {
    auto run = run_process({SLUICE_GEN_ORDERS, "--csv", (fx.inbox() / "orders").string(), "--orders", "200",
                            "--exports", "3", "--seed", "5"},
                           fx.work() / "gen.log", std::chrono::seconds(60));
    REQUIRE(run.ok());
  }
}

}  // namespace

TEST_CASE("a file loaded under a wrong declaration is reloaded once it is fixed, and every report equals its full"
          " recomputation",
          "[integration][reload][packs]") {
  auto c = GENERATE(
      pack_case{"hubdoc", "hubdoc_", "staging.hubdoc_signup", "lastname", "/firstname", "lastname = firstname"},
      pack_case{"pleo", "pleo_", "staging.pleo_user", "name", "/payload/job", "name is not distinct from job"},
      pack_case{"sales", "sales_", "staging.sales", "product_name", "Brand", "product_name is not distinct from brand"},
      pack_case{"orders", "orders_", "staging.orders_export", "product_name", "status", "product_name = status"});
  INFO("pack " << c.pack);
  sluice_fixture fx;
  write_inputs(fx, c.pack);
  bool csv = c.pack == "sales" || c.pack == "orders";
  std::string mapping = csv ? "csv_header" : "json_pointer";
  auto right = fx.text("select " + mapping + " from sluice.feed_columns where target_table = $1 and column_name = $2",
                       {c.table, c.column});
  REQUIRE_FALSE(right.empty());
  fx.db().exec_params("update sluice.feed_columns set " + mapping + " = $3 where target_table = $1 and column_name = $2",
                      {c.table, c.column, c.wrong});
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  auto records = fx.scalar("select count(*) from " + c.table);
  REQUIRE(records > 0);
  REQUIRE(fx.scalar("select count(*) from " + c.table + " where " + c.wrong_sql) == records);

  // The file of the table with the most rows is the one reloaded.
  auto old_id = fx.scalar("select _file_id from " + c.table + " group by 1 order by count(*) desc, 1 limit 1");
  auto old_rows = fx.scalar("select count(*) from " + c.table + " where _file_id = $1", {std::to_string(old_id)});
  auto path = fx.text("select path from sluice.files where id = $1", {std::to_string(old_id)});

  fx.db().exec_params("update sluice.feed_columns set " + mapping + " = $3 where target_table = $1 and column_name = $2",
                      {c.table, c.column, right});

  auto dry = fx.command({"reload", path, "--inbox", fx.inbox().string(), "--dsn", fx.dsn(), "--dry-run"});
  INFO(dry.describe());
  REQUIRE(dry.ok());
  CHECK(dry.output.find(c.table) != std::string::npos);
  CHECK(dry.output.find("rebuild") != std::string::npos);
  CHECK(fx.scalar("select count(*) from " + c.table + " where _file_id = $1", {std::to_string(old_id)}) == old_rows);
  CHECK(fx.scalar("select count(*) from sluice.files where reload_of is not null") == 0);

  auto reload = fx.command({"reload", path, "--inbox", fx.inbox().string(), "--dsn", fx.dsn()});
  INFO(reload.describe());
  REQUIRE(reload.ok());
  auto new_id = fx.scalar("select id from sluice.files where reload_of = $1 and state = 'loaded'",
                          {std::to_string(old_id)});
  REQUIRE(new_id > old_id);
  CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(old_id)}) == "reloaded");
  CHECK(fx.scalar("select count(*) from sluice.files o join sluice.files n on n.reload_of = o.id"
                  " where o.id = $1 and n.first_seen_at = o.first_seen_at", {std::to_string(old_id)}) == 1);
  CHECK(fx.scalar("select count(*) from " + c.table + " where _file_id = $1", {std::to_string(old_id)}) == 0);
  CHECK(fx.scalar("select count(*) from sluice.rejects where file_id = $1", {std::to_string(old_id)}) == 0);
  CHECK(fx.scalar("select count(*) from " + c.table + " where _file_id = $1", {std::to_string(new_id)}) == old_rows);
  CHECK(fx.scalar("select count(*) from " + c.table) == records);
  // The reloaded rows follow the fixed declaration; the others were not touched.
  CHECK(fx.scalar("select count(*) from " + c.table + " where _file_id = $1 and " + c.wrong_sql,
                  {std::to_string(new_id)}) < old_rows);
  CHECK(fx.scalar("select count(*) from " + c.table + " where _file_id <> $1 and " + c.wrong_sql,
                  {std::to_string(new_id)}) == records - old_rows);
  check_reports_equal_full(fx, c.report_prefix);
  // Reloading the same file again (by its new id) works the same way.
  auto again = fx.command({"reload", "--file-id", std::to_string(new_id), "--inbox", fx.inbox().string(), "--dsn",
                           fx.dsn()});
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(fx.scalar("select count(*) from " + c.table) == records);
  check_reports_equal_full(fx, c.report_prefix);
}

TEST_CASE("a reload killed after its first batch committed is finished by the next reload, each record once",
          "[integration][reload]") {
  sluice_fixture fx;
  // About 12 MB of logins in one file: many 1 MB batches, each its own
  // transaction.
  std::string content;
  for (int i = 0; i < 40; ++i) content += logins(i * 2500, 2500);
  fx.write_file("hubdoc/big.log", content);
  REQUIRE(fx.run_once().ok());
  auto records = static_cast<std::int64_t>(count_records(content));
  REQUIRE(fx.scalar("select count(*) from staging.hubdoc_login") == records);
  auto old_id = fx.scalar("select id from sluice.files where path = 'hubdoc/big.log'");

  auto reload = std::make_unique<child_process>(
      std::vector<std::string>{SLUICE_BINARY, "reload", "hubdoc/big.log", "--inbox", fx.inbox().string(), "--dsn",
                               fx.dsn(), "--batch-mb", "1", "--stream-mb", "0"},
      fx.work() / "reload.log");
  // Killed once its first batch committed (the old rows are gone) and before
  // the file is done.
  bool mid = wait_until(
      [&] {
        return fx.scalar("select count(*) from sluice.files where reload_of = $1 and state = 'loading'"
                         " and bytes_done > 0",
                         {std::to_string(old_id)}) == 1;
      },
      60s, 5ms);
  reload->kill();
  REQUIRE(mid);
  auto new_id = fx.scalar("select id from sluice.files where reload_of = $1", {std::to_string(old_id)});
  INFO("after the kill: " << fx.text("select format('%s of %s bytes', bytes_done, size_seen) from sluice.files"
                                     " where id = $1", {std::to_string(new_id)}));
  REQUIRE(fx.text("select state from sluice.files where id = $1", {std::to_string(new_id)}) == "loading");
  CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(old_id)}) == "reloaded");
  CHECK(fx.scalar("select count(*) from staging.hubdoc_login where _file_id = $1", {std::to_string(old_id)}) == 0);
  CHECK(fx.scalar("select count(*) from staging.hubdoc_login") < records);

  // The README: the next `sluice reload` of the file finishes it.
  auto finish = fx.command({"reload", "hubdoc/big.log", "--inbox", fx.inbox().string(), "--dsn", fx.dsn()});
  INFO(finish.describe());
  REQUIRE(finish.ok());
  CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(new_id)}) == "loaded");
  CHECK(fx.scalar("select count(*) from staging.hubdoc_login") == records);
  CHECK(fx.scalar("select count(*) from (select _record from staging.hubdoc_login group by 1 having count(*) > 1) d") ==
        0);
  check_reports_equal_full(fx, "hubdoc_");
}

TEST_CASE("a file reloaded while the daemon watches it, then grown, has each record once under its new row",
          "[integration][reload][daemon]") {
  sluice_fixture fx;
  auto daemon = fx.start_sluice({"--settle-ms", "100"});
  fx.write_file("hubdoc/app.log", logins(1, 300));
  REQUIRE(wait_until([&] { return fx.text("select state from sluice.files where path = 'hubdoc/app.log'") == "loaded"; },
                     30s));
  auto old_id = fx.scalar("select id from sluice.files where path = 'hubdoc/app.log'");
  auto reload = fx.command({"reload", "hubdoc/app.log", "--inbox", fx.inbox().string(), "--dsn", fx.dsn()});
  INFO(reload.describe());
  REQUIRE(reload.ok());
  auto new_id = fx.scalar("select id from sluice.files where reload_of = $1", {std::to_string(old_id)});
  REQUIRE(new_id > 0);
  fx.append_file("hubdoc/app.log", logins(301, 200));
  bool grown = wait_until(
      [&] { return fx.scalar("select count(*) from staging.hubdoc_login") >= 500; }, 30s);
  // A little longer: a second load of anything would show now.
  std::this_thread::sleep_for(1s);
  CHECK(grown);
  CHECK(daemon->running());
  CHECK(fx.scalar("select count(*) from staging.hubdoc_login") == 500);
  CHECK(fx.scalar("select count(*) from staging.hubdoc_login where _file_id = $1", {std::to_string(new_id)}) == 500);
  CHECK(fx.scalar("select count(*) from (select account from staging.hubdoc_login group by 1 having count(*) > 1) d") ==
        0);
  CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(old_id)}) == "reloaded");
  CHECK(fx.scalar("select count(*) from sluice.files where state in ('loading', 'loaded')") == 1);

  // A loader that still held the old row (a daemon between its batches) and
  // commits a batch for it finds it elsewhere: the growth is not loaded twice.
  auto old_at = fx.db().exec_params("select bytes_done, done_hash from sluice.files where id = $1",
                                    {std::to_string(old_id)});
  warehouse::file_advance stale;
  stale.id = old_id;
  stale.from_bytes = old_at.int64(0, 0);
  stale.from_hash = std::string(old_at.text(0, 1));
  stale.to.bytes = stale.from_bytes + 10;
  stale.to.hash = "later";
  warehouse::transaction tx(fx.db());
  auto outcome = warehouse::advance_files(fx.db(), std::span<const warehouse::file_advance>(&stale, 1));
  tx.commit();
  CHECK(outcome.at(0) == warehouse::advance_outcome::elsewhere);
  CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(old_id)}) == "reloaded");
}

}  // namespace sluice::testing

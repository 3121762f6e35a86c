// Feed declarations: `sluice migrate` refuses what `sluice run` would refuse
// (the same compile, the same words) and feeds whose globs overlap, rolling
// the migration back; `sluice run` skips a bad feed declared by hand and loads
// the others; a file never changes feed; a batch the server refuses for good
// is not retried; a migration cannot escape its transaction.
#include <catch2/catch.hpp>

#include "support/temp_dir.h"
#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

const fixture_options sluice_only{true, {"--packs", "sluice"}};

// A staging table and an NDJSON feed of it; `globs` and `pointer` vary.
std::string shop_feed(const std::string& feed, const std::string& table, const std::string& globs,
                      const std::string& pointer = "/customer") {
  return "create table " + table + " (_file_id bigint not null, _record bigint not null, order_id bigint not null,"
         " customer text);\n"
         "insert into sluice.feeds (name, file_globs, format) values ('" + feed + "', '" + globs + "', 'ndjson');\n"
         "insert into sluice.feed_targets (feed, target_table) values ('" + feed + "', '" + table + "');\n"
         "insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values\n"
         "  ('" + feed + "', '" + table + "', 'order_id', '/order_id'),\n"
         "  ('" + feed + "', '" + table + "', 'customer', '" + pointer + "');\n";
}

const std::string orders = "{\"order_id\":1,\"customer\":\"ada\"}\n{\"order_id\":2,\"customer\":\"bob\"}\n";

fs::path write_pack_file(sluice_fixture& fx, const std::string& pack, const std::string& file,
                         const std::string& sql) {
  fs::path path = fx.work() / pack / file;
  sluice::testing::write_in_place(path, sql);
  return path;
}

std::string pack_dir(sluice_fixture& fx, const std::string& pack) { return (fx.work() / pack).string(); }

bool relation_exists(sluice_fixture& fx, const std::string& name) {
  return fx.text("select to_regclass($1) is not null", {name}) == "t";
}

std::int64_t applied_count(sluice_fixture& fx, const std::string& pack) {
  return fx.scalar("select count(*) from sluice.pack_migrations where pack = $1", {pack});
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

}  // namespace

TEST_CASE("migrate refuses a user pack whose feed glob overlaps an installed feed's, naming both, and rolls it back",
          "[integration][feeds]") {
  sluice_fixture fx(fixture_options{true, {"--packs", "hubdoc"}});
  write_pack_file(fx, "logs", "0001_all_logs.sql", shop_feed("all_logs", "staging.all_logs", "{*.log}"));
  auto refused = fx.migrate({"--pack-dir", pack_dir(fx, "logs")});
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains("feeds all_logs and hubdoc overlap") &&
                                 Catch::Contains("all_logs's glob '*.log'") &&
                                 Catch::Contains("hubdoc's glob 'hubdoc/*.log'") &&
                                 Catch::Contains("0001_all_logs.sql"));
  CHECK_FALSE(relation_exists(fx, "staging.all_logs"));
  CHECK(fx.scalar("select count(*) from sluice.feeds where name = 'all_logs'") == 0);
  CHECK(applied_count(fx, "logs") == 0);

  // Globs that only look alike are not an overlap.
  write_pack_file(fx, "logs", "0001_all_logs.sql", shop_feed("all_logs", "staging.all_logs", "{hubdoc/*.log.gz.bak}"));
  auto accepted = fx.migrate({"--pack-dir", pack_dir(fx, "logs")});
  INFO(accepted.describe());
  CHECK(accepted.ok());
  CHECK(applied_count(fx, "logs") == 1);
}

TEST_CASE("a file stays in the feed that loaded it when a feed declared later takes its path too, said in a WARN",
          "[integration][feeds]") {
  sluice_fixture fx(sluice_only);
  fx.db().exec(shop_feed("shop", "staging.shop_order", "{shop/*.ndjson}"));
  fx.write_file("shop/2024-05-01.ndjson", orders);
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  auto id = fx.file_id("shop/2024-05-01.ndjson");
  REQUIRE(fx.staging_rows(id) == 2);

  // Declared by hand, as before `sluice migrate` refused overlaps; first by name.
  fx.db().exec(shop_feed("all_ndjson", "staging.all_ndjson", "{*.ndjson}"));
  auto again = fx.run_once();
  INFO(again.describe());
  CHECK_THAT(again.output, Catch::Contains("feeds all_ndjson and shop overlap"));
  CHECK(fx.scalar("select count(*) from sluice.files where feed = 'all_ndjson'") == 0);
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'replaced'") == 0);
  CHECK(fx.text("select feed || ' ' || state from sluice.files where id = $1", {std::to_string(id)}) ==
        "shop loaded");
  CHECK(fx.scalar("select count(*) from staging.shop_order") == 2);
  CHECK(fx.scalar("select count(*) from staging.all_ndjson") == 0);
}

TEST_CASE("migrate refuses a feed whose JSON pointer lacks its leading slash with run's message, and rolls it back",
          "[integration][feeds]") {
  sluice_fixture fx(sluice_only);
  write_pack_file(fx, "shop", "0001_staging.sql", shop_feed("shop", "staging.shop_order", "{shop/*.ndjson}", "customer"));
  auto refused = fx.migrate({"--pack-dir", pack_dir(fx, "shop")});
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains("feed shop: column staging.shop_order.customer has json_pointer"
                                             " 'customer', which is not a JSON pointer (it must start with /)") &&
                                 Catch::Contains("0001_staging.sql"));
  CHECK_FALSE(relation_exists(fx, "staging.shop_order"));
  CHECK(fx.scalar("select count(*) from sluice.feeds") == 0);
  CHECK(applied_count(fx, "shop") == 0);

  write_pack_file(fx, "shop", "0001_staging.sql", shop_feed("shop", "staging.shop_order", "{shop/*.ndjson}"));
  auto fixed = fx.migrate({"--pack-dir", pack_dir(fx, "shop")});
  INFO(fixed.describe());
  CHECK(fixed.ok());
  CHECK(applied_count(fx, "shop") == 1);
}

TEST_CASE("a bad feed declared by hand is skipped with a WARN while the others load, and --once exits 1 naming it",
          "[integration][feeds]") {
  sluice_fixture fx(sluice_only);
  fx.db().exec(shop_feed("shop", "staging.shop_order", "{shop/*.ndjson}"));
  fx.db().exec(shop_feed("bad", "staging.bad_order", "{bad/*.ndjson}", "customer"));
  fx.write_file("shop/2024-05-01.ndjson", orders);
  fx.write_file("bad/2024-05-01.ndjson", orders);
  auto once = fx.run_once();
  INFO(once.describe());
  CHECK(once.exited);
  CHECK(once.code == 1);
  CHECK_THAT(once.output, Catch::Contains("json_pointer 'customer', which is not a JSON pointer") &&
                              Catch::Contains("feed bad is skipped") && Catch::Contains("1 feed not loaded"));
  check_file_conserved(fx, "shop/2024-05-01.ndjson", orders);
  CHECK(fx.scalar("select count(*) from staging.bad_order") == 0);

  // The daemon too: it starts, loads the good feed, says which it skips.
  auto daemon = start_daemon(fx);
  fx.write_file("shop/2024-05-02.ndjson", "{\"order_id\":3,\"customer\":\"cy\"}\n");
  CHECK(wait_until([&] { return fx.scalar("select count(*) from staging.shop_order") == 3; }, 20s));
  INFO(daemon->output());
  CHECK_THAT(daemon->output(), Catch::Contains("feed bad is skipped"));
  CHECK(daemon->running());
}

TEST_CASE("a feed into a table outside staging (sluice.jobs, sluice.files) is refused by migrate and skipped by run",
          "[integration][feeds]") {
  sluice_fixture fx(sluice_only);
  write_pack_file(fx, "evil", "0001_jobs.sql",
                  "insert into sluice.feeds (name, file_globs, format) values ('evil', '{evil/*.ndjson}', 'ndjson');\n"
                  "insert into sluice.feed_targets (feed, target_table) values ('evil', 'sluice.jobs');\n"
                  "insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values\n"
                  "  ('evil', 'sluice.jobs', 'name', '/name'), ('evil', 'sluice.jobs', 'command', '/command');\n");
  auto refused = fx.migrate({"--pack-dir", pack_dir(fx, "evil")});
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains("target table sluice.jobs is in schema sluice") &&
                                 Catch::Contains("feeds load into staging tables"));
  CHECK(fx.scalar("select count(*) from sluice.feeds") == 0);

  // Declared by hand: run loads nothing into sluice.files.
  fx.db().exec(
      "insert into sluice.feeds (name, file_globs, format) values ('forge', '{forge/*.ndjson}', 'ndjson');"
      "insert into sluice.feed_targets (feed, target_table) values ('forge', 'sluice.files');"
      "insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values"
      "  ('forge', 'sluice.files', 'feed', '/feed'), ('forge', 'sluice.files', 'path', '/path');");
  fx.write_file("forge/1.ndjson", "{\"feed\":\"shop\",\"path\":\"forged\"}\n");
  auto once = fx.run_once();
  INFO(once.describe());
  CHECK(once.code == 1);
  CHECK_THAT(once.output, Catch::Contains("feeds load into staging tables"));
  CHECK(fx.scalar("select count(*) from sluice.files where path = 'forged'") == 0);
}

TEST_CASE("a batch the server refuses for good is not retried: --once exits 1 at once and the ledger says why",
          "[integration][feeds]") {
  sluice_fixture fx(sluice_only);
  fx.db().exec(shop_feed("shop", "staging.shop_order", "{shop/*.ndjson}"));
  // Every COPY into the table fails with 42P01 (undefined table): retrying cannot help.
  fx.db().exec(
      "create function staging.shop_order_check() returns trigger language plpgsql as"
      " $$ begin perform 1 from staging.no_such_table; return null; end $$;"
      "create trigger shop_order_check before insert on staging.shop_order"
      " for each statement execute function staging.shop_order_check();");
  fx.write_file("shop/2024-05-01.ndjson", orders);
  auto started = clock_type::now();
  auto once = fx.run_once({"--give-up-after-s", "60"});
  auto took = std::chrono::duration_cast<std::chrono::seconds>(clock_type::now() - started);
  INFO(once.describe());
  CHECK(once.code == 1);
  CHECK(took < 30s);
  // Said when refused and in the summary: not a retry loop.
  CHECK(occurrences(once.output, "relation \"staging.no_such_table\" does not exist") <= 2);
  CHECK_THAT(once.output, Catch::Contains("not retried"));
  CHECK_THAT(fx.text("select state || ': ' || coalesce(reason, '') from sluice.files"),
             Catch::StartsWith("loading: not loaded:") && Catch::Contains("no_such_table"));
}

TEST_CASE("a feed into a table whose name needs quotes, with a dot in a column name, loads instead of retrying forever",
          "[integration][feeds]") {
  sluice_fixture fx(sluice_only);
  fx.db().exec(
      "create table staging.\"Weird\" (_file_id bigint not null, _record bigint not null, \"a.b\" text);"
      "insert into sluice.feeds (name, file_globs, format) values ('weird', '{weird/*.ndjson}', 'ndjson');"
      "insert into sluice.feed_targets (feed, target_table) values ('weird', 'staging.\"Weird\"');"
      "insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values"
      "  ('weird', 'staging.\"Weird\"', 'a.b', '/a');");
  fx.write_file("weird/1.ndjson", "{\"a\":\"x\"}\n{\"a\":\"y\"}\n");
  auto once = fx.run_once({"--give-up-after-s", "10"});
  INFO(once.describe());
  CHECK(once.ok());
  CHECK(fx.scalar("select count(*) from staging.\"Weird\" where \"a.b\" in ('x', 'y')") == 2);
}

TEST_CASE("a migration with its own COMMIT is refused before it runs, nothing of it stays, and a later migrate works",
          "[integration][feeds][packs]") {
  sluice_fixture fx(sluice_only);
  write_pack_file(fx, "tx", "0001_tables.sql",
                  "create table staging.tx_a (x int);\ncommit;\ncreate table staging.tx_b (x int);\nselect 1/0;\n");
  auto refused = fx.migrate({"--pack-dir", pack_dir(fx, "tx")});
  INFO(refused.describe());
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.output, Catch::Contains("0001_tables.sql line 2: 'commit'"));
  CHECK_FALSE(relation_exists(fx, "staging.tx_a"));
  CHECK_FALSE(relation_exists(fx, "staging.tx_b"));
  CHECK(applied_count(fx, "tx") == 0);

  write_pack_file(fx, "tx", "0001_tables.sql", "create table staging.tx_a (x int);\ncreate table staging.tx_b (x int);\n");
  auto fixed = fx.migrate({"--pack-dir", pack_dir(fx, "tx")});
  INFO(fixed.describe());
  CHECK(fixed.ok());
  CHECK(relation_exists(fx, "staging.tx_a"));
  CHECK(applied_count(fx, "tx") == 1);
}

TEST_CASE("what a format imposes on a feed is said with the format's name, and a format no registry has is refused",
          "[integration][feeds][csv]") {
  // The rules live in the format registry (loader/formats/registry.h); these
  // are their words as they were when feed.cpp compared format names by hand.
  sluice_fixture fx(sluice_only);
  fx.db().exec(
      "create table staging.fmt_rule (_file_id bigint, _record bigint, x text);"
      "create table staging.fmt_rule_b (_file_id bigint, _record bigint, x text);"
      "insert into sluice.feeds (name, file_globs, format, route_pointer) values"
      "  ('c_route', '{c_route/*}', 'csv', '/kind');"
      "insert into sluice.feed_targets (feed, target_table) values ('c_route', 'staging.fmt_rule');"
      "insert into sluice.feeds (name, file_globs, format) values ('c_two', '{c_two/*}', 'csv');"
      "insert into sluice.feed_targets (feed, route_value, target_table) values"
      "  ('c_two', 'a', 'staging.fmt_rule'), ('c_two', 'b', 'staging.fmt_rule_b');"
      "insert into sluice.feeds (name, file_globs, format) values ('c_pointer', '{c_pointer/*}', 'csv');"
      "insert into sluice.feed_targets (feed, target_table) values ('c_pointer', 'staging.fmt_rule');"
      "insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values"
      "  ('c_pointer', 'staging.fmt_rule', 'x', '/x');"
      "insert into sluice.feeds (name, file_globs, format) values ('j_header', '{j_header/*}', 'ndjson');"
      "insert into sluice.feed_targets (feed, target_table) values ('j_header', 'staging.fmt_rule');"
      "insert into sluice.feed_columns (feed, target_table, column_name, csv_header) values"
      "  ('j_header', 'staging.fmt_rule', 'x', 'X');"
      "insert into sluice.feeds (name, file_globs, format, csv_header) values ('c_nohdr', '{c_nohdr/*}', 'csv', false);"
      "insert into sluice.feed_targets (feed, target_table) values ('c_nohdr', 'staging.fmt_rule');"
      "insert into sluice.feed_columns (feed, target_table, column_name, csv_header) values"
      "  ('c_nohdr', 'staging.fmt_rule', 'x', 'X');");
  auto once = fx.run_once();
  INFO(once.describe());
  CHECK(once.code == 1);
  CHECK_THAT(once.output,
             Catch::Contains("feed c_route: a csv feed routes nothing; set route_pointer to null and give it one"
                             " target (route_value '')") &&
                 Catch::Contains("feed c_two: a csv feed has exactly one target (one row in sluice.feed_targets,"
                                 " route_value '')") &&
                 Catch::Contains("feed c_pointer: column staging.fmt_rule.x has a json_pointer, but the feed is csv:"
                                 " map it with csv_header (or csv_position)") &&
                 Catch::Contains("feed j_header: column staging.fmt_rule.x is mapped by csv_header or csv_position,"
                                 " but the feed's format is ndjson: map it with json_pointer") &&
                 Catch::Contains("feed c_nohdr: column staging.fmt_rule.x is mapped by csv_header, but the feed has"
                                 " csv_header = false (no header row): map it with csv_position"));

  // A name no format has never reaches the loader: the catalog refuses it.
  CHECK_THROWS_WITH(fx.db().exec("insert into sluice.feeds (name, file_globs, format) values ('t', '{t/*}', 'tsv')"),
                    Catch::Contains("feeds_format_check"));
}

}  // namespace sluice::testing

// Failure paths: files that must not be read, rows the server refuses, --once's
// exit code, encodings, two daemons and a PostgreSQL crash. Each test injects
// its fault and checks that it landed mid-work where that matters.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"
#include "support/small_disk.h"
#include "support/sales_input.h"

namespace sluice::testing {
namespace {

}  // namespace

TEST_CASE("a file swapped for a symlink to a file outside the inbox is refused, never read",
          "[integration][failure]") {
  sluice_fixture fx;
  auto outside = fx.work() / "secret.log";
  { std::ofstream(outside) << logins(1, 3) << "SECRET-OUTSIDE-THE-INBOX\n"; }
  fx.write_file("hubdoc/a.log", logins(10, 2));
  REQUIRE(fx.run_once().ok());
  // Swapped after it was noticed and loaded.
  std::filesystem::remove(fx.inbox() / "hubdoc/a.log");
  std::filesystem::create_symlink(outside, fx.inbox() / "hubdoc/a.log");
  std::filesystem::create_symlink(outside, fx.inbox() / "hubdoc/b.log");
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK_FALSE(run.ok());
  CHECK(fx.staging_rows() == 2);
  CHECK(fx.scalar("select count(*) from sluice.rejects where raw like '%SECRET%'") == 0);
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'refused' and reason like '%symbolic link%'") ==
        2);
  CHECK(run.output.find("symbolic link") != std::string::npos);
}

TEST_CASE("a FIFO in place of a file neither blocks --once nor the daemon's SIGTERM",
          "[integration][failure]") {
  sluice_fixture fx;
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  REQUIRE(::mkfifo((fx.inbox() / "hubdoc/pipe.log").c_str(), 0600) == 0);
  fx.write_file("hubdoc/real.log", logins(1, 4));
  auto run = fx.run_once({}, 30s);
  INFO(run.describe());
  REQUIRE(run.exited);
  CHECK(run.code == 1);
  CHECK(fx.staging_rows() == 4);
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'refused' and reason like '%FIFO%'") == 1);

  auto daemon = start_daemon(fx);
  std::this_thread::sleep_for(1s);
  stop_daemon(*daemon);
}

TEST_CASE("rows the server refuses (a CHECK or a trigger error) become rejects with its message and the rest loads",
          "[integration][failure]") {
  sluice_fixture fx;
  fx.db().exec(
      "alter table staging.hubdoc_login add constraint small_accounts check (account < 5000);"
      "create function staging.block_4242() returns trigger language plpgsql as $$"
      " begin if new.account = 4242 then raise exception 'account 4242 is blocked'; end if; return new; end $$;"
      "create trigger block_4242 before insert on staging.hubdoc_login for each row"
      " execute function staging.block_4242();"
      "alter table staging.hubdoc_login alter column level type varchar(5)");
  std::string content = logins(1, 200) + login_line(5000) + "\n" + logins(201, 100) + login_line(4242) + "\n" +
                        logins(301, 50);
  // A level longer than varchar(5): refused by the loader itself, before COPY.
  std::string verbose = login_line(7000);
  verbose.replace(verbose.find("\"INFO\""), 6, "\"VERBOSE\"");
  content += verbose + "\n";
  fx.write_file("hubdoc/mixed.log", content);
  for (const char* batch_mb : {"1", "64"}) {
    INFO("batch " << batch_mb << " MB");
    auto run = fx.run_once({"--batch-mb", batch_mb});
    INFO(run.describe());
    REQUIRE(run.ok());
    check_file_conserved(fx, "hubdoc/mixed.log", content);
    CHECK(fx.staging_rows() == 350);
    CHECK(fx.scalar("select count(*) from sluice.rejects where reason like '%small_accounts%'"
                    " and raw like '%5000%' and line = 201") == 1);
    CHECK(fx.scalar("select count(*) from sluice.rejects where reason like '%account 4242 is blocked%'"
                    " and line = 302") == 1);
    CHECK(fx.scalar("select count(*) from sluice.rejects where reason like '%character varying(5)%'"
                    " and field = '/level' and line = 353") == 1);
    // Again from scratch: the same outcome whatever the batch size.
    fx.db().exec("truncate staging.hubdoc_login, staging.hubdoc_page_access, staging.hubdoc_upload,"
                 " staging.hubdoc_signup, staging.hubdoc_plan_change, sluice.rejects, sluice.files cascade");
  }
}

TEST_CASE("a row the server refuses in a large file streamed through one COPY is found after the file is read again",
          "[integration][failure][streaming]") {
  sluice_fixture fx;
  fx.db().exec(
      "create function staging.block_27777() returns trigger language plpgsql as $$"
      " begin if new.account = 27777 then raise exception 'account 27777 is blocked'; end if; return new; end $$;"
      "create trigger block_27777 before insert on staging.hubdoc_login for each row"
      " execute function staging.block_27777();");
  std::string content = logins(1, 40'000);
  REQUIRE(content.size() > 4u << 20);  // several 1 MB batches, so several of them share the COPY
  fx.write_file("hubdoc/large.log", content);
  auto run = fx.run_once({"--batch-mb", "1"});
  INFO(run.describe());
  REQUIRE(run.ok());
  // The fault landed in a streamed transaction of several batches...
  std::smatch m;
  REQUIRE(std::regex_search(run.output, m, std::regex("a streamed transaction of (\\d+) batches did not commit")));
  CHECK(std::stoi(m[1].str()) > 1);
  // ...and the file, read again, loaded exactly once with the one refused row a reject.
  check_file_conserved(fx, "hubdoc/large.log", content);
  CHECK(fx.staging_rows() == 39'999);
  CHECK(fx.duplicate_staging_keys() == 0);
  CHECK(fx.scalar("select count(*) from sluice.rejects where reason like '%account 27777 is blocked%'"
                  " and line = 27777 and raw like '%27777%'") == 1);
}

TEST_CASE("a streamed file whose last batch also holds rows for other tables puts each row in its own table",
          "[integration][streaming]") {
  // A logins-only start streams into staging.hubdoc_login; the last batch
  // adds page accesses (a table of the same shape, so a wrong COPY would
  // succeed) and sign-ups: that batch must not join the login COPY.
  sluice_fixture fx;
  std::string content = logins(1, 40'000);
  REQUIRE(content.size() > 4u << 20);
  for (int account = 1; account <= 100; ++account) {
    content += R"({"date": "2019-01-05T08:01:00-05:00", "log_type": "PAGE_ACCESS", "level": "INFO", "account": )" +
               std::to_string(account) + R"(, "details": "upload_page"})" + "\n";
  }
  content += R"({"date": "2019-01-05T08:02:00-05:00", "log_type": "SIGN_UP", "level": "INFO", "account": 7,)"
             R"( "plan": "PLAN_GOLD", "firstname": "Ana", "lastname": "Lee", "address": "'12 Elm St., Moncton, NB E1A 1A1'"})"
             "\n";
  fx.write_file("hubdoc/mixed-tail.log", content);
  auto run = fx.run_once({"--batch-mb", "1"});
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(run.output.find("a streamed transaction of") == std::string::npos);  // nothing failed
  check_file_conserved(fx, "hubdoc/mixed-tail.log", content);
  CHECK(fx.scalar("select count(*) from staging.hubdoc_login") == 40'000);
  CHECK(fx.scalar("select count(*) from staging.hubdoc_page_access") == 100);
  CHECK(fx.scalar("select count(*) from staging.hubdoc_signup") == 1);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
}

TEST_CASE("run with --once exits non-zero and says so when a job fails", "[integration][failure]") {
  sluice_fixture fx;
  fx.db().exec("insert into sluice.jobs (name, command) values ('broken', 'select 1/0 where $1 <> $2')");
  fx.write_file("hubdoc/a.log", logins(1, 3));
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.exited);
  CHECK(run.code == 1);
  CHECK(fx.staging_rows() == 3);
  CHECK(run.output.find("jobs failed") != std::string::npos);
}

TEST_CASE("run with --once as a user who cannot read a file exits non-zero and names the file",
          "[integration][failure]") {
  // Root reads every file, so the unreadable case needs another user: CI and
  // the developers' machines run as root, which can switch to `nobody`.
  REQUIRE(::geteuid() == 0);
  sluice_fixture fx;
  fx.write_file("hubdoc/ok.log", logins(1, 3));
  fx.write_file("hubdoc/locked.log", logins(10, 3));
  std::filesystem::permissions(fx.inbox() / "hubdoc/locked.log", std::filesystem::perms::owner_read);
  for (auto dir : {fx.inbox().parent_path(), fx.inbox(), fx.inbox() / "hubdoc", fx.work()}) {
    std::filesystem::permissions(dir, std::filesystem::perms::all, std::filesystem::perm_options::add);
  }
  // Over TCP, which asks for the password: nobody gets it from a pgpass of its own.
  auto pgpass = fx.work() / "nobody.pgpass";
  auto cluster = conninfo_value(fx.dsn(), "host");  // (quoted: 'dir')
  if (cluster.size() >= 2 && cluster.front() == '\'') cluster = cluster.substr(1, cluster.size() - 2);
  std::filesystem::copy_file(std::filesystem::path(cluster) / "pgpass", pgpass);
  REQUIRE(::chown(pgpass.c_str(), 65534, 65534) == 0);
  auto dsn = "host=127.0.0.1 port=" + conninfo_value(fx.dsn(), "port") + " user=postgres dbname=" + fx.database() +
             " passfile=" + pgpass.string();
  auto run = run_process({"/usr/sbin/runuser", "-u", "nobody", "--", SLUICE_BINARY, "run", "--once", "--dsn", dsn,
                          "--inbox", fx.inbox().string()},
                         fx.work() / "nobody.log", 60s);
  INFO(run.describe());
  REQUIRE(run.exited);
  CHECK(run.code == 1);
  CHECK(run.output.find("hubdoc/locked.log") != std::string::npos);
  CHECK(fx.staging_rows() == 3);
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'refused' and reason like '%permission%'") == 1);
}

TEST_CASE("a UTF-8 BOM is skipped and a LATIN1 warehouse stores text unmangled", "[integration][failure]") {
  sluice_fixture fx;
  std::string content = "\xEF\xBB\xBF" + login_line(1, "caf\xC3\xA9") + "\n" + login_line(2) + "\n";
  fx.write_file("hubdoc/bom.log", content);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(fx.staging_rows() == 2);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);

  // A warehouse created LATIN1: the text arrives as the characters it was.
  auto db = "sluice_latin1_" + std::to_string(::getpid());
  warehouse::connection admin(admin_dsn());
  admin.exec("drop database if exists " + db);
  admin.exec("create database " + db + " encoding 'LATIN1' lc_collate 'C' lc_ctype 'C' template template0");
  auto dsn = with_dbname(admin_dsn(), db);
  auto migrated = run_process({SLUICE_BINARY, "migrate", "--dsn", dsn}, fx.work() / "latin1.log", 120s);
  INFO(migrated.describe());
  REQUIRE(migrated.ok());
  auto loaded = run_process({SLUICE_BINARY, "run", "--once", "--dsn", dsn, "--inbox", fx.inbox().string()},
                            fx.work() / "latin1.log", 120s);
  INFO(loaded.describe());
  CHECK(loaded.ok());
  {
    warehouse::connection conn(dsn);
    auto r = conn.exec("select details from staging.hubdoc_login where account = 1");
    REQUIRE(r.rows() == 1);
    CHECK(r.text(0, 0) == "caf\xC3\xA9");  // this client reads UTF8 too
  }
  admin.exec("drop database " + db + " with (force)");
}

TEST_CASE("two daemons on one inbox and warehouse never double a record", "[integration][failure][exclusive]") {
  sluice_fixture fx;
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  auto first = start_daemon(fx, "daemon-1.log");
  auto second = start_daemon(fx, "daemon-2.log");
  auto small = [&](int i) { fx.write_file("hubdoc/small-" + std::to_string(i) + ".log", logins(100000 + i * 3, 3)); };
  // Each takes part for sure (under a sanitizer one once took every file):
  // a wave of files while the other is stopped. A daemon is stopped only
  // when it holds nothing (no file in the inbox yet, or every file loaded).
  second->signal(SIGSTOP);
  for (int i = 0; i < 50; ++i) small(i);
  REQUIRE(wait_until([&] { return fx.staging_rows() >= 150; }, 60s, 50ms));
  second->signal(SIGCONT);
  first->signal(SIGSTOP);
  for (int i = 50; i < 100; ++i) small(i);
  REQUIRE(wait_until([&] { return fx.staging_rows() >= 300; }, 60s, 50ms));
  first->signal(SIGCONT);
  // Then both at once.
  std::string big;
  for (int i = 0; i < 60; ++i) big += logins(i * 1000, 1000);
  fx.write_file("hubdoc/big.log", big);
  for (int i = 100; i < 300; ++i) small(i);
  const std::int64_t expected = 60000 + 900;
  bool loaded = wait_until([&] { return fx.staging_rows() >= expected; }, 120s, 200ms);
  std::this_thread::sleep_for(2s);  // anything doubled would land by now
  INFO(first->output());
  INFO(second->output());
  CHECK(loaded);
  CHECK(fx.staging_rows() == expected);
  CHECK(fx.duplicate_staging_keys() == 0);
  CHECK(fx.scalar("select count(*) from (select path from sluice.files where state in ('loading', 'loaded')"
                  " group by path having count(*) > 1) p") == 0);
  // Both took part: each logged committed records.
  CHECK(first->output().find("committed") != std::string::npos);
  CHECK(second->output().find("committed") != std::string::npos);
  stop_daemon(*first);
  stop_daemon(*second);
}

// pg_ctl restart -m immediate of the warehouse: a crash and recovery.
std::vector<std::string> warehouse_crash_restart() {
  auto host = conninfo_value(admin_dsn(), "host");
  REQUIRE(!host.empty());
  REQUIRE(std::filesystem::exists(host + "/data/PG_VERSION"));
  return crash_restart_command(admin_dsn());
}

// Three variants of one crash (below), each checked to land mid-stream: a
// little over ~80 lines, kept whole so the variants read side by side.
TEST_CASE("warehouse crash while a large CSV streams: loaded exactly once, also when the file is deleted meanwhile",
          "[integration][failure][streaming][exclusive]") {
  // 0: left alone. 1: deleted as the server crashes: its streamed
  // transaction fails with the crash, after which the rest can only be read
  // through the descriptor sluice holds. 2: deleted and another file written
  // at its path: both load whole, each as its own ledger row.
  int fate = GENERATE(0, 1, 2);
  INFO("0 left alone, 1 deleted, 2 deleted and replaced: " << fate);
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto restart = warehouse_crash_restart();
  auto made = generate_sales(fx, 400'000, 23);
  made.content += '\n';  // the daemon waits for a last line's newline
  auto replacement = generate_sales(fx, 2'000, 29, 97, 900'001);
  replacement.content += '\n';
  std::filesystem::create_directories(fx.inbox() / "test-sales");
  auto daemon = start_daemon(fx);
  fx.write_file("test-sales/big.csv", made.content);
  // Crash once the streamed transaction has sent rows, before it commits.
  REQUIRE(wait_until(
      [&] {
        return fx.scalar("select count(*) from pg_stat_activity where query like 'copy \"staging\".\"test_sales\"%'"
                         " and state = 'active' and datname = current_database()") > 0;
      },
      60s, 5ms));
  std::this_thread::sleep_for(100ms);
  auto committed = fx.scalar("select coalesce(sum(records_done), 0) from sluice.files where path = 'test-sales/big.csv'");
  if (fate >= 1) std::filesystem::remove(fx.inbox() / "test-sales/big.csv");
  if (fate == 2) fx.write_file("test-sales/big.csv", replacement.content);
  auto restarted = run_process(restart, fx.work() / "restart.log", 90s);
  INFO(restarted.describe());
  REQUIRE(restarted.ok());
  fx.reconnect();
  INFO("records committed when the server crashed: " << committed);
  CHECK(committed < 400'000);  // the crash landed mid-load
  bool done = fx.wait_until_reconnecting(
      [&] {
        return fx.scalar("select count(*) from sluice.files where state = 'loaded' and path like 'test-sales/big.csv%'") ==
               (fate == 2 ? 2 : 1);
      },
      60s, 200ms);
  INFO(daemon->output());
  REQUIRE(done);
  CHECK(daemon->output().find("a streamed transaction of") != std::string::npos);
  if (fate >= 1) {
    // Read through the kept descriptor (as often as the recovering server
    // needed), then forgotten: not looked for again and again.
    auto told = [&] {
      auto output = daemon->output();
      std::size_t times = 0;
      for (auto at = output.find("read through the descriptor sluice kept"); at != std::string::npos;
           at = output.find("read through the descriptor sluice kept", at + 1)) {
        ++times;
      }
      return times;
    };
    auto when_loaded = told();
    std::this_thread::sleep_for(3s);
    CHECK(when_loaded >= 1);
    CHECK(told() == when_loaded);
  }
  // The big file's row, under whatever path it ended (a replaced one is
  // named as deleted). Found by its size: its id may not be the one seen
  // before the crash (the test cluster commits asynchronously, so a ledger
  // row no batch has committed after may be lost with the crash, and made
  // again).
  auto big = fx.db().exec_params("select id, path from sluice.files where path like 'test-sales/big.csv%'"
                                 " and bytes_done = $1",
                                 {std::to_string(made.content.size())});
  REQUIRE(big.rows() == 1);
  auto big_id = big.int64(0, 0);
  std::string big_path(big.text(0, 1));
  INFO("the big file's ledger path: " << big_path);
  CHECK((fate == 2) == (big_path != "test-sales/big.csv"));
  check_conserved(fx, big_path, 400'000, static_cast<std::int64_t>(made.content.size()));
  CHECK(fx.rejects(big_id) == made.traps.at("bad_price"));
  if (fate == 2) {
    check_conserved(fx, "test-sales/big.csv", 2'000, static_cast<std::int64_t>(replacement.content.size()));
  }
  CHECK(fx.duplicate_staging_keys() == 0);
  stop_daemon(*daemon);
}

TEST_CASE("PostgreSQL restarted with -m immediate mid-load, twice: the daemon loses and doubles nothing",
          "[integration][failure][exclusive]") {
  sluice_fixture fx;
  auto restart = warehouse_crash_restart();

  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  auto daemon = start_daemon(fx);
  fx.generate_hubdoc(400000, 11, "hubdoc/crash-1.log");
  std::int64_t expected = 0;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) fx.generate_hubdoc(400000, 12, "hubdoc/crash-2.log");
    // Wait until the load is under way, then crash the server.
    std::int64_t before = 0;
    REQUIRE(wait_until(
        [&] {
          try {
            before = fx.scalar("select coalesce(sum(rows_loaded + rows_rejected), 0) from sluice.files"
                               " where path = $1", {"hubdoc/crash-" + std::to_string(round + 1) + ".log"});
          } catch (const std::exception&) {
            return false;
          }
          return before > 0;
        },
        60s, 10ms));
    auto restarted = run_process(restart, fx.work() / "restart.log", 90s);
    INFO(restarted.describe());
    REQUIRE(restarted.ok());
    fx.reconnect();
    auto records_now = fx.scalar("select coalesce(sum(records_done), 0) from sluice.files where path = $1",
                                 {"hubdoc/crash-" + std::to_string(round + 1) + ".log"});
    INFO("records done right after the crash: " << records_now);
    CHECK(records_now < 400000);  // the crash landed mid-load
  }
  expected = static_cast<std::int64_t>(count_records(read_file(fx.inbox() / "hubdoc/crash-1.log")) +
                                       count_records(read_file(fx.inbox() / "hubdoc/crash-2.log")));
  bool done = fx.wait_until_reconnecting(
      [&] { return fx.scalar("select coalesce(sum(records_done), 0) from sluice.files") >= expected; }, 240s, 200ms);
  INFO(daemon->output());
  CHECK(done);
  CHECK(daemon->running());
  CHECK(fx.staging_rows() + fx.scalar("select count(*) from sluice.rejects") == expected);
  CHECK(fx.duplicate_staging_keys() == 0);
  stop_daemon(*daemon);
}

}  // namespace sluice::testing

namespace sluice::testing {

TEST_CASE("a full disk makes a run with --once give up after its bound with a clear error and a later run loads exactly once",
          "[integration][failure][exclusive]") {
  // A staging table on a 3 MB tmpfs (a tablespace): the warehouse's disk fills mid-load.
  sluice_fixture fx;
  small_disk disk(fx, "staging.hubdoc_login", "3M");

  std::string content;
  const std::string details(300, 'd');  // 40,000 rows of ~13 MB: far more than 3 MB
  for (int account = 0; account < 40000; ++account) content += login_line(account, details) + "\n";
  fx.write_file("hubdoc/big.log", content);
  auto started = std::chrono::steady_clock::now();
  auto run = fx.run_once({"--give-up-after-s", "3", "--batch-mb", "1"}, 90s);
  auto took = std::chrono::steady_clock::now() - started;
  INFO(run.describe());
  REQUIRE(run.exited);
  CHECK(run.code == 1);
  CHECK(took < 60s);
  CHECK(run.output.find("No space left on device") != std::string::npos);
  CHECK(run.output.find("gave up") != std::string::npos);
  CHECK(run.output.find("hubdoc/big.log") != std::string::npos);
  auto partial = fx.staging_rows();
  INFO("rows committed before the disk filled: " << partial);
  CHECK(partial < 40000);  // the fault landed mid-load

  // Room again: the next run loads the rest, nothing twice.
  disk.grow("64M");
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  check_file_conserved(fx, "hubdoc/big.log", content);
  CHECK(fx.duplicate_staging_keys() == 0);
}

}  // namespace sluice::testing

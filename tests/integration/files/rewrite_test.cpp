// Hostile tests of the file loader's promises (README "Loading files"): each
// case here is an input or an event sequence where a record is lost, doubled
// or silently skipped, or --once exits in a way it should not. Each failed
// against the code it was written against.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"
#include "support/temp_dir.h"

namespace sluice::testing {
namespace {

std::int64_t rows_of(sluice_fixture& fx, int account) {
  return fx.scalar("select count(*) from staging.hubdoc_login where account = $1", {std::to_string(account)});
}

}  // namespace

TEST_CASE("a loaded file rewritten in place with the same length but a new first line loads the new line",
          "[integration][attack]") {
  sluice_fixture fx;
  // 60 lines (more than 4 KiB): the last 4 KiB stay the same after the edit.
  const std::string before = logins(1000, 60);
  write_in_place(fx.inbox() / "hubdoc/export.log", before);
  REQUIRE(fx.run_once().ok());
  REQUIRE(fx.staging_rows() == 60);

  // The producer regenerates the export: account 1000 is now 9999 (same
  // length), everything else as it was. Same inode, same size, new mtime.
  std::this_thread::sleep_for(20ms);
  const std::string after = login_line(9999) + "\n" + logins(1001, 59);
  REQUIRE(after.size() == before.size());
  write_in_place(fx.inbox() / "hubdoc/export.log", after);
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(run.ok());
  // What the file holds now is in the warehouse (a rewritten file is new
  // content, README: "replaced: ... the file was rewritten in place").
  CHECK(rows_of(fx, 9999) == 1);
}

TEST_CASE("a loaded log truncated while another file of its folder merely starts like it loads no line twice",
          "[integration][attack]") {
  sluice_fixture fx;
  fx.write_file("hubdoc/a.log", logins(1, 10));
  REQUIRE(fx.run_once().ok());
  // Another file that starts with a.log's content and carries more lines: it
  // loads whole (README: "A copy with extra lines ... load in full").
  fx.write_file("hubdoc/b.log", logins(1, 10) + logins(11, 5));
  REQUIRE(fx.run_once().ok());
  REQUIRE(accounts_not_once(fx, 11, 5) == 0);

  // a.log is rewritten in place, shorter: b.log is not a copytruncate copy of
  // it (it has its own ledger row and is loaded already).
  write_in_place(fx.inbox() / "hubdoc/a.log", logins(100, 3));
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(run.ok());
  CHECK(accounts_not_once(fx, 100, 3) == 0);
  CHECK(accounts_not_once(fx, 11, 5) == 0);  // b.log's own lines, loaded a second time under a.log's row
  CHECK(fx.scalar("select count(*) from sluice.files where path = 'hubdoc/b.log' and state = 'loaded'") == 1);
}

TEST_CASE("a pretty-printed JSON document that starts with a blank line loads as one record",
          "[integration][attack]") {
  sluice_fixture fx;
  write_in_place(fx.inbox() / "hubdoc/event.ndjson",
                 "\n{\n  \"date\": \"2019-01-05T08:00:00-05:00\",\n  \"log_type\": \"LOGIN\",\n"
                 "  \"level\": \"INFO\",\n  \"account\": 77,\n  \"details\": \"web login\"\n}\n");
  auto run = fx.run_once();
  INFO(run.describe());
  CHECK(run.ok());
  CHECK(rows_of(fx, 77) == 1);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
}

TEST_CASE("after kill -9 mid-file the file is re-dropped under another name and the next --once loads the rest",
          "[integration][attack][slow]") {
  sluice_fixture fx;
  const int records = 300'000;
  const std::string content = logins(1, records);
  fx.write_file("hubdoc/a.log", content);
  {
    auto run = fx.start_sluice({"--once", "--batch-mb", "1", "--stream-mb", "2"}, "killed.log");
    bool progressed = wait_until(
        [&] { return fx.scalar("select coalesce(sum(rows_loaded), 0) from sluice.files") > 0 || !run->running(); },
        60s, 5ms);
    REQUIRE(progressed);
    REQUIRE(run->running());
    run->kill();
  }
  REQUIRE(fx.scalar("select count(*) from sluice.files where state = 'loading'") == 1);
  REQUIRE(fx.staging_rows() < records);

  // The operator re-drops the file (the copy first, so it cannot reuse a.log's
  // inode), and the original goes away.
  fx.write_file("hubdoc/a-again.log", content);
  std::filesystem::remove(fx.inbox() / "hubdoc/a.log");
  auto run = fx.run_once({"--give-up-after-s", "10"});
  INFO(run.describe());
  CHECK(run.ok());
  // Every record once: the rest from the copy (or all of it, minus what committed).
  CHECK(fx.scalar("select count(distinct account) from staging.hubdoc_login") == records);
  CHECK(fx.duplicate_staging_keys() == 0);
}

TEST_CASE("a growing log rewritten in place while the daemon holds it loads its whole new content",
          "[integration][attack]") {
  sluice_fixture fx;
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  // A long settle time: the file is still held (not settled) when it is rewritten.
  auto daemon = start_daemon(fx, "daemon.log", "5000");
  write_in_place(fx.inbox() / "hubdoc/app.log", logins(1, 20));
  REQUIRE(wait_until([&] { return fx.staging_rows() >= 20; }, 20s));

  // The writer truncates the log and writes new content; the daemon looks
  // only once both are done (stopped meanwhile, to make the timing certain).
  daemon->signal(SIGSTOP);
  write_in_place(fx.inbox() / "hubdoc/app.log", logins(100, 30));
  daemon->signal(SIGCONT);
  wait_until([&] { return fx.scalar("select count(*) from sluice.files where state = 'loaded'") >= 1; }, 20s);
  std::this_thread::sleep_for(1s);
  INFO(daemon->output());
  CHECK(accounts_not_once(fx, 1, 20) == 0);
  CHECK(accounts_not_once(fx, 100, 30) == 0);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  stop_daemon(*daemon);
}

// BUG (soak seed 15, 2026-12-05): a loaded file overwritten in place (no
// truncation, same size) in pieces closer together than the quiet period was
// read as new content while half written: its tail still held the old lines,
// which were stored again (686 doubled), then the whole file once more.
TEST_CASE("a loaded file overwritten in place at its size, in quick pieces, loads its new content once and "
          "its old content not again",
          "[integration][attack][regression]") {
  sluice_fixture fx;
  auto path = fx.inbox() / "hubdoc/export.log";
  auto daemon = start_daemon(fx, "daemon.log", "500");
  const std::string before = logins(1000, 1000);
  write_in_place(path, before);
  REQUIRE(wait_until([&] { return fx.staging_rows() == 1000; }, 20s));
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from sluice.files where state = 'loaded'") == 1; },
                     20s));
  const std::string after = logins(3000, 1000);
  REQUIRE(after.size() == before.size());
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // no O_TRUNC: overwritten
    REQUIRE(fd >= 0);
    const std::size_t piece = after.size() / 5 + 1;
    for (std::size_t at = 0; at < after.size(); at += piece) {
      auto n = std::min(piece, after.size() - at);
      REQUIRE(::pwrite(fd, after.data() + at, n, static_cast<off_t>(at)) == static_cast<ssize_t>(n));
      std::this_thread::sleep_for(150ms);  // well under the 500 ms quiet period
    }
    ::close(fd);
  }
  bool all = wait_until([&] { return fx.staging_rows() >= 2000; }, 20s, 100ms);
  std::this_thread::sleep_for(1500ms);  // a doubled line would land by now
  INFO(daemon->output());
  CHECK(all);
  // It saw the file half written (else the test proves nothing).
  CHECK(daemon->output().find("rewritten in place") != std::string::npos);
  CHECK(accounts_not_once(fx, 1000, 1000) == 0);
  CHECK(accounts_not_once(fx, 3000, 1000) == 0);
  CHECK(fx.staging_rows() == 2000);
  stop_daemon(*daemon);
}

TEST_CASE("two daemons on logs that keep growing never double a record", "[integration][attack][slow]") {
  // The daemon that holds a log is still catching up when the other looks at
  // it: the other's size (taken when it opened the file) is below the ledger's
  // bytes_done by the time it reads the row, so it takes the log for one
  // rewritten in place, retires the row and loads the whole log again.
  sluice_fixture fx;
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  auto first = start_daemon(fx, "daemon-1.log");
  auto second = start_daemon(fx, "daemon-2.log");
  const int files = 300;
  std::vector<std::unique_ptr<std::ofstream>> logs;
  for (int i = 0; i < files; ++i) {
    logs.push_back(std::make_unique<std::ofstream>(fx.inbox() / "hubdoc" / ("g" + std::to_string(i) + ".log"),
                                                   std::ios::binary | std::ios::app));
  }
  int account = 1;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& log : logs) {
      *log << logins(account, 10);
      log->flush();
      account += 10;
    }
    std::this_thread::sleep_for(2ms);
  }
  logs.clear();  // closed: they settle
  const int written = account - 1;
  bool loaded = wait_until(
      [&] { return fx.scalar("select count(*) from sluice.files where state = 'loading'") == 0; }, 240s, 1s);
  std::this_thread::sleep_for(3s);  // anything doubled would land by now
  INFO("records written " << written << ", staging rows " << fx.staging_rows());
  CHECK(loaded);
  CHECK(fx.staging_rows() == written);
  CHECK(fx.scalar("select count(distinct account) from staging.hubdoc_login") == written);
  CHECK(fx.scalar("select count(*) from sluice.files") == files);
  // Two daemons that just loaded ~2M rows on 2 shared cores: allow the stop
  // (last batches, a cancelled report job) more than the usual 20 s.
  stop_daemon(*first, 60s);
  stop_daemon(*second, 60s);
}

}  // namespace sluice::testing

// Exactly once (DESIGN.md invariant 2): kill -9 at any instant then restart,
// re-dropped and renamed files, and files that grow between runs.
#include <catch2/catch.hpp>

#include <signal.h>

#include <random>
#include <thread>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"

namespace sluice::testing {
namespace {

// The first `count` lines of the sample month.
std::string sample_lines(std::size_t first, std::size_t count) {
  std::string_view rest = hubdoc_sample_month;
  std::string out;
  for (std::size_t line_idx = 0; !rest.empty() && line_idx < first + count; ++line_idx) {
    auto newline = rest.find('\n');
    auto line = rest.substr(0, newline + 1);
    if (line_idx >= first) out += line;
    rest.remove_prefix(line.size());
  }
  return out;
}

}  // namespace

TEST_CASE("kill -9 during a load, then restart: nothing lost, nothing doubled",
          "[integration][exactly-once][slow]") {
  sluice_fixture fx;
  const std::string path = "hubdoc/2019-big.log";
  // A million generated events with a bad line every 4999 lines, so that every
  // batch carries rejects too.
  auto generated = fx.generate_hubdoc(1'000'000, 5, "hubdoc/generated.tmp");
  const std::string content = interleave(read_file(generated), bad_hubdoc_lines(), 1000, 4999);
  std::filesystem::remove(generated);
  fx.write_file(path, content);
  const auto records = static_cast<std::int64_t>(count_records(content));
  REQUIRE(records > 1'000'000);

  auto records_done = [&] {
    return fx.scalar("select max(records_done) from sluice.files where path = $1", {path});
  };

  std::random_device device;
  const auto seed = device();
  INFO("kill delays seeded with " << seed);
  std::mt19937 rng(seed);
  // Kill right after a commit was seen, or some way into the next batches (the
  // whole file loads in about a second, so the window is short).
  std::uniform_int_distribution<int> delay_ms(0, 300);

  int kills_mid_load = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto before = records_done();
    if (before >= records) break;  // an earlier run got to the end before its kill
    // Alternately the one-shot loader and the daemon: both must survive kill -9.
    std::vector<std::string> flags{"--batch-mb", "1"};
    if (attempt % 2 == 0) flags.push_back("--once");
    else flags.insert(flags.end(), {"--settle-ms", "50"});
    auto run = fx.start_sluice(flags, "kill-" + std::to_string(attempt) + ".log");
    // Wait for this run to commit something (or to end), then a random while.
    bool progressed = wait_until([&] { return records_done() > before || !run->running(); }, 90s, 5ms);
    REQUIRE(progressed);
    auto delay = std::chrono::milliseconds(delay_ms(rng));
    std::this_thread::sleep_for(delay);
    if (!run->running() && attempt % 2 == 0) {
      auto ended = run->wait_for(5s);
      REQUIRE(ended.has_value());
      INFO(ended->describe());
      CHECK(ended->ok());
      break;
    }
    auto killed = run->kill();
    INFO("attempt " << attempt << ": killed " << delay.count() << " ms after progress; " << killed.describe());
    CHECK(killed.signal == SIGKILL);
    auto done = records_done();
    if (done < records) ++kills_mid_load;

    // What did commit is consistent: the ledger covers exactly the rows there
    // are. In one snapshot: the killed run's backend may still be finishing
    // its last COMMIT, which lands between two statements otherwise (seen in
    // CI: the ledger read before it, the rejects after).
    fx.db().exec("begin isolation level repeatable read");
    auto id = fx.file_id(path);
    auto ledger = fx.db().exec_params(
        "select records_done, rows_loaded, rows_rejected from sluice.files where id = $1", {std::to_string(id)});
    CHECK(ledger.int64(0, 1) + ledger.int64(0, 2) == ledger.int64(0, 0));
    CHECK(fx.staging_rows(id) == ledger.int64(0, 1));
    CHECK(fx.rejects(id) == ledger.int64(0, 2));
    CHECK(fx.scalar("select coalesce(max(r), 0) from (select _record as r from (" + fx.staging_union() +
                        ") s where _file_id = $1 union all select record from sluice.rejects where file_id = $1) o",
                    {std::to_string(id)}) == ledger.int64(0, 0));
    CHECK(fx.duplicate_staging_keys() == 0);
    fx.db().exec("commit");
  }
  CHECK(kills_mid_load >= 1);

  auto finish = fx.run_once({"--batch-mb", "1"});
  INFO(finish.describe());
  REQUIRE(finish.ok());

  check_file_conserved(fx, path, content);
  CHECK(fx.duplicate_staging_keys() == 0);
  CHECK(fx.staging_rows() + fx.scalar("select count(*) from sluice.rejects") == records);
  CHECK(fx.scalar("select count(*) from (select 1 from sluice.rejects group by file_id, record"
                  " having count(*) > 1) d") == 0);
  CHECK(fx.scalar("select count(*) from sluice.files") == 1);
}

TEST_CASE("re-dropping a file already loaded loads nothing", "[integration][exactly-once]") {
  sluice_fixture fx;
  fx.generate_hubdoc(2'000, 21, "hubdoc/2019-march.log");
  auto content = read_file(fx.inbox() / "hubdoc/2019-march.log");
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  auto original = fx.file_id("hubdoc/2019-march.log");
  REQUIRE(original > 0);
  REQUIRE(fx.staging_rows() == 2'000);

  SECTION("a copy under a new name while the original is still there is a duplicate") {
    fx.write_file("hubdoc/2019-march-copy.log", content);
    auto again = fx.run_once();
    INFO(again.describe());
    REQUIRE(again.ok());
    CHECK(fx.staging_rows() == 2'000);
    auto copy = fx.db().exec_params("select state, duplicate_of from sluice.files where path = $1",
                                    {"hubdoc/2019-march-copy.log"});
    REQUIRE(copy.rows() == 1);
    CHECK(copy.text(0, 0) == "duplicate");
    CHECK(copy.int64(0, 1) == original);
    CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
    CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(original)}) == "loaded");
  }

  SECTION("a loaded file renamed loads nothing and its ledger row follows the new path") {
    std::filesystem::rename(fx.inbox() / "hubdoc/2019-march.log", fx.inbox() / "hubdoc/march-renamed.log");
    auto again = fx.run_once();
    INFO(again.describe());
    REQUIRE(again.ok());
    CHECK(fx.staging_rows() == 2'000);
    CHECK(fx.scalar("select count(*) from sluice.files") == 1);
    CHECK(fx.text("select path from sluice.files where id = $1", {std::to_string(original)}) ==
          "hubdoc/march-renamed.log");
    CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(original)}) == "loaded");
  }

  SECTION("a file moved into another folder of the feed loads nothing") {
    std::filesystem::create_directories(fx.inbox() / "hubdoc/archive");
    std::filesystem::rename(fx.inbox() / "hubdoc/2019-march.log", fx.inbox() / "hubdoc/archive/2019-march.log");
    auto again = fx.run_once();
    INFO(again.describe());
    REQUIRE(again.ok());
    CHECK(fx.staging_rows() == 2'000);
    CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  }

  SECTION("re-running --once loads nothing") {
    for (int rerun = 0; rerun < 2; ++rerun) {
      auto again = fx.run_once();
      INFO(again.describe());
      REQUIRE(again.ok());
    }
    CHECK(fx.staging_rows() == 2'000);
    CHECK(fx.scalar("select count(*) from sluice.files") == 1);
    CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
    check_file_conserved(fx, "hubdoc/2019-march.log", content);
  }

  CHECK(fx.duplicate_staging_keys() == 0);
}

TEST_CASE("a file that grows between two --once runs loads only the new lines",
          "[integration][exactly-once]") {
  sluice_fixture fx;
  const std::string path = "hubdoc/2019-01.log";
  const std::string head = sample_lines(0, 6);
  fx.write_file(path, head);
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  auto id = fx.file_id(path);
  CHECK(fx.staging_rows(id) == 6);

  const std::string tail = sample_lines(6, 4);
  fx.append_file(path, tail);
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());

  CHECK(fx.file_id(path) == id);
  CHECK(fx.scalar("select count(*) from sluice.files") == 1);
  check_file_conserved(fx, path, head + tail);
  CHECK(fx.staging_rows() == 10);
  CHECK(fx.duplicate_staging_keys() == 0);
  // The appended lines continue the numbering: record 9 is the plan change, 10 the last login.
  CHECK(fx.scalar("select _record from staging.hubdoc_plan_change where account = 502") == 9);
  CHECK(fx.scalar("select _record from staging.hubdoc_login"
                  " where event_time = '2019-03-03T10:05:00-05:00'") == 10);
}

}  // namespace sluice::testing

namespace sluice::testing {

TEST_CASE("a path that now holds other content is loaded again as a new file",
          "[integration][exactly-once]") {
  sluice_fixture fx;
  const std::string path = "hubdoc/current.log";
  const std::string before = login_line(1) + "\n" + login_line(2) + "\n";
  fx.write_file(path, before);
  REQUIRE(fx.run_once().ok());
  auto old_id = fx.file_id(path);

  const std::string after = login_line(3) + "\n" + login_line(4) + "\n" + login_line(5) + "\n";
  fx.write_file(path, after);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  auto new_id = fx.file_id(path);
  CHECK(new_id != old_id);
  CHECK(fx.text("select state from sluice.files where id = $1", {std::to_string(old_id)}) == "replaced");
  check_file_conserved(fx, path, after);
  CHECK(fx.staging_rows(old_id) == 2);
  CHECK(fx.staging_rows() == 5);
}

}  // namespace sluice::testing

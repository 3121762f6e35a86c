// `sluice status` and sluice.status(): what a person sees of feeds, sources,
// jobs and daemons, and the exit status that alerts them.
#include <catch2/catch.hpp>

#include <csignal>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"

namespace sluice::testing {

namespace {

std::string status_field(sluice_fixture& fx, const std::string& path) {
  return fx.text("select sluice.status() #>> $1::text[]", {path});
}

}  // namespace

TEST_CASE("sluice status shows a feed's files, rows and rejects of the last hour, and the daemon by pid",
          "[integration][status]") {
  sluice_fixture fx;
  auto daemon = start_daemon(fx);
  fx.write_file("hubdoc/a.log", logins(1, 20) + "{\"not\": \"an event\"}\n");
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from sluice.files where state = 'loaded'") == 1; }, 30s));
  // The daemon's row comes within its 2 s report.
  const std::string label = std::to_string(daemon->pid()) + "@";
  REQUIRE(wait_until([&] { return status_field(fx, "{daemons,0,daemon}").rfind(label, 0) == 0; }, 10s));

  CHECK(fx.text("select sluice.status() -> 'feeds' @? '$[*] ? (@.feed == \"hubdoc\" && @.files.loaded == 1"
                " && @.rows_last_hour == 20 && @.rejects_last_hour == 1)'") == "t");
  CHECK(status_field(fx, "{daemons,0,alive}") == "true");
  auto shown = fx.status();
  INFO(shown.describe());
  CHECK(shown.ok());
  CHECK_THAT(shown.output, Catch::Matches("(.|\n)*hubdoc +0 +1 +0 +0 +0 +20 +1 +-(.|\n)*"));
  CHECK_THAT(shown.output, Catch::Contains(label));
  auto json = fx.status({"--json"});
  CHECK(json.ok());
  CHECK_THAT(json.output, Catch::Contains("\"rows_last_hour\": 20"));

  // A stop says so: the row goes.
  stop_daemon(*daemon);
  CHECK(fx.scalar("select count(*) from sluice.daemons") == 0);
}

TEST_CASE("sluice status exits 1 and says why when a source is stopped or a daemon died without a word",
          "[integration][status]") {
  sluice_fixture fx;
  CHECK(fx.status().ok());
  fx.db().exec("insert into sluice.sources (name, conninfo, publication, enabled, state, last_error)"
               " values ('shop', 'host=nowhere dbname=shop', 'pub', false, 'stopped', 'the slot is gone')");
  auto stopped = fx.status();
  INFO(stopped.describe());
  CHECK(stopped.exited);
  CHECK(stopped.code == 1);
  CHECK_THAT(stopped.output, Catch::Contains("source shop is stopped: the slot is gone"));
  // The status never shows a connection string.
  CHECK(fx.status({"--json"}).output.find("nowhere") == std::string::npos);
  fx.db().exec("delete from sluice.sources");

  auto daemon = start_daemon(fx);
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from sluice.daemons") == 1; }, 10s));
  daemon->kill();
  // A kill -9 leaves the row behind; once it is 10 s old the daemon is not
  // alive (the row is aged here rather than waited for).
  std::this_thread::sleep_for(2500ms);
  REQUIRE(fx.scalar("select count(*) from sluice.daemons") == 1);
  CHECK(status_field(fx, "{daemons,0,alive}") == "true");
  fx.db().exec("update sluice.daemons set seen_at = seen_at - interval '10 seconds'");
  auto dead = fx.status();
  INFO(dead.describe());
  CHECK(dead.code == 1);
  CHECK_THAT(dead.output, Catch::Contains("did not say it stopped"));
}

TEST_CASE("a large file being loaded shows its progress and the daemon that holds it",
          "[integration][status]") {
  sluice_fixture fx;
  auto daemon = start_daemon(fx);
  // The warehouse takes no rows while a session holds the staging table: the
  // loader reads ahead a few batches and waits there, part of the way in.
  warehouse::connection blocker(fx.dsn());
  blocker.exec("begin; lock table staging.hubdoc_login in access exclusive mode");
  fx.write_file("hubdoc/big.log", logins(1, 400'000));  // about 40 MB, ten batches
  bool shown = wait_until(
      [&] {
        return fx.scalar("select count(*) from sluice.daemons, jsonb_array_elements(loading) f"
                         " where f->>'path' = 'hubdoc/big.log' and (f->>'percent')::numeric between 1 and 99"
                         " and (f->>'bytes')::bigint > 30000000") == 1;
      },
      30s, 100ms);
  INFO(fx.text("select loading::text from sluice.daemons"));
  CHECK(shown);
  CHECK(fx.text("select sluice.status() -> 'feeds' @? '$[*] ? (@.feed == \"hubdoc\" && @.files.loading == 1)'") == "t");
  auto by = status_field(fx, "{feeds,0,loading_by,0}");
  CHECK(by.rfind(std::to_string(daemon->pid()) + "@", 0) == 0);
  auto text = fx.status();
  CHECK_THAT(text.output, Catch::Contains("loading hubdoc hubdoc/big.log: ") && Catch::Contains("rows/s"));
  blocker.exec("rollback");
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from sluice.files where state = 'loaded'") == 1; }, 60s));
  REQUIRE(wait_until([&] { return fx.text("select loading::text from sluice.daemons") == "[]"; }, 10s));
  stop_daemon(*daemon);
}

}  // namespace sluice::testing

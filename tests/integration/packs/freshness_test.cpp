// Reports within a second: a report job runs right after a commit into one of
// its inputs (sluice.jobs.inputs), not on its timer. The Hubdoc job's timer is
// set to an hour here, so only a commit's wake can have run it.
#include <catch2/catch.hpp>

#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {

namespace {

std::string signup_line(int account, int year, std::string_view plan) {
  return R"({"date": ")" + std::to_string(year) + R"(-06-01T10:00:00-05:00", "log_type": "SIGN_UP", "level": "INFO",)"
         R"( "account": )" + std::to_string(account) + R"(, "plan": ")" + std::string(plan) +
         R"(", "firstname": "Ana", "lastname": "Lee", "address": "'12 Elm St., Moncton, NB E1A 1A1'"})" + "\n";
}

}  // namespace

TEST_CASE("a dropped file reaches the Hubdoc reports at once although the job's timer is an hour",
          "[integration][packs][freshness][exclusive]") {
  sluice_fixture fx;
  fx.db().exec("update sluice.jobs set every = '1 hour' where name = 'hubdoc_reports'");
  CHECK(fx.text("select array_to_string(inputs, ',') from sluice.jobs where name = 'hubdoc_reports'") ==
        "staging.hubdoc_login,staging.hubdoc_page_access,staging.hubdoc_upload,staging.hubdoc_signup,"
        "staging.hubdoc_plan_change");
  auto daemon = start_daemon(fx);
  // The first round runs a job that never ran; after it, only a wake can.
  REQUIRE(wait_until(
      [&] {
        return fx.scalar("select count(*) from sluice.jobs where name = 'hubdoc_reports' and last_run_at is not null") ==
               1;
      },
      20s));
  for (int year = 2020; year <= 2022; ++year) {
    auto dropped = std::chrono::steady_clock::now();
    fx.write_file("hubdoc/signup-" + std::to_string(year) + ".log", signup_line(year, year, "PLAN_GOLD"));
    auto shown = wait_until(
        [&] {
          return fx.scalar("select count(*) from reports.hubdoc_signup_plans where year = $1",
                           {std::to_string(year)}) == 1;
        },
        20s, 10ms);
    auto took = std::chrono::steady_clock::now() - dropped;
    INFO("year " << year << ": in the report after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    INFO(daemon->output());
    REQUIRE(shown);
    // Settling (200 ms here), loading and the job; under the sanitizers too.
    CHECK(took < 5s);
  }
  CHECK(fx.scalar("select count(*) from sluice.jobs where name = 'hubdoc_reports' and last_seconds is not null"
                  " and last_started_at is not null and last_error is null") == 1);
  stop_daemon(*daemon);
}

}  // namespace sluice::testing

namespace sluice::testing {

TEST_CASE("a stop cancels the report job in flight without calling it failed, and runs no other",
          "[integration][packs][freshness][exclusive]") {
  sluice_fixture fx;
  fx.db().exec("insert into sluice.jobs (name, command, every) values"
               " ('a_slow', 'select pg_sleep(60) from (select $1::xid8, $2::xid8) x', '1 second'),"
               " ('b_after', 'select 1 from (select $1::xid8, $2::xid8) x', '1 second')");
  fx.db().exec("update sluice.jobs set enabled = false where name = 'hubdoc_reports'");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from pg_stat_activity where query like '%pg_sleep(60)%'"
                                            " and pid <> pg_backend_pid()") == 1; }, 20s));
  auto asked = std::chrono::steady_clock::now();
  stop_daemon(*daemon, 30s);
  CHECK(std::chrono::steady_clock::now() - asked < 10s);
  CHECK(fx.scalar("select count(*) from sluice.jobs where last_error is not null") == 0);
  CHECK(fx.scalar("select count(*) from sluice.jobs where name = 'b_after' and last_run_at is not null") == 0);
}

}  // namespace sluice::testing

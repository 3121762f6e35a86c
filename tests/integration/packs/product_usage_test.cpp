// The product_usage pack end to end: sluice-gen-product-usage's exports go
// through the inbox with the days in random order, and days exported again
// arrive after their first export, renamed over it or rewritten in place. The
// reports must equal those of a second warehouse that loaded only each day's
// newest export, in day order, and their own *_full() recomputations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {
namespace {

const char* const usage_reports[] = {"product_feature_retention", "product_new_user_adoption", "product_upgrades"};

void run_ok(sluice_fixture& fx) {
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
}

// The dictionaries, the corrections after the first files.
void load_dictionaries(sluice_fixture& fx, const std::filesystem::path& dir) {
  for (const auto* name : {"users.csv", "releases.csv", "feature_releases.csv"}) {
    fx.write_file(std::string("product_usage/dictionaries/") + name, read_file(dir / "dictionaries" / name));
  }
  run_ok(fx);
  fx.write_file("product_usage/dictionaries/users_corrections.csv",
                read_file(dir / "dictionaries" / "users_corrections.csv"));
  run_ok(fx);
}

}  // namespace

TEST_CASE("product_usage: re-exported days in random order give the reports of the newest exports alone",
          "[integration][packs][product_usage]") {
  sluice_fixture fx;
  const auto out = fx.work() / "gen";
  auto generated = run_process({SLUICE_GEN_PRODUCT_USAGE, "--out", out.string(), "--days", "40", "--users", "150",
                                "--events-per-day", "150", "--seed", "11"},
                               fx.work() / "gen.log", 120s);
  INFO(generated.describe());
  REQUIRE(generated.ok());

  std::vector<std::string> days;
  for (const auto& e : std::filesystem::directory_iterator(out / "events")) days.push_back(e.path().filename());
  std::vector<std::string> again;
  for (const auto& e : std::filesystem::directory_iterator(out / "first_exports")) again.push_back(e.path().filename());
  std::sort(days.begin(), days.end());
  REQUIRE(days.size() == 40);
  REQUIRE(again.size() >= 5);

  // The deliveries: every day's newest export, and before it the first export
  // of the days exported again, in a random order of days.
  struct delivery {
    std::string name;
    bool first;
  };
  std::mt19937 rng(20261207);
  std::vector<delivery> plan;
  for (const auto& d : days) plan.push_back({d, false});
  for (const auto& d : again) plan.push_back({d, true});
  std::shuffle(plan.begin(), plan.end(), rng);
  // A first export must come before its day's newest: swap where it does not.
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (!plan[i].first) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (!plan[j].first && plan[j].name == plan[i].name) {
        std::swap(plan[i], plan[j]);
        break;
      }
    }
  }

  load_dictionaries(fx, out);
  int in_place = 0;
  int renamed_over = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& step = plan[i];
    const auto path = "product_usage/events/" + step.name;
    const auto content = read_file(out / (step.first ? "first_exports" : "events") / step.name);
    bool replaces = !step.first && std::find(again.begin(), again.end(), step.name) != again.end();
    if (replaces && i % 2 == 0) {
      std::ofstream rewrite(fx.inbox() / path, std::ios::binary | std::ios::trunc);  // in place
      rewrite << content;
      ++in_place;
    } else {
      fx.write_file(path, content);  // written elsewhere, renamed over
      if (replaces) ++renamed_over;
    }
    if (i % 7 == 6) run_ok(fx);
  }
  run_ok(fx);
  INFO("days rewritten in place: " << in_place << ", renamed over: " << renamed_over);
  CHECK(in_place > 0);
  CHECK(renamed_over > 0);

  // Only the newest export of each day counts.
  std::int64_t newest_lines = 0;
  for (const auto& d : days) newest_lines += static_cast<std::int64_t>(count_records(read_file(out / "events" / d)));
  CHECK(fx.scalar("select count(*) from core.product_usage_event") == newest_lines);
  CHECK(fx.scalar("select count(*) from core.product_usage_export") == 40);
  CHECK(fx.scalar("select count(*) from staging.product_usage_event") > newest_lines);  // the first exports are kept
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);

  // Something in every report, and each equals its recomputation.
  CHECK(fx.scalar("select count(*) from reports.product_feature_retention where users_retained > 0") > 0);
  CHECK(fx.scalar("select count(*) from reports.product_feature_retention where diff_vs_previous_feature is not null") >
        0);
  CHECK(fx.scalar("select count(*) from reports.product_new_user_adoption where adopters > 0") > 0);
  CHECK(fx.scalar("select count(*) from reports.product_upgrades where upgraded > 0") > 0);
  for (const auto* report : usage_reports) {
    INFO(report);
    CHECK(rows_of(fx.db(), std::string("table reports.") + report) ==
          rows_of(fx.db(), std::string("select * from reports.") + report + "_full()"));
  }

  // A warehouse that saw only the newest exports, in day order.
  sluice_fixture newest;
  load_dictionaries(newest, out);
  for (const auto& d : days) newest.write_file("product_usage/events/" + d, read_file(out / "events" / d));
  run_ok(newest);
  for (const auto* report : usage_reports) {
    INFO(report);
    CHECK(rows_of(fx.db(), std::string("table reports.") + report) ==
          rows_of(newest.db(), std::string("table reports.") + report));
  }
}

}  // namespace sluice::testing

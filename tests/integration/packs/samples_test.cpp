// The samples that ship in examples/ (laid out as the inbox is) load as their
// README says, and every examples/ path the top-level README names exists:
// what a user pastes on a fresh clone works.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "support/checks.h"
#include "support/fixture.h"

namespace sluice::testing {

TEST_CASE("the samples in examples/ load as their README says, and every examples/ path the README names exists",
          "[integration][packs]") {
  const std::filesystem::path root = SLUICE_SOURCE_DIR;
  // The README's paths.
  std::set<std::string> named;
  {
    auto readme = read_file(root / "README.md");
    std::regex path_re(R"(examples/[A-Za-z0-9_./-]*[A-Za-z0-9_])");
    for (std::sregex_iterator it(readme.begin(), readme.end(), path_re), end; it != end; ++it) named.insert(it->str());
  }
  CHECK(named.size() >= 4);
  for (const auto& path : named) {
    INFO(path);
    CHECK(std::filesystem::exists(root / path));
  }

  // cp -r examples/. data/inbox/
  sluice_fixture fx;
  std::filesystem::copy(root / "examples", fx.inbox(), std::filesystem::copy_options::recursive);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(rows_of(fx.db(), "select feed, state, count(*) from sluice.files group by 1, 2") ==
        rows_of(fx.db(), "values ('hubdoc', 'loaded', 1::bigint), ('order_totals', 'loaded', 2), ('pleo_cards', 'loaded', 4),"
                         " ('pleo_users', 'loaded', 2), ('product_usage_events', 'loaded', 2),"
                         " ('product_usage_feature_releases', 'loaded', 1), ('product_usage_releases', 'loaded', 1),"
                         " ('product_usage_users', 'loaded', 1), ('sales', 'loaded', 1)"));
  CHECK(fx.scalar("select count(*) from sluice.files where reason is not null") == 0);
  // The rejects the samples mean, and no other.
  CHECK(rows_of(fx.db(), "select feed, field from sluice.rejects") ==
        rows_of(fx.db(), "values ('pleo_cards', '/payload/user_id'), ('sales', 'Price'), ('sales', 'SaleID')"));
  // Each pack's reports have something in them.
  for (const auto* report : {"reports.orders_weekly", "reports.orders_quality", "reports.sales_data_quality",
                             "reports.pleo_cards_per_user", "reports.hubdoc_signup_plans", "reports.hubdoc_active_by_province",
                             "reports.product_upgrades", "reports.product_new_user_adoption"}) {
    INFO(report);
    CHECK(fx.scalar(std::string("select count(*) from ") + report) > 0);
  }
  CHECK(fx.scalar("select count(*) from reports.orders_quality") == 2);
  CHECK(fx.text("select item_total::text from core.orders_total where order_id = 10003") == "16.50");
}

}  // namespace sluice::testing

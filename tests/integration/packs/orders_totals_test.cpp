// The orders pack's order-level exports (feed order_totals) end to end, in
// the shape the take-home's shop writes them: id,user_id,completed_at,
// item_total,shipment_total, one row per order, naive UTC times. Exports that
// repeat orders with corrected totals, a line corrected later in the same
// file, a gzipped export, and old exports dropped again: byte for byte under
// another name, and changed under a name without a time. The four reports
// must equal what this test computes itself from the exports (in cents, in
// C++), the pack's *_full() recomputations, and nothing else.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/gzip.h"

namespace sluice::testing {
namespace {

struct order_row {
  std::int64_t id = 0;
  std::int64_t user = 0;
  std::int64_t completed = 0;  // seconds since 1970, UTC
  std::int64_t items = 0;      // cents
  std::int64_t shipping = 0;   // cents
};

std::string cents(std::int64_t c) {
  std::string sign = c < 0 ? "-" : "";
  auto a = c < 0 ? -c : c;
  auto frac = std::to_string(a % 100);
  return sign + std::to_string(a / 100) + "." + (frac.size() < 2 ? "0" : "") + frac;
}

// value / divisor rounded half away from zero to `places` decimals, as text.
std::string rounded(std::int64_t value, std::int64_t divisor, int places) {
  std::int64_t scale = 1;
  for (int i = 0; i < places; ++i) scale *= 10;
  bool negative = value < 0;
  std::int64_t a = negative ? -value : value;  // cents or seconds: far from overflowing here
  auto q = (2 * a * scale + divisor) / (2 * divisor);
  auto frac = std::to_string(q % scale);
  return std::string(negative && q != 0 ? "-" : "") + std::to_string(q / scale) + "." +
         std::string(static_cast<std::size_t>(places) - frac.size(), '0') + frac;
}

std::chrono::year_month_day day_of(std::int64_t seconds) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{seconds / 86400}}};
}
std::string date_text(std::chrono::year_month_day d) {
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                static_cast<unsigned>(d.day()));
  return out;
}
std::string week_of(std::int64_t seconds) {
  std::chrono::sys_days day{std::chrono::days{seconds / 86400}};
  auto monday = day - (std::chrono::weekday{day} - std::chrono::Monday);
  return date_text(std::chrono::year_month_day{monday});
}
std::string month_of(std::int64_t seconds) {
  auto d = day_of(seconds);
  return date_text(d.year() / d.month() / 1);
}
std::string timestamp_text(std::int64_t seconds) {
  auto s = seconds % 86400;
  char out[32];
  std::snprintf(out, sizeof out, "%s %02lld:%02lld:%02lld", date_text(day_of(seconds)).c_str(),
                static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return out;
}

std::string csv_of(const std::vector<order_row>& rows) {
  std::string out = "id,user_id,completed_at,item_total,shipment_total\n";
  for (const auto& r : rows) {
    out += std::to_string(r.id) + "," + std::to_string(r.user) + "," + timestamp_text(r.completed) + "," +
           cents(r.items) + "," + cents(r.shipping) + "\n";
  }
  return out;
}

// A VALUES list of `rows` (each already SQL literals), for rows_of().
std::string values_of(const std::vector<std::string>& rows, const std::string& empty) {
  if (rows.empty()) return empty;
  std::string out = "values ";
  for (const auto& r : rows) out += (&r == &rows.front() ? "(" : ", (") + r + ")";
  return out;
}
std::string lit(const std::string& text) { return "'" + text + "'"; }

}  // namespace

TEST_CASE("order-level exports as shops write them: corrections, duplicates and old exports dropped again, and the "
          "four reports equal an independent computation",
          "[integration][packs][orders]") {
  sluice_fixture fx;
  std::mt19937_64 rng(20261207);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  const std::int64_t start = 1'788'220'800;  // 2026-09-01 00:00:00 UTC
  // 240 orders of 60 customers, and 20 customers with one order each.
  std::vector<order_row> orders;
  for (std::int64_t id = 1; id <= 260; ++id) {
    order_row o;
    o.id = id;
    o.user = id <= 240 ? pick(1, 60) : 1000 + id;
    o.completed = start + pick(0, 56 * 86400 - 1);
    o.items = id % 53 == 0 ? 0 : id % 47 == 0 ? -pick(1, 999) : pick(0, 30000);
    o.shipping = id % 53 == 0 ? 0 : pick(0, 1500);
    orders.push_back(o);
  }
  // Five exports, a week apart, each holding a random half of the orders:
  // the first three with the items total of each order off by a few cents
  // (corrected by the later ones), the last gzipped. The fourth repeats an
  // order with a correction on a later line.
  std::map<std::int64_t, order_row> truth;  // what the latest export holding an order says
  std::vector<std::string> names;
  std::vector<std::string> contents;
  for (int e = 1; e <= 5; ++e) {
    std::vector<order_row> rows;
    for (const auto& o : orders) {
      if (pick(0, 1) == 0 && e < 5) continue;  // the last holds every order
      auto row = o;
      if (e <= 3) row.items += pick(-300, 300);
      rows.push_back(row);
    }
    if (e == 4) {
      auto again = rows.front();
      rows.front().items += 12345;  // the earlier line, wrong
      rows.push_back(again);        // the later line wins
    }
    for (const auto& r : rows) truth[r.id] = r;
    char name[64];
    std::snprintf(name, sizeof name, "order_totals/orders-202611%02dT120000Z.csv", e);
    names.emplace_back(name);
    contents.push_back(csv_of(rows));
  }
  // The last export holds every order as it is: the truth.
  for (const auto& o : orders) CHECK(truth[o.id].items == o.items);

  for (int e = 0; e < 5; ++e) {
    if (e == 4) fx.write_file(names[e] + ".gz", gzip_of(contents[e]));
    else fx.write_file(names[e], contents[e]);
    if (e % 2 == 1 || e == 4) {
      auto run = fx.run_once();
      INFO(run.describe());
      REQUIRE(run.ok());
    }
  }
  // Old exports dropped again: the first byte for byte under a name without
  // a time (a duplicate, nothing stored), the second with a line changed
  // under a name without a time (loaded, and older than every timed export),
  // the third byte for byte under its name with a suffix (a duplicate).
  fx.write_file("order_totals/orders-copy.csv", contents[0]);
  fx.write_file("order_totals/old-export.csv", contents[1] + "1,1,2026-09-01 00:00:00,999.99,0.00\n");
  fx.write_file(names[2].substr(0, names[2].size() - 4) + "-resent.csv", contents[2]);
  auto last = fx.run_once();
  INFO(last.describe());
  REQUIRE(last.ok());
  CHECK(fx.scalar("select count(*) from sluice.files where feed = 'order_totals' and state = 'duplicate'") == 2);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);

  // Computed here: per customer their orders by (completed_at, id).
  std::map<std::int64_t, std::vector<const order_row*>> by_user;
  for (const auto& [id, r] : truth) by_user[r.user].push_back(&r);
  for (auto& [user, list] : by_user) {
    std::sort(list.begin(), list.end(), [](const order_row* a, const order_row* b) {
      return std::pair(a->completed, a->id) < std::pair(b->completed, b->id);
    });
  }
  struct week_sums {
    std::int64_t orders = 0, sales = 0, shipping = 0, repeat_n = 0, repeat_sum = 0, one_n = 0, one_sum = 0;
    std::int64_t gaps = 0, gap_seconds = 0;
  };
  std::map<std::string, week_sums> weeks;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> months;  // one-time, repeat
  std::vector<std::string> quality;
  for (const auto& [user, list] : by_user) {
    bool repeat = list.size() >= 2;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& r = *list[i];
      auto& w = weeks[week_of(r.completed)];
      ++w.orders;
      w.sales += r.items;
      w.shipping += r.shipping;
      (repeat ? w.repeat_n : w.one_n) += 1;
      (repeat ? w.repeat_sum : w.one_sum) += r.items;
      if (i > 0) {
        ++w.gaps;
        w.gap_seconds += r.completed - list[i - 1]->completed;
      }
      auto& m = months[month_of(r.completed)];
      (repeat ? m.second : m.first) += r.items;
      if (r.items == 0 && r.shipping == 0) quality.push_back(std::to_string(r.id) + ", 'zero_total'");
      if (r.items < 0 || r.shipping < 0) quality.push_back(std::to_string(r.id) + ", 'negative_amount'");
    }
  }
  std::vector<std::string> weekly;
  std::vector<std::string> between;
  for (const auto& [week, w] : weeks) {
    auto avg = [](std::int64_t sum, std::int64_t n) { return n == 0 ? std::string("null") : rounded(sum, n * 100, 2); };
    weekly.push_back(lit(week) + "::date, " + std::to_string(w.orders) + "::bigint, " + cents(w.sales) +
                     "::numeric, " + cents(w.shipping) + "::numeric, " + avg(w.sales, w.orders) + "::numeric, " +
                     avg(w.repeat_sum, w.repeat_n) + "::numeric, " + avg(w.one_sum, w.one_n) + "::numeric");
    if (w.gaps > 0) {
      between.push_back(lit(week) + "::date, " + rounded(w.gap_seconds, w.gaps * 86400, 4) + "::numeric");
    }
  }
  std::vector<std::string> mix;
  for (const auto& [month, m] : months) {
    mix.push_back(lit(month) + "::date, " + cents(m.first) + "::numeric, " + cents(m.second) + "::numeric");
  }
  CHECK(truth.size() == 260);
  CHECK(quality.size() >= 5);

  auto& db = fx.db();
  CHECK(rows_of(db, "select order_id, user_id, completed_at, item_total, shipment_total from core.orders_total") ==
        rows_of(db, [&] {
          std::vector<std::string> rows;
          for (const auto& [id, r] : truth) {
            rows.push_back(std::to_string(id) + "::bigint, " + std::to_string(r.user) + "::bigint, " +
                           lit(timestamp_text(r.completed) + "+00") + "::timestamptz, " + cents(r.items) +
                           "::numeric(12,2), " + cents(r.shipping) + "::numeric(12,2)");
          }
          return values_of(rows, "");
        }()));
  CHECK(rows_of(db, "select * from reports.orders_weekly") == rows_of(db, values_of(weekly, "")));
  CHECK(rows_of(db, "select * from reports.orders_customer_mix") == rows_of(db, values_of(mix, "")));
  CHECK(rows_of(db, "select * from reports.orders_time_between") == rows_of(db, values_of(between, "")));
  CHECK(rows_of(db, "select * from reports.orders_quality") ==
        rows_of(db, values_of(quality, "select 1::bigint, ''::text where false")));
  // And the pack's own recomputations agree.
  for (const auto* report : {"orders_weekly", "orders_customer_mix", "orders_time_between", "orders_quality"}) {
    INFO(report);
    CHECK(rows_of(db, std::string("select * from reports.") + report) ==
          rows_of(db, std::string("select * from reports.") + report + "_full()"));
  }
}

}  // namespace sluice::testing

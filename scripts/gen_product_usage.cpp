// sluice-gen-product-usage: seeded exports of the product team's pipeline for
// the product_usage pack (sql/product_usage/README.md). Standard library only.
//
// Writes, under --out DIR:
//   dictionaries/users.csv, releases.csv, feature_releases.csv, and
//     dictionaries/users_corrections.csv: later rows for some users (another
//     sign_in_date), which replace theirs;
//   events/YYYYMMDD_events.ndjson: each day's newest export, one event a line;
//   first_exports/YYYYMMDD_events.ndjson: the first export of the days that
//     were exported again (about a third): some of their events missing,
//     some extra, some moved by minutes; drop these into the inbox first and
//     the newest over them, in any order of days.
//
// The simulation: 3 products, each with 5 features (released on dates across
// the period) and 3 releases with names that repeat across products
// (2022.1, 2022.2, 2022.3). Users sign in on a day of the period; from then on
// they have events on some days: uses of a feature of a product (feature_id),
// events of no feature (feature_id 0), and version upgrades to a release of
// the product already out (event_type version_upgrade, curr_state the
// release). Output is a pure function of the arguments.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "civil_date.h"
#include "random_source.h"

namespace {

using sluice::gen::random_source;

constexpr std::string_view usage_text =
    R"(sluice-gen-product-usage: seeded exports for the product_usage pack.

usage: sluice-gen-product-usage --out DIR [--users N] [--days D] [--start YYYY-MM-DD]
                                [--events-per-day E] [--seed S]

  --out DIR            write DIR/dictionaries/*.csv, DIR/events/YYYYMMDD_events.ndjson
                       (each day's newest export) and DIR/first_exports/ (the first
                       export of each day exported again); nothing is overwritten
  --users N            users (default 300)
  --days D             days of events (default 60)
  --start DATE         first day (default 2022-08-01)
  --events-per-day E   about this many events a day (default 400)
  --seed S             random seed (default 1); same arguments, same output
  --help               this text
)";

struct product {
  std::string name;
  std::int64_t id;
};
const product products[] = {{"DataGrip", 3113551}, {"PyCharm", 3113552}, {"GoLand", 3113553}};
constexpr int features_per_product = 5;
const char* const release_names[] = {"2022.1", "2022.2", "2022.3"};
const char* const event_types[] = {"change_color", "run_query", "open_project", "refactor", "search"};
const char* const countries[] = {"Norway", "Germany", "Canada", "Japan", "Brazil"};
const char* const systems[] = {"RedHat", "Windows", "macOS", "Ubuntu"};

std::string date_text(std::int64_t days, bool dashes = true) {
  auto c = sluice::gen::civil_from_days(days);
  char out[16];
  std::snprintf(out, sizeof out, dashes ? "%04d-%02u-%02u" : "%04d%02u%02u", c.year, c.month, c.day);
  return out;
}

std::string timestamp_text(std::int64_t micros) {
  auto seconds = micros / 1'000'000;
  auto days = seconds / sluice::gen::seconds_per_day;
  auto in_day = seconds % sluice::gen::seconds_per_day;
  char out[48];
  std::snprintf(out, sizeof out, "%s %02lld:%02lld:%02lld.%06lld", date_text(days).c_str(),
                static_cast<long long>(in_day / 3600), static_cast<long long>(in_day / 60 % 60),
                static_cast<long long>(in_day % 60), static_cast<long long>(micros % 1'000'000));
  return out;
}

struct event {
  std::int64_t at = 0;  // microseconds since 1970, UTC
  int product = 0;
  std::int64_t feature_id = 0;
  std::int64_t user = 0;
  std::string type;
  std::string prev;
  std::string curr;
  std::int64_t kind = 0;  // event_id: the kind of event
};

std::string json_of(const event& e, std::int64_t project) {
  const auto& p = products[e.product];
  std::string out = "{\"product\":\"" + p.name + "\",\"product_version\":\"2022.1\",\"timestamp\":\"" +
                    timestamp_text(e.at) + "\",\"group_id\":\"" + (e.type == "version_upgrade" ? "update" : "usage") +
                    "\",\"event_id\":" + std::to_string(e.kind) + ",\"event_type\":\"" + e.type +
                    "\",\"user_id\":" + std::to_string(e.user) + ",\"project_id\":" + std::to_string(project) +
                    ",\"event_context\":{\"has_license\":" + (e.user % 3 == 0 ? "true" : "false") +
                    ",\"prev_state\":\"" + e.prev + "\",\"curr_state\":\"" + e.curr +
                    "\",\"additional\":{\"user\":{\"country\":\"" + countries[e.user % 5] +
                    "\",\"timezone\":\"GMT+" + std::to_string(e.user % 10) + "\",\"OS\":\"" + systems[e.user % 4] +
                    "\"},\"product\":{\"product_id\":" + std::to_string(p.id) +
                    ",\"build_id\":" + std::to_string(4654684 + e.product) + ",\"license_type\":\"" +
                    (e.user % 3 == 0 ? "Commercial" : "Trial") +
                    "\",\"runtime_version_id\":5458468,\"feature_id\":" + std::to_string(e.feature_id) + "}}}}";
  return out;
}

bool write_new(const std::filesystem::path& path, const std::string& content) {
  if (std::filesystem::exists(path)) {
    std::fprintf(stderr, "sluice-gen-product-usage: %s exists; not overwritten\n", path.c_str());
    return false;
  }
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) {
    std::fprintf(stderr, "sluice-gen-product-usage: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  std::int64_t users = 300;
  std::int64_t days = 60;
  std::string start_text = "2022-08-01";
  std::int64_t per_day = 400;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sluice-gen-product-usage: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
      return 0;
    } else if (arg == "--out") {
      out_dir = value();
    } else if (arg == "--users") {
      users = std::atoll(value().c_str());
    } else if (arg == "--days") {
      days = std::atoll(value().c_str());
    } else if (arg == "--start") {
      start_text = value();
    } else if (arg == "--events-per-day") {
      per_day = std::atoll(value().c_str());
    } else if (arg == "--seed") {
      seed = std::strtoull(value().c_str(), nullptr, 10);
    } else {
      std::fprintf(stderr, "sluice-gen-product-usage: unknown argument %s (see --help)\n", arg.c_str());
      return 2;
    }
  }
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (out_dir.empty() || users < 1 || days < 1 || per_day < 1 ||
      std::sscanf(start_text.c_str(), "%d-%u-%u", &y, &m, &d) != 3) {
    std::fprintf(stderr, "sluice-gen-product-usage: give --out DIR, and positive --users, --days, --events-per-day"
                         " and --start YYYY-MM-DD (see --help)\n");
    return 2;
  }
  const std::int64_t start = sluice::gen::days_from_civil(y, m, d);
  random_source rng(seed);
  const std::filesystem::path root(out_dir);
  for (const auto* sub : {"dictionaries", "events", "first_exports"}) std::filesystem::create_directories(root / sub);

  // Dictionaries.
  std::vector<std::int64_t> sign_in(static_cast<std::size_t>(users));
  std::string users_csv = "user_id,sign_in_date,user_login\n";
  std::string corrections = "user_id,sign_in_date,user_login\n";
  for (std::int64_t u = 0; u < users; ++u) {
    auto day = start + rng.between(0, days - 1);
    auto id = 654000 + u;
    bool corrected = rng.chance(0.05);  // the first file has the day wrong
    auto row = [&](std::int64_t on) { return std::to_string(id) + "," + date_text(on) + ",user" + std::to_string(id) + "\n"; };
    users_csv += row(corrected ? day + rng.between(1, 9) : day);
    if (corrected) corrections += row(day);
    sign_in[static_cast<std::size_t>(u)] = day;
  }
  std::string releases_csv = "release_id,product_id,release_date\n";
  std::vector<std::vector<std::int64_t>> release_day(std::size(products));
  for (std::size_t p = 0; p < std::size(products); ++p) {
    for (std::size_t r = 0; r < std::size(release_names); ++r) {
      auto day = start + static_cast<std::int64_t>(r) * days / 3 + rng.between(0, 5);
      release_day[p].push_back(day);
      releases_csv += std::string(release_names[r]) + "," + std::to_string(products[p].id) + "," + date_text(day) + "\n";
    }
  }
  std::string features_csv = "feature_release_id,product_id,feature_id,release_date\n";
  std::int64_t feature_release = 1;
  for (std::size_t p = 0; p < std::size(products); ++p) {
    for (int f = 0; f < features_per_product; ++f) {
      auto feature = 213265000 + static_cast<std::int64_t>(p) * 100 + f;
      features_csv += std::to_string(feature_release++) + "," + std::to_string(products[p].id) + "," +
                      std::to_string(feature) + "," + date_text(start - 30 + rng.between(0, 60)) + "\n";
    }
  }
  if (!write_new(root / "dictionaries" / "users.csv", users_csv) ||
      !write_new(root / "dictionaries" / "users_corrections.csv", corrections) ||
      !write_new(root / "dictionaries" / "releases.csv", releases_csv) ||
      !write_new(root / "dictionaries" / "feature_releases.csv", features_csv)) {
    return 1;
  }

  // Events, day by day.
  std::uint64_t lines = 0;
  std::uint64_t reexported = 0;
  for (std::int64_t day = start; day < start + days; ++day) {
    std::vector<std::int64_t> active;
    for (std::int64_t u = 0; u < users; ++u) {
      if (sign_in[static_cast<std::size_t>(u)] <= day) active.push_back(u);
    }
    std::vector<event> events;
    if (!active.empty()) {
      auto count = per_day / 2 + rng.between(0, per_day);
      for (std::int64_t i = 0; i < count; ++i) {
        event e;
        e.user = 654000 + active[rng.below(active.size())];
        // Users stick to one product mostly.
        e.product = static_cast<int>((e.user + (rng.chance(0.2) ? rng.between(1, 2) : 0)) % 3);
        e.at = (day * sluice::gen::seconds_per_day + rng.between(0, sluice::gen::seconds_per_day - 1)) * 1'000'000 +
               rng.between(0, 999'999);
        auto roll = rng.uniform();
        const auto& rel = release_day[static_cast<std::size_t>(e.product)];
        if (roll < 0.08) {
          // An upgrade to the newest release out, if any.
          int newest = -1;
          for (int r = 0; r < 3; ++r) {
            if (rel[static_cast<std::size_t>(r)] <= day) newest = r;
          }
          if (newest < 0) continue;
          e.type = "version_upgrade";
          e.kind = 70000;
          e.prev = newest > 0 ? release_names[newest - 1] : "2021.3";
          e.curr = release_names[newest];
        } else {
          e.type = event_types[rng.below(std::size(event_types))];
          e.kind = 65564 + static_cast<std::int64_t>(rng.below(5));
          e.prev = "dark";
          e.curr = "light";
          if (roll < 0.7) {
            // Features favoured per user, so that some come back to them.
            auto f = (e.user + (rng.chance(0.4) ? rng.between(0, features_per_product - 1) : 0)) % features_per_product;
            e.feature_id = 213265000 + e.product * 100 + f;
          }
        }
        events.push_back(std::move(e));
      }
    }
    std::sort(events.begin(), events.end(), [](const event& a, const event& b) { return a.at < b.at; });
    auto text_of = [&](const std::vector<event>& list) {
      std::string out;
      for (const auto& e : list) out += json_of(e, 6546000 + e.user % 100) + "\n";
      return out;
    };
    const auto name = date_text(day, false) + "_events.ndjson";
    if (!write_new(root / "events" / name, text_of(events))) return 1;
    lines += events.size();
    if (rng.chance(0.33)) {
      // The first export of the day: some events missing, some extra, some
      // at another minute.
      std::vector<event> first;
      for (const auto& e : events) {
        if (rng.chance(0.1)) continue;
        auto copy = e;
        if (rng.chance(0.05)) copy.at += rng.between(-600, 600) * 1'000'000;
        first.push_back(copy);
        if (rng.chance(0.05)) {
          auto extra = e;
          extra.user = 654000 + rng.between(0, users - 1);
          first.push_back(extra);
        }
      }
      if (!write_new(root / "first_exports" / name, text_of(first))) return 1;
      ++reexported;
    }
  }
  std::fprintf(stderr, "days=%lld events=%llu reexported_days=%llu users=%lld\n", static_cast<long long>(days),
               static_cast<unsigned long long>(lines), static_cast<unsigned long long>(reexported),
               static_cast<long long>(users));
  return 0;
}

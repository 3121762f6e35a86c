// sluice-bench-time-zone: local timestamps to UTC through loader/contract's
// time_zone (date/tz.h), against a baseline build of the implementation it
// replaced when scripts/bench_time_zone.sh compiles one in (namespace
// sluice::loader::baseline). A benchmark, not a test; built by that script.
//
//   sluice-bench-time-zone [--zone NAME] [--count N] [--runs R] [--compare-all]
//
// Two inputs, N local times each: "spread", uniform over 2000-2030 (each
// conversion lands anywhere in the table), and "batch", ascending a few
// seconds apart (a CDC or export file: neighbours share an offset). For each,
// the median ns per conversion of R runs, old and new interleaved, and the
// ratio new/old; the answers of the two must agree. --compare-all checks both
// implementations agree on every zone of the database, 1850-2200: offsets
// every day, local times every 15 minutes of each day whose offset changes.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <date/tz.h>

#include "loader/contract/time_zone.h"
#ifdef SLUICE_TZ_BASELINE
#include "baseline/time_zone.h"
#endif

namespace {

using sluice::loader::time_zone;

constexpr std::int64_t day_seconds = 86400;
constexpr std::int64_t unix_2000 = 946684800;
constexpr std::int64_t unix_2031 = 1924992000;

template <class Zone>
double ns_per_conversion(const Zone& zone, const std::vector<std::int64_t>& locals, std::int64_t& checksum) {
  auto start = std::chrono::steady_clock::now();
  std::int64_t sum = 0;
  for (std::int64_t local : locals) sum += zone.to_utc(local);
  auto elapsed = std::chrono::steady_clock::now() - start;
  checksum = sum;
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
         static_cast<double>(locals.size());
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::shared_ptr<const time_zone> locate(const std::string& name) {
  auto zone = time_zone::locate(name);
  if (!zone) {
    std::fprintf(stderr, "%s\n", zone.error().c_str());
    std::exit(2);
  }
  return zone.value();
}

#ifdef SLUICE_TZ_BASELINE
using old_zone = sluice::loader::baseline::time_zone;

std::shared_ptr<const old_zone> locate_old(const std::string& name) {
  auto zone = old_zone::locate(name);
  if (!zone) {
    std::fprintf(stderr, "baseline: %s\n", zone.error().c_str());
    std::exit(2);
  }
  return zone.value();
}

// Every zone, old against new: one line per zone that disagrees (how often,
// and the first time). Returns the number of such zones.
long compare_all() {
  long checked = 0, zones_differing = 0;
  const std::int64_t from = -3786825600;  // 1850-01-01
  const std::int64_t to = 7258118400;     // 2200-01-01
  for (const auto& entry : date::get_tzdb().zones) {
    auto old_tz = old_zone::locate(entry.name());
    auto new_tz = time_zone::locate(entry.name());
    if (!old_tz || !new_tz) {
      std::printf("  %s: old %s, new %s\n", entry.name().c_str(), old_tz ? "found" : old_tz.error().c_str(),
                  new_tz ? "found" : new_tz.error().c_str());
      ++zones_differing;
      continue;
    }
    const auto& o = *old_tz.value();
    const auto& n = *new_tz.value();
    long differ = 0;
    std::string first;
    auto check = [&](const char* what, std::int64_t at, std::int64_t old_value, std::int64_t new_value) {
      ++checked;
      if (old_value == new_value) return;
      if (differ++ == 0) {
        first = std::string(what) + "(" + std::to_string(at) + "): old " + std::to_string(old_value) + ", new " +
                std::to_string(new_value);
      }
    };
    for (std::int64_t day = from; day < to; day += day_seconds) {
      std::int64_t noon = day + 12 * 3600 + 17;
      check("offset_at", noon, o.offset_at(noon), n.offset_at(noon));
      if (o.offset_at(day) == o.offset_at(day + day_seconds)) continue;
      // A change this day (UTC): every quarter hour of the local days around it.
      for (std::int64_t local = day - day_seconds; local < day + 2 * day_seconds; local += 900) {
        check("to_utc", local, o.to_utc(local), n.to_utc(local));
        check("offset_at", local + 1, o.offset_at(local + 1), n.offset_at(local + 1));
      }
    }
    if (differ > 0) {
      ++zones_differing;
      std::printf("  %s: %ld differ, first %s\n", entry.name().c_str(), differ, first.c_str());
    }
  }
  std::printf("compare-all: %zu zones, %ld checks, %ld zones differ\n", date::get_tzdb().zones.size(), checked,
              zones_differing);
  return zones_differing;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::string zone_name = "Europe/Oslo";
  std::size_t count = 5'000'000;
  int runs = 5;
  bool all = false;
  for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
    std::string arg = argv[arg_idx];
    bool has_value = arg_idx + 1 < argc;
    if (arg == "--zone" && has_value) {
      zone_name = argv[++arg_idx];
    } else if (arg == "--count" && has_value) {
      count = std::strtoull(argv[++arg_idx], nullptr, 10);
    } else if (arg == "--runs" && has_value) {
      runs = std::atoi(argv[++arg_idx]);
    } else if (arg == "--compare-all") {
      all = true;
    } else {
      std::fprintf(stderr, "usage: %s [--zone NAME] [--count N] [--runs R] [--compare-all]\n", argv[0]);
      return 2;
    }
  }
#ifdef SLUICE_TZ_BASELINE
  if (all) return compare_all() == 0 ? 0 : 1;
#else
  if (all) {
    std::fprintf(stderr, "--compare-all needs a baseline: run scripts/bench_time_zone.sh\n");
    return 2;
  }
#endif

  std::mt19937_64 random(1);
  std::vector<std::int64_t> spread(count), batch(count);
  std::uniform_int_distribution<std::int64_t> anywhere(unix_2000, unix_2031);
  for (auto& local : spread) local = anywhere(random);
  std::uniform_int_distribution<std::int64_t> step(0, 6);
  std::int64_t at = unix_2000 + 20 * 365 * day_seconds;
  for (auto& local : batch) local = at += step(random);

  auto zone = locate(zone_name);
#ifdef SLUICE_TZ_BASELINE
  auto old_tz = locate_old(zone_name);
#endif
  std::printf("%s, %zu local times per input, median of %d runs (ns per conversion)\n", zone_name.c_str(), count, runs);
  int status = 0;
  for (auto [input_name, locals] : {std::pair{"spread", &spread}, std::pair{"batch", &batch}}) {
    std::vector<double> new_ns, old_ns;
    for (int run = 0; run < runs; ++run) {
      std::int64_t new_sum = 0;
      new_ns.push_back(ns_per_conversion(*zone, *locals, new_sum));
#ifdef SLUICE_TZ_BASELINE
      std::int64_t old_sum = 0;
      old_ns.push_back(ns_per_conversion(*old_tz, *locals, old_sum));
      if (old_sum != new_sum) {
        std::printf("  %s: the answers differ (checksums %lld and %lld)\n", input_name,
                    static_cast<long long>(old_sum), static_cast<long long>(new_sum));
        status = 1;
      }
#endif
    }
#ifdef SLUICE_TZ_BASELINE
    std::printf("  %-6s old %6.1f  new %6.1f  new/old %.2fx\n", input_name, median(old_ns), median(new_ns),
                median(new_ns) / median(old_ns));
#else
    std::printf("  %-6s new %6.1f\n", input_name, median(new_ns));
#endif
  }
  return status;
}

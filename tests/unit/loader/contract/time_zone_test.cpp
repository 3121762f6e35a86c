// time_zone: the system tz database, DST either way, PostgreSQL's rules for
// repeated and skipped local times, and the zone's POSIX rule after the last
// transition of its table (2037 in Debian's tzdata).
#include <catch2/catch.hpp>
#include "loader/contract/time_parse.h"
#include "loader/contract/time_zone.h"

using namespace sluice::loader;

namespace {

std::int64_t unix_at(int y, int mo, int d, int h, int mi) {
  return (static_cast<std::int64_t>(days_since_2000(y, mo, d)) + 10957) * 86400 + h * 3600 + mi * 60;
}

std::shared_ptr<const time_zone> zone(const char* name) {
  auto z = time_zone::locate(name);
  INFO(name << ": " << (z ? std::string() : z.error()));
  REQUIRE(z.ok());
  return z.value();
}

}  // namespace

TEST_CASE("offsets follow daylight saving time in both hemispheres", "[loader][time_zone]") {
  auto oslo = zone("Europe/Oslo");
  CHECK(oslo->name() == "Europe/Oslo");
  CHECK(oslo->offset_at(unix_at(2024, 1, 15, 12, 0)) == 3600);
  CHECK(oslo->offset_at(unix_at(2024, 7, 15, 12, 0)) == 7200);
  // Clocks go forward at 01:00 UTC on the last Sunday of March.
  CHECK(oslo->offset_at(unix_at(2024, 3, 31, 0, 59)) == 3600);
  CHECK(oslo->offset_at(unix_at(2024, 3, 31, 1, 0)) == 7200);
  auto sydney = zone("Australia/Sydney");
  CHECK(sydney->offset_at(unix_at(2024, 1, 15, 0, 0)) == 11 * 3600);
  CHECK(sydney->offset_at(unix_at(2024, 7, 15, 0, 0)) == 10 * 3600);
  CHECK(zone("UTC")->offset_at(unix_at(2024, 7, 15, 0, 0)) == 0);
  auto kolkata = zone("Asia/Kolkata");
  CHECK(kolkata->offset_at(unix_at(2024, 7, 15, 0, 0)) == 5 * 3600 + 1800);
}

TEST_CASE("a local time is read as PostgreSQL reads it, also when clocks change", "[loader][time_zone]") {
  auto toronto = zone("America/Toronto");
  // Ordinary: 2024-01-15 12:00 EST = 17:00 UTC.
  CHECK(toronto->to_utc(unix_at(2024, 1, 15, 12, 0)) == unix_at(2024, 1, 15, 17, 0));
  // Skipped (2024-03-10 02:30 never happens): the offset before the change (EST): 07:30 UTC.
  CHECK(toronto->to_utc(unix_at(2024, 3, 10, 2, 30)) == unix_at(2024, 3, 10, 7, 30));
  // Repeated (2024-11-03 01:30 happens twice): the offset after the change (EST): 06:30 UTC.
  CHECK(toronto->to_utc(unix_at(2024, 11, 3, 1, 30)) == unix_at(2024, 11, 3, 6, 30));
  // Just around the changes.
  CHECK(toronto->to_utc(unix_at(2024, 3, 10, 3, 0)) == unix_at(2024, 3, 10, 7, 0));
  CHECK(toronto->to_utc(unix_at(2024, 11, 3, 0, 59)) == unix_at(2024, 11, 3, 4, 59));
  CHECK(toronto->to_utc(unix_at(2024, 11, 3, 2, 0)) == unix_at(2024, 11, 3, 7, 0));
  auto oslo = zone("Europe/Oslo");
  // Skipped (2026-03-29 02:30): CET, 01:30 UTC. Repeated (2026-10-25 02:30): CET, 01:30 UTC.
  CHECK(oslo->to_utc(unix_at(2026, 3, 29, 2, 30)) == unix_at(2026, 3, 29, 1, 30));
  CHECK(oslo->to_utc(unix_at(2026, 10, 25, 2, 30)) == unix_at(2026, 10, 25, 1, 30));
  CHECK(oslo->to_utc(unix_at(2026, 10, 25, 1, 59)) == unix_at(2026, 10, 24, 23, 59));
  CHECK(oslo->to_utc(unix_at(2026, 10, 25, 3, 0)) == unix_at(2026, 10, 25, 2, 0));
  // Southern hemisphere: Sydney skips 02:00-03:00 on 2024-10-06 and repeats 02:00-03:00 on 2024-04-07.
  auto sydney = zone("Australia/Sydney");
  CHECK(sydney->to_utc(unix_at(2024, 10, 6, 2, 30)) == unix_at(2024, 10, 5, 16, 30));
  CHECK(sydney->to_utc(unix_at(2024, 4, 7, 2, 30)) == unix_at(2024, 4, 6, 16, 30));
}

TEST_CASE("instants after the table's last transition follow the zone's POSIX rule", "[loader][time_zone]") {
  auto oslo = zone("Europe/Oslo");
  CHECK(oslo->offset_at(unix_at(2100, 1, 15, 12, 0)) == 3600);
  CHECK(oslo->offset_at(unix_at(2100, 7, 15, 12, 0)) == 7200);
  // 2100-03-28 is the last Sunday of March 2100.
  CHECK(oslo->offset_at(unix_at(2100, 3, 28, 0, 59)) == 3600);
  CHECK(oslo->offset_at(unix_at(2100, 3, 28, 1, 0)) == 7200);
  // The first change after Debian's table ends (2037-10-25): 2038-03-28.
  CHECK(oslo->offset_at(unix_at(2038, 3, 28, 0, 59)) == 3600);
  CHECK(oslo->offset_at(unix_at(2038, 3, 28, 1, 0)) == 7200);
  auto sydney = zone("Australia/Sydney");
  CHECK(sydney->offset_at(unix_at(2100, 1, 15, 0, 0)) == 11 * 3600);
  CHECK(sydney->offset_at(unix_at(2100, 7, 15, 0, 0)) == 10 * 3600);
  // Local times too, with PostgreSQL's rules: 2100-03-14 02:30 is skipped in
  // Toronto (EST: 07:30 UTC), 2100-11-07 01:30 repeated (EST: 06:30 UTC).
  auto toronto = zone("America/Toronto");
  CHECK(toronto->to_utc(unix_at(2100, 7, 1, 12, 0)) == unix_at(2100, 7, 1, 16, 0));
  CHECK(toronto->to_utc(unix_at(2100, 3, 14, 2, 30)) == unix_at(2100, 3, 14, 7, 30));
  CHECK(toronto->to_utc(unix_at(2100, 11, 7, 1, 30)) == unix_at(2100, 11, 7, 6, 30));
  // Dublin's rule has winter as its negative daylight saving time ("IST-1GMT0,M10.5.0,M3.5.0/1").
  auto dublin = zone("Europe/Dublin");
  CHECK(dublin->offset_at(unix_at(2100, 1, 15, 12, 0)) == 0);
  CHECK(dublin->offset_at(unix_at(2100, 7, 15, 12, 0)) == 3600);
}

TEST_CASE("an unknown zone name is refused with the name and the database looked in", "[loader][time_zone]") {
  auto missing = time_zone::locate("Europe/Olso");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("'Europe/Olso'") != std::string::npos);
  CHECK(missing.error().find("/usr/share/zoneinfo") != std::string::npos);
  CHECK_FALSE(time_zone::locate("../etc/passwd").ok());
  CHECK_FALSE(time_zone::locate("/etc/passwd").ok());
  CHECK_FALSE(time_zone::locate("").ok());
}

TEST_CASE("local times in ascending order, as a file holds them, are read the same across changes and zones",
          "[loader][time_zone]") {
  // Each thread remembers the range of its last answer: walking minute by
  // minute through changes, and switching zones, must not carry an offset
  // past its range.
  auto oslo = zone("Europe/Oslo");
  auto toronto = zone("America/Toronto");
  for (std::int64_t local = unix_at(2024, 3, 29, 0, 0); local < unix_at(2024, 4, 2, 0, 0); local += 60) {
    // 02:00-03:00 on 2024-03-31 never happens: read before the change, in CET.
    std::int64_t oslo_offset = local < unix_at(2024, 3, 31, 3, 0) ? 3600 : 7200;
    REQUIRE(oslo->to_utc(local) == local - oslo_offset);
    // Toronto changed on 2024-03-10: EDT all along here.
    REQUIRE(toronto->to_utc(local) == local + 4 * 3600);
  }
  for (std::int64_t local = unix_at(2024, 10, 25, 0, 0); local < unix_at(2024, 10, 29, 0, 0); local += 60) {
    // 02:00-03:00 on 2024-10-27 happens twice: read after the change, in CET.
    std::int64_t oslo_offset = local < unix_at(2024, 10, 27, 2, 0) ? 7200 : 3600;
    REQUIRE(oslo->to_utc(local) == local - oslo_offset);
  }
  // Across the end of the table (2037-10-25) into the rule's years: every
  // local time that happens comes back from UTC as itself.
  for (std::int64_t local = unix_at(2037, 1, 1, 0, 0); local < unix_at(2039, 1, 1, 0, 0); local += 900) {
    std::int64_t utc = oslo->to_utc(local);
    std::int64_t back = utc + oslo->offset_at(utc);
    bool skipped = back != local;  // only 02:00-03:00 on the last Sunday of March
    if (skipped) {
      REQUIRE(local - utc == 3600);
      REQUIRE(back == local + 3600);
    }
  }
  CHECK(oslo->to_utc(unix_at(2038, 3, 28, 2, 30)) == unix_at(2038, 3, 28, 1, 30));
  CHECK(oslo->to_utc(unix_at(2038, 7, 1, 12, 0)) == unix_at(2038, 7, 1, 10, 0));
}

TEST_CASE("a time read by the zone's rule is not remembered for the years of its table", "[loader][time_zone]") {
  // Tehran's rule has had no daylight saving time since 2022 ("<+0330>-3:30",
  // one range for all time); its table still has summers at +04:30 before.
  auto tehran = zone("Asia/Tehran");
  CHECK(tehran->to_utc(unix_at(2024, 7, 1, 12, 0)) == unix_at(2024, 7, 1, 8, 30));
  CHECK(tehran->to_utc(unix_at(2021, 7, 1, 12, 0)) == unix_at(2021, 7, 1, 7, 30));
  CHECK(tehran->to_utc(unix_at(2024, 7, 1, 12, 0)) == unix_at(2024, 7, 1, 8, 30));
}

// time_zone: the system tz database, DST either way, PostgreSQL's rules for
// repeated and skipped local times, and the POSIX rule after the last transition.
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
}

TEST_CASE("instants after the table's last transition follow the zone's POSIX rule", "[loader][time_zone]") {
  auto oslo = zone("Europe/Oslo");
  CHECK(oslo->offset_at(unix_at(2100, 1, 15, 12, 0)) == 3600);
  CHECK(oslo->offset_at(unix_at(2100, 7, 15, 12, 0)) == 7200);
  // 2100-03-28 is the last Sunday of March 2100.
  CHECK(oslo->offset_at(unix_at(2100, 3, 28, 0, 59)) == 3600);
  CHECK(oslo->offset_at(unix_at(2100, 3, 28, 1, 0)) == 7200);
  auto sydney = zone("Australia/Sydney");
  CHECK(sydney->offset_at(unix_at(2100, 1, 15, 0, 0)) == 11 * 3600);
  CHECK(sydney->offset_at(unix_at(2100, 7, 15, 0, 0)) == 10 * 3600);
}

TEST_CASE("an unknown or unsafe zone name is refused with the file looked for", "[loader][time_zone]") {
  auto missing = time_zone::locate("Europe/Olso");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("Europe/Olso") != std::string::npos);
  CHECK_FALSE(time_zone::locate("../etc/passwd").ok());
  CHECK_FALSE(time_zone::locate("").ok());
  CHECK_FALSE(time_zone::from_tzif("junk", "not a tzif file at all, long enough to have a header...").ok());
}

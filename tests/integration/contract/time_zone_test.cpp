// time_zone against PostgreSQL itself: every local time a quarter of an hour
// apart on the days around each change of offset, 1900-2100, and noon of every
// other day, read by time_zone::to_utc and by `<local>::timestamp at time zone
// <zone>`, must be the same instant. PostgreSQL reads the same tz database
// (Debian builds it --with-system-tzdata) with its own code, rule included.
// Read-only: no database of its own.
#include <catch2/catch.hpp>

#include <string>

#include "loader/contract/time_zone.h"
#include "support/fixture.h"
#include "warehouse/connection.h"

namespace sluice::testing {
namespace {

// For one zone: (local seconds since 1970 on the zone's clock, PostgreSQL's
// Unix time for it, the local time as text), for the quarter hours of the days around each change of
// offset and noon of every day.
constexpr const char* postgres_readings = R"SQL(
with days as (
  select d from generate_series('1900-01-01'::timestamp, '2100-12-31', '1 day') d
), change_days as (
  select d from days
  where (d + interval '1 day') at time zone $1 - d at time zone $1 <> interval '1 day'
), locals as (
  select l from change_days, generate_series(d - interval '1 day', d + interval '2 days', '15 minutes') l
  union
  select d + interval '12 hours' from days
)
select extract(epoch from l)::bigint, extract(epoch from l at time zone $1)::bigint, l::text from locals order by l
)SQL";

}  // namespace

TEST_CASE("a local time is read as PostgreSQL reads it, in zones with every kind of change, 1900-2100",
          "[integration][time_zone]") {
  warehouse::connection conn(admin_dsn());
  // Both hemispheres, a half-hour change (Lord_Howe), negative DST (Dublin),
  // Morocco's Ramadan changes, a zone that stopped DST (Tehran), :30 offsets.
  // Not America/Nuuk: date 3.0.1 cannot read its rule (see time_zone.h).
  auto zone_name = GENERATE(as<std::string>{}, "Europe/Oslo", "America/Toronto", "Australia/Sydney",
                            "Australia/Lord_Howe", "Europe/Dublin", "Africa/Casablanca", "Asia/Tehran",
                            "America/St_Johns", "Pacific/Chatham", "America/Santiago", "UTC");
  auto zone = loader::time_zone::locate(zone_name);
  INFO(zone_name << (zone ? std::string() : ": " + zone.error()));
  REQUIRE(zone.ok());
  auto readings = conn.exec_params(postgres_readings, {zone_name});
  REQUIRE(readings.rows() > 70000);
  // Ascending, as a file's times mostly are, then descending: the range a
  // thread remembers is entered and left from both sides.
  int differ = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (int idx = 0; idx < readings.rows(); ++idx) {
      int row = pass == 0 ? idx : readings.rows() - 1 - idx;
      std::int64_t local = readings.int64(row, 0);
      std::int64_t postgres = readings.int64(row, 1);
      std::int64_t ours = zone.value()->to_utc(local);
      if (ours != postgres && ++differ <= 5) {
        FAIL_CHECK("local " << local << " (" << readings.text(row, 2) << "): PostgreSQL " << postgres << ", ours "
                            << ours);
      }
    }
  }
  CHECK(differ == 0);
}

}  // namespace sluice::testing

// ISO-8601 / RFC 3339 dates and timestamps, checked against the calendar.
// Each function returns nullptr on success, else a static reason ("no such day
// in that month", ...) for the reject message. No allocation, no locale, no TZ
// database (see time_zone.h for timestamps without an offset).
#pragma once

#include <cstdint>
#include <string_view>

#include "loader/contract/result.h"

namespace sluice::loader {

// Days since 2000-01-01 (PostgreSQL's epoch) of a proleptic Gregorian date.
[[nodiscard]] std::int32_t days_since_2000(int year, int month, int day) noexcept;

// "YYYY-MM-DD" -> days since 2000-01-01.
[[nodiscard]] const char* parse_date(std::string_view text, std::int32_t& days) noexcept;

// "YYYY-MM-DD[T| ]HH:MM[:SS[.ffffff]](Z|±HH[:MM]|±HHMM)" -> microseconds since
// 2000-01-01 00:00:00 UTC. The offset is required (a time without one is
// ambiguous). Fractions beyond microseconds are truncated.
[[nodiscard]] const char* parse_timestamptz(std::string_view text, std::int64_t& micros) noexcept;

// Same syntax without an offset -> microseconds since 2000-01-01 00:00:00 (local,
// as PostgreSQL's timestamp without time zone).
[[nodiscard]] const char* parse_timestamp(std::string_view text, std::int64_t& micros) noexcept;

// Same syntax with the offset optional: the time as written (microseconds since
// 2000-01-01 00:00:00 on the writer's clock) and the offset when there is one.
struct written_timestamp {
  std::int64_t local_micros = 0;
  bool has_offset = false;
  std::int32_t offset_seconds = 0;  // east of UTC
};
[[nodiscard]] result<written_timestamp> parse_iso_timestamp(std::string_view text) noexcept;

// Whether year-month-day is a day of the proleptic Gregorian calendar: nullptr,
// else why not.
[[nodiscard]] const char* check_date(int year, int month, int day) noexcept;

}  // namespace sluice::loader

// sluice-gen-hubdoc's clock: the UTC offset of America/Toronto, the zone the
// Hubdoc logs are written in, by its rules since 1967 (not the machine's time
// zone database, on which the output must not depend).
#pragma once

#include <cstdint>

#include "civil_date.h"

namespace sluice::gen::hubdoc {

using gen::civil_date;
using gen::civil_from_days;
using gen::days_from_civil;
using gen::seconds_per_day;
using gen::weekday;

constexpr std::int64_t nth_sunday(int y, unsigned m, unsigned n) {
  const std::int64_t first = days_from_civil(y, m, 1);
  return first + (7 - weekday(first)) % 7 + 7 * (n - 1);
}

constexpr std::int64_t last_sunday(int y, unsigned m) {
  const std::int64_t last = (m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1)) - 1;
  return last - weekday(last);
}

// UTC offset of America/Toronto in seconds at a UTC instant (US/Canada rules
// since 1967; the 2007 change included). Caches the year's transitions.
class toronto_clock {
 public:
  std::int64_t offset_at(std::int64_t utc) {
    if (utc < cached_from_ || utc >= cached_to_) load_year(civil_from_days(floor_div(utc, seconds_per_day)).year);
    return (utc >= dst_start_ && utc < dst_end_) ? -4 * 3600 : -5 * 3600;
  }

  // The Toronto calendar day a UTC instant falls on.
  civil_date local_date(std::int64_t utc) {
    return civil_from_days(floor_div(utc + offset_at(utc), seconds_per_day));
  }

  static std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
  }

 private:
  void load_year(int y) {
    std::int64_t start_day = 0;
    std::int64_t end_day = 0;
    if (y >= 2007) {
      start_day = nth_sunday(y, 3, 2);
      end_day = nth_sunday(y, 11, 1);
    } else if (y >= 1987) {
      start_day = nth_sunday(y, 4, 1);
      end_day = last_sunday(y, 10);
    } else {
      start_day = last_sunday(y, 4);
      end_day = last_sunday(y, 10);
    }
    dst_start_ = start_day * seconds_per_day + 7 * 3600;  // 02:00 EST
    dst_end_ = end_day * seconds_per_day + 6 * 3600;      // 02:00 EDT
    cached_from_ = days_from_civil(y, 1, 1) * seconds_per_day;
    cached_to_ = days_from_civil(y + 1, 1, 1) * seconds_per_day;
  }

  std::int64_t cached_from_ = 1;
  std::int64_t cached_to_ = 0;
  std::int64_t dst_start_ = 0;
  std::int64_t dst_end_ = 0;
};

}  // namespace sluice::gen::hubdoc

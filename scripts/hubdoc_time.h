// sluice-gen-hubdoc's clock: civil dates (proleptic Gregorian, days since
// 1970-01-01) and the UTC offset of America/Toronto, the zone the Hubdoc logs
// are written in. Standard library only, like the rest of the generator: the
// output must not depend on the machine's time zone database.
#pragma once

#include <cstdint>

namespace sluice::gen::hubdoc {

constexpr std::int64_t seconds_per_day = 86400;

struct civil_date {
  int year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days.
constexpr std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr civil_date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const auto y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
  return {y, m, d};
}

// 0 = Sunday.
constexpr unsigned weekday(std::int64_t days) {
  return static_cast<unsigned>(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

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

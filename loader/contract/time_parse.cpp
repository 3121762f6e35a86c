#include "loader/contract/time_parse.h"

#include "loader/contract/ascii.h"

namespace sluice::loader {

namespace {

bool digits(std::string_view text, std::size_t at, std::size_t count, int& out) noexcept {
  if (at + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

bool is_leap(int year) noexcept { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) noexcept {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

const char* parse_ymd(std::string_view text, int& year, int& month, int& day) noexcept {
  if (!digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day)) {
    return "not a date of the form YYYY-MM-DD";
  }
  if (month < 1 || month > 12) return "month is not between 01 and 12";
  if (day < 1 || day > days_in_month(year, month)) return "no such day in that month";
  return nullptr;
}

enum class offset_rule { required, forbidden, optional };

// Parses date, time and the UTC offset (per `rule`); `micros` is UTC when an
// offset was read, else the time as written.
const char* parse_date_time(std::string_view text, std::int64_t& micros, offset_rule rule,
                            bool& has_offset, int& offset) noexcept {
  int year = 0, month = 0, day = 0;
  if (auto* why = parse_ymd(text, year, month, day)) return why;
  if (text.size() < 16 || (text[10] != 'T' && text[10] != 't' && text[10] != ' ')) {
    return "not a timestamp of the form YYYY-MM-DDTHH:MM:SS+HH:MM";
  }
  int hour = 0, minute = 0, second = 0;
  if (!digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute)) {
    return "not a timestamp of the form YYYY-MM-DDTHH:MM:SS+HH:MM";
  }
  std::size_t at = 16;
  std::int64_t fraction = 0;
  if (at < text.size() && text[at] == ':') {
    if (!digits(text, at + 1, 2, second)) return "seconds are not two digits";
    at += 3;
    if (at < text.size() && (text[at] == '.' || text[at] == ',')) {
      ++at;
      std::size_t first = at;
      std::int64_t scale = 100'000;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        fraction += (text[at] - '0') * scale;
        scale /= 10;
        ++at;
      }
      if (at == first) return "a decimal point with no digits after it";
    }
  }
  if (hour > 23) return "hour is not between 00 and 23";
  if (minute > 59) return "minute is not between 00 and 59";
  if (second > 59) return "second is not between 00 and 59";

  offset = 0;
  has_offset = false;
  bool offset_follows = at < text.size() && rule != offset_rule::forbidden;
  if (rule == offset_rule::required && !offset_follows) {
    return "no UTC offset (add Z or +HH:MM: a time without one is ambiguous)";
  }
  if (offset_follows) {
    char sign = text[at];
    if (sign == 'Z' || sign == 'z') {
      ++at;
    } else if (sign == '+' || sign == '-') {
      int oh = 0, om = 0;
      if (!digits(text, at + 1, 2, oh)) return "UTC offset is not +HH:MM";
      at += 3;
      bool colon = at < text.size() && text[at] == ':';
      if (colon) ++at;
      if (colon || at < text.size()) {
        if (!digits(text, at, 2, om)) return "UTC offset is not +HH:MM";
        at += 2;
      }
      if (oh > 15 || om > 59) return "UTC offset is out of range";
      offset = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
    } else {
      return "unexpected text after the time (expected Z or +HH:MM)";
    }
    has_offset = true;
  }
  if (at != text.size()) return "unexpected text after the timestamp";

  std::int64_t seconds = static_cast<std::int64_t>(days_since_2000(year, month, day)) * 86400 +
                         hour * 3600 + minute * 60 + second - offset;
  micros = seconds * micros_per_second + fraction;
  return nullptr;
}

}  // namespace

std::int32_t days_since_2000(int year, int month, int day) noexcept {
  // Days from 0000-03-01 counted in 400-year eras, shifted so that March starts
  // the year (the leap day then falls at a year's end).
  int y = month <= 2 ? year - 1 : year;
  int era = (y >= 0 ? y : y - 399) / 400;
  int year_of_era = y - era * 400;
  int month_index = month > 2 ? month - 3 : month + 9;
  int day_of_year = (153 * month_index + 2) / 5 + day - 1;
  int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  std::int64_t days_from_0000_03_01 = static_cast<std::int64_t>(era) * 146097 + day_of_era;
  constexpr std::int64_t epoch_2000 = 730425;  // 2000-01-01 in the same count
  return static_cast<std::int32_t>(days_from_0000_03_01 - epoch_2000);
}

const char* parse_date(std::string_view text, std::int32_t& days) noexcept {
  int year = 0, month = 0, day = 0;
  if (auto* why = parse_ymd(text, year, month, day)) return why;
  if (text.size() != 10) return "unexpected text after the date";
  days = days_since_2000(year, month, day);
  return nullptr;
}

const char* parse_timestamptz(std::string_view text, std::int64_t& micros) noexcept {
  int offset = 0;
  bool has_offset = false;
  return parse_date_time(text, micros, offset_rule::required, has_offset, offset);
}

const char* parse_timestamp(std::string_view text, std::int64_t& micros) noexcept {
  int offset = 0;
  bool has_offset = false;
  return parse_date_time(text, micros, offset_rule::forbidden, has_offset, offset);
}

result<written_timestamp> parse_iso_timestamp(std::string_view text) noexcept {
  written_timestamp out;
  int offset = 0;
  std::int64_t micros = 0;
  if (auto* why = parse_date_time(text, micros, offset_rule::optional, out.has_offset, offset)) {
    return failure{why};
  }
  out.offset_seconds = offset;
  // parse_date_time applied the offset; keep the time as written too.
  out.local_micros = micros + static_cast<std::int64_t>(offset) * micros_per_second;
  return out;
}

const char* check_date(int year, int month, int day) noexcept {
  if (month < 1 || month > 12) return "month is not between 01 and 12";
  if (day < 1 || day > days_in_month(year, month)) return "no such day in that month";
  return nullptr;
}

}  // namespace sluice::loader

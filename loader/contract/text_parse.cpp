#include "loader/contract/text_parse.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "loader/contract/ascii.h"

namespace sluice::loader {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_pg_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_pg_space(text.back())) text.remove_suffix(1);
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

constexpr std::int64_t micros_per_hour = 3600 * micros_per_second;

// Digits then an optional fraction, e.g. "12" or "6.25": whole part and the
// fraction in microseconds (for seconds) or as a double fraction.
struct decimal_number {
  std::int64_t whole = 0;
  double fraction = 0;
  bool has_digits = false;
};

decimal_number read_decimal(std::string_view text, std::size_t& at) {
  decimal_number out;
  while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
    if (out.whole > std::numeric_limits<std::int64_t>::max() / 10 - 10) {
      out.has_digits = false;
      return out;
    }
    out.whole = out.whole * 10 + (text[at++] - '0');
    out.has_digits = true;
  }
  if (at < text.size() && text[at] == '.') {
    ++at;
    double scale = 0.1;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      out.fraction += (text[at++] - '0') * scale;
      scale /= 10;
      out.has_digits = true;
    }
  }
  return out;
}

// "HH:MM[:SS[.f]]" from `at`; microseconds.
bool read_clock(std::string_view text, std::size_t& at, std::int64_t& micros, bool limit_hours) {
  auto two = [&](int& out) {
    std::size_t start = at;
    out = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9' && at - start < (limit_hours ? 2u : 9u)) {
      out = out * 10 + (text[at++] - '0');
    }
    return at > start;
  };
  int hours = 0, minutes = 0, seconds = 0;
  if (!two(hours) || at >= text.size() || text[at] != ':') return false;
  ++at;
  std::size_t minute_start = at;
  limit_hours = true;
  if (!two(minutes) || at - minute_start != 2 || minutes > 59) return false;
  std::int64_t fraction = 0;
  if (at < text.size() && text[at] == ':') {
    ++at;
    std::size_t second_start = at;
    if (!two(seconds) || at - second_start != 2 || seconds > 59) return false;
    if (at < text.size() && text[at] == '.') {
      ++at;
      std::int64_t scale = 100'000;
      std::size_t first = at;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        fraction += (text[at++] - '0') * scale;
        scale /= 10;
      }
      if (at == first) return false;
    }
  }
  micros = (static_cast<std::int64_t>(hours) * 3600 + minutes * 60 + seconds) * micros_per_second + fraction;
  return true;
}

}  // namespace

result<std::int64_t> parse_integer(std::string_view text, std::int64_t low, std::int64_t high) noexcept {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return failure{"empty (expected an integer)"};
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) return failure{"out of range for the column's integer type"};
  if (error != std::errc() || end != text.data() + text.size()) {
    return failure{"not an integer (expected digits with an optional sign, e.g. 42)"};
  }
  if (value < low || value > high) return failure{"out of range for the column's integer type"};
  return value;
}

result<double> parse_float(std::string_view text, bool single) noexcept {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return failure{"empty (expected a number)"};
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) return failure{"out of range for the column's floating-point type"};
  if (error != std::errc() || end != text.data() + text.size()) {
    return failure{"not a number (expected e.g. 3.25, -1e-3, NaN or Infinity)"};
  }
  if (single && std::isfinite(value) &&
      (value > std::numeric_limits<float>::max() || value < -std::numeric_limits<float>::max())) {
    return failure{"out of range for real (at most about 3.4e38)"};
  }
  return value;
}

result<bool> parse_boolean(std::string_view text, const std::vector<std::string>& true_words,
                           const std::vector<std::string>& false_words) noexcept {
  text = trim(text);
  for (const auto& word : true_words) {
    if (ascii_iequals(text, word)) return true;
  }
  for (const auto& word : false_words) {
    if (ascii_iequals(text, word)) return false;
  }
  return failure{"not a boolean (expected one of the feed's true_strings or false_strings)"};
}

result<std::array<unsigned char, 16>> parse_uuid(std::string_view text) noexcept {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') text = text.substr(1, text.size() - 2);
  std::array<unsigned char, 16> out{};
  std::size_t nibbles = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (text[at] == '-' && nibbles > 0 && nibbles % 4 == 0 && nibbles < 32 && at + 1 < text.size() &&
        text[at + 1] != '-') {
      continue;  // PostgreSQL allows a hyphen after any group of four digits
    }
    int v = hex_value(text[at]);
    if (v < 0 || nibbles >= 32) return failure{"not a UUID (expected 32 hex digits, e.g. a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11)"};
    out[nibbles / 2] = static_cast<unsigned char>(out[nibbles / 2] | (nibbles % 2 == 0 ? v << 4 : v));
    ++nibbles;
  }
  if (nibbles != 32) return failure{"not a UUID (expected 32 hex digits, e.g. a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11)"};
  return out;
}

result<std::int64_t> parse_time_of_day(std::string_view text) noexcept {
  text = trim(text);
  std::size_t at = 0;
  std::int64_t micros = 0;
  if (!read_clock(text, at, micros, true) || at != text.size()) {
    return failure{"not a time of day (expected HH:MM or HH:MM:SS[.ffffff])"};
  }
  if (micros > 24 * micros_per_hour) return failure{"time of day out of range (00:00:00 to 24:00:00)"};
  return micros;
}

namespace {

constexpr const char* bad_iso = "not an ISO 8601 duration (expected e.g. P1Y2M3DT4H5M6S)";
constexpr const char* fraction_of_days =
    "fractions of years, months, weeks or days are not read (write 1 day 12:00:00, not 1.5 days)";
constexpr const char* bad_words = "not an interval (expected e.g. 1 year 2 mons 3 days 04:05:06, or P1DT2H)";

// An ISO 8601 duration from just after its P (e.g. P1Y2M3DT4H5M6S), added to
// `out` and `micros`.
result<ok_t> read_iso_duration(std::string_view text, std::size_t at, interval_value& out, double& micros) noexcept {
  bool in_time = false;
  bool any = false;
  while (at < text.size()) {
    if (text[at] == 'T' || text[at] == 't') {
      if (in_time) return failure{bad_iso};
      in_time = true;
      ++at;
      continue;
    }
    bool negative = text[at] == '-';
    if (negative) ++at;
    auto n = read_decimal(text, at);
    if (!n.has_digits || at >= text.size()) return failure{bad_iso};
    double amount = (static_cast<double>(n.whole) + n.fraction) * (negative ? -1 : 1);
    char unit = static_cast<char>(text[at] & ~0x20);
    ++at;
    if (n.fraction != 0 && !in_time) return failure{fraction_of_days};
    if (!in_time && unit == 'Y') out.months += static_cast<std::int32_t>(amount * 12);
    else if (!in_time && unit == 'M') out.months += static_cast<std::int32_t>(amount);
    else if (!in_time && unit == 'W') out.days += static_cast<std::int32_t>(amount * 7);
    else if (!in_time && unit == 'D') out.days += static_cast<std::int32_t>(amount);
    else if (in_time && unit == 'H') micros += amount * 3600e6;
    else if (in_time && unit == 'M') micros += amount * 60e6;
    else if (in_time && unit == 'S') micros += amount * 1e6;
    else return failure{bad_iso};
    any = true;
  }
  if (!any) return failure{bad_iso};
  return ok_value;
}

// PostgreSQL's words and clock (e.g. 1 year 2 mons -3 days 04:05:06) from
// `at`, added to `out` and `micros`.
result<ok_t> read_interval_words(std::string_view text, std::size_t at, interval_value& out,
                                 double& micros) noexcept {
  struct unit {
    std::string_view word;
    int months, days;
    double micros;
  };
  static constexpr unit units[] = {
      {"years", 12, 0, 0},  {"year", 12, 0, 0},  {"y", 12, 0, 0},       {"months", 1, 0, 0},
      {"month", 1, 0, 0},   {"mons", 1, 0, 0},   {"mon", 1, 0, 0},      {"weeks", 0, 7, 0},
      {"week", 0, 7, 0},    {"w", 0, 7, 0},      {"days", 0, 1, 0},     {"day", 0, 1, 0},
      {"d", 0, 1, 0},       {"hours", 0, 0, 3600e6}, {"hour", 0, 0, 3600e6}, {"h", 0, 0, 3600e6},
      {"minutes", 0, 0, 60e6}, {"minute", 0, 0, 60e6}, {"mins", 0, 0, 60e6}, {"min", 0, 0, 60e6},
      {"m", 0, 0, 60e6},    {"seconds", 0, 0, 1e6}, {"second", 0, 0, 1e6}, {"secs", 0, 0, 1e6},
      {"sec", 0, 0, 1e6},   {"s", 0, 0, 1e6}};
  bool any = false;
  while (at < text.size()) {
    while (at < text.size() && is_pg_space(text[at])) ++at;
    if (at >= text.size()) break;
    bool negative = false;
    if (text[at] == '-' || text[at] == '+') negative = text[at++] == '-';
    // A clock: [-]HH:MM[:SS[.f]]
    std::size_t probe = at;
    while (probe < text.size() && text[probe] >= '0' && text[probe] <= '9') ++probe;
    if (probe < text.size() && text[probe] == ':') {
      std::int64_t clock = 0;
      if (!read_clock(text, at, clock, false)) return failure{bad_words};
      micros += static_cast<double>(clock) * (negative ? -1 : 1);
      any = true;
      continue;
    }
    auto n = read_decimal(text, at);
    if (!n.has_digits) return failure{bad_words};
    double amount = (static_cast<double>(n.whole) + n.fraction) * (negative ? -1 : 1);
    while (at < text.size() && is_pg_space(text[at])) ++at;
    std::size_t word_start = at;
    while (at < text.size() && ((text[at] >= 'a' && text[at] <= 'z') || (text[at] >= 'A' && text[at] <= 'Z'))) ++at;
    auto word = text.substr(word_start, at - word_start);
    const unit* found = nullptr;
    for (const auto& u : units) {
      if (ascii_iequals(word, u.word)) {
        found = &u;
        break;
      }
    }
    if (found == nullptr) return failure{bad_words};
    if (n.fraction != 0 && found->micros == 0) return failure{fraction_of_days};
    out.months += static_cast<std::int32_t>(amount * found->months);
    out.days += static_cast<std::int32_t>(amount * found->days);
    micros += amount * found->micros;
    any = true;
  }
  if (!any) return failure{bad_words};
  return ok_value;
}

}  // namespace

result<interval_value> parse_interval(std::string_view text) noexcept {
  text = trim(text);
  interval_value out;
  if (text.empty()) return failure{"empty (expected an interval, e.g. 1 day 02:00:00 or P1DT2H)"};
  bool negate_all = false;
  std::size_t at = 0;
  if (text[0] == '-' && text.size() > 1 && text[1] == 'P') {
    negate_all = true;
    ++at;
  }
  double micros = 0;
  if (at < text.size() && (text[at] == 'P' || text[at] == 'p')) {
    ++at;
    if (auto read = read_iso_duration(text, at, out, micros); !read) return failure{read.error()};
  } else {
    if (auto read = read_interval_words(text, at, out, micros); !read) return failure{read.error()};
  }
  if (std::fabs(micros) > 9.2e18) return failure{"interval out of range"};
  out.micros = static_cast<std::int64_t>(std::llround(micros));
  if (negate_all) {
    out.micros = -out.micros;
    out.days = -out.days;
    out.months = -out.months;
  }
  return out;
}

}  // namespace sluice::loader

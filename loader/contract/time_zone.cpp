#include "loader/contract/time_zone.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "loader/contract/time_parse.h"

namespace sluice::loader {

namespace {

constexpr std::int64_t unix_days_at_2000 = 10957;
constexpr std::int64_t day_seconds = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::int64_t unix_days(int year, int month, int day) {
  return days_since_2000(year, month, day) + unix_days_at_2000;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int year_of_unix_days(std::int64_t days) {
  // Civil year from days since 1970 (Howard Hinnant's civil_from_days).
  std::int64_t z = days + 719468;
  std::int64_t era = floor_div(z, 146097);
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
}

// Big-endian reads from a TZif file.
class tzif_bytes {
 public:
  explicit tzif_bytes(std::string_view bytes) : bytes_(bytes) {}
  bool have(std::size_t n) const { return at_ + n <= bytes_.size(); }
  std::int64_t be(std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += width;
    if (width == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    return static_cast<std::int64_t>(v);
  }
  std::uint8_t byte() { return static_cast<std::uint8_t>(bytes_[at_++]); }
  void skip(std::size_t n) { at_ += n; }
  std::size_t at() const { return at_; }
  std::string_view rest() const { return bytes_.substr(at_); }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

struct tzif_counts {
  std::int64_t isut, isstd, leap, time, type, chars;
};

// POSIX TZ strings: a small recursive-descent reader.
class posix_reader {
 public:
  explicit posix_reader(std::string_view text) : text_(text) {}

  bool name() {
    if (at_ < text_.size() && text_[at_] == '<') {
      auto close = text_.find('>', at_);
      if (close == std::string_view::npos) return false;
      at_ = close + 1;
      return true;
    }
    std::size_t start = at_;
    while (at_ < text_.size() && ((text_[at_] >= 'A' && text_[at_] <= 'Z') || (text_[at_] >= 'a' && text_[at_] <= 'z'))) ++at_;
    return at_ - start >= 3;
  }
  // [+-]hh[:mm[:ss]] -> seconds (as written: POSIX offsets are west-positive)
  bool hms(std::int32_t& out, bool allow_sign = true) {
    int sign = 1;
    if (allow_sign && at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) {
      sign = text_[at_] == '-' ? -1 : 1;
      ++at_;
    }
    int parts[3] = {0, 0, 0};
    for (int part = 0; part < 3; ++part) {
      if (part > 0) {
        if (at_ >= text_.size() || text_[at_] != ':') break;
        ++at_;
      }
      if (!number(parts[part])) return false;
    }
    out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return true;
  }
  bool number(int& out) {
    std::size_t start = at_;
    out = 0;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9' && at_ - start < 6) {
      out = out * 10 + (text_[at_++] - '0');
    }
    return at_ > start;
  }
  bool date(time_zone::posix_rule::when& w) {
    if (at_ >= text_.size()) return false;
    if (text_[at_] == 'M') {
      ++at_;
      w.kind = 'M';
      if (!number(w.month) || !eat('.') || !number(w.week) || !eat('.') || !number(w.weekday)) return false;
      if (w.month < 1 || w.month > 12 || w.week < 1 || w.week > 5 || w.weekday > 6) return false;
    } else if (text_[at_] == 'J') {
      ++at_;
      w.kind = 'J';
      if (!number(w.day) || w.day < 1 || w.day > 365) return false;
    } else {
      w.kind = 'N';
      if (!number(w.day) || w.day > 365) return false;
    }
    w.time = 7200;
    if (eat('/')) return hms(w.time);
    return true;
  }
  bool eat(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool done() const { return at_ == text_.size(); }
  bool more() const { return at_ < text_.size(); }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

bool parse_posix(std::string_view text, time_zone::posix_rule& rule) {
  posix_reader r(text);
  std::int32_t std_west = 0;
  if (!r.name() || !r.hms(std_west)) return false;
  rule.std_offset = -std_west;
  if (r.done()) return true;
  if (!r.name()) return false;
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (!r.eat(',')) {
    std::int32_t dst_west = 0;
    if (!r.hms(dst_west)) return false;
    rule.dst_offset = -dst_west;
    // A DST name without rules: no way to know when it applies.
    if (!r.eat(',')) return false;
  }
  return r.date(rule.start) && r.eat(',') && r.date(rule.end) && r.done();
}

// Unix time at which a rule's date happens in `year`, on a clock `offset` east of UTC.
std::int64_t rule_instant(const time_zone::posix_rule::when& w, int year, std::int32_t offset) {
  std::int64_t day = 0;
  if (w.kind == 'M') {
    std::int64_t first = unix_days(year, w.month, 1);
    int first_weekday = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
    int delta = (w.weekday - first_weekday + 7) % 7;
    std::int64_t candidate = first + delta + 7 * (w.week - 1);
    static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int days_in_month = month_days[w.month - 1] + (w.month == 2 && is_leap(year) ? 1 : 0);
    while (candidate >= first + days_in_month) candidate -= 7;  // week 5: the last such day
    day = candidate;
  } else if (w.kind == 'J') {
    day = unix_days(year, 1, 1) + w.day - 1 + (is_leap(year) && w.day >= 60 ? 1 : 0);
  } else {
    day = unix_days(year, 1, 1) + w.day;
  }
  return day * day_seconds + w.time - offset;
}

}  // namespace

result<std::shared_ptr<const time_zone>, std::string> time_zone::locate(std::string_view name) {
  bool safe = !name.empty() && name.front() != '/' && name.find("..") == std::string_view::npos;
  for (char c : name) {
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
                   c == '_' || c == '-' || c == '+';
    safe = safe && allowed;
  }
  if (!safe) {
    // (Appended, not "'" + std::string(name): GCC 12 at -O3 warns a false
    // -Wrestrict on that concatenation, which broke Release builds.)
    std::string message(1, '\'');
    message.append(name).append("' is not a time zone name (an IANA name such as UTC or Europe/Oslo)");
    return failure{std::move(message)};
  }
  const char* dir = std::getenv("TZDIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return failure{"time zone '" + std::string(name) + "' is not in the tz database (no file " + path +
                   "; names are IANA names such as Europe/Oslo, and the tzdata package must be installed)"};
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return from_tzif(name, bytes.str());
}

result<std::shared_ptr<const time_zone>, std::string> time_zone::from_tzif(std::string_view name,
                                                                          std::string_view bytes) {
  auto bad = [&](const char* what) {
    return failure{"time zone '" + std::string(name) + "': the tz database file is not valid TZif (" + what + ")"};
  };
  tzif_bytes in(bytes);
  auto header = [&](tzif_counts& c, int& version) {
    if (!in.have(44) || in.rest().substr(0, 4) != "TZif") return false;
    in.skip(4);
    std::uint8_t v = in.byte();
    version = v == 0 ? 1 : v - '0';
    in.skip(15);
    c.isut = in.be(4);
    c.isstd = in.be(4);
    c.leap = in.be(4);
    c.time = in.be(4);
    c.type = in.be(4);
    c.chars = in.be(4);
    return c.isut >= 0 && c.isstd >= 0 && c.leap >= 0 && c.time >= 0 && c.type > 0 && c.chars >= 0;
  };
  tzif_counts counts{};
  int version = 1;
  if (!header(counts, version)) return bad("header");
  std::size_t time_width = 4;
  if (version >= 2) {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    std::size_t v1 = static_cast<std::size_t>(counts.time * 5 + counts.type * 6 + counts.chars + counts.leap * 8 +
                                              counts.isstd + counts.isut);
    if (!in.have(v1)) return bad("truncated");
    in.skip(v1);
    int again = 0;
    if (!header(counts, again)) return bad("second header");
    time_width = 8;
  }
  std::size_t block = static_cast<std::size_t>(counts.time) * (time_width + 1) +
                      static_cast<std::size_t>(counts.type) * 6 + static_cast<std::size_t>(counts.chars) +
                      static_cast<std::size_t>(counts.leap) * (time_width + 4) +
                      static_cast<std::size_t>(counts.isstd + counts.isut);
  if (!in.have(block)) return bad("truncated");

  auto zone = std::make_shared<time_zone>();
  zone->name_ = std::string(name);
  std::vector<std::int64_t> times(static_cast<std::size_t>(counts.time));
  for (auto& t : times) t = in.be(time_width);
  std::vector<std::uint8_t> indexes(static_cast<std::size_t>(counts.time));
  for (auto& i : indexes) i = in.byte();
  std::vector<std::int32_t> type_offsets(static_cast<std::size_t>(counts.type));
  std::vector<bool> type_dst(static_cast<std::size_t>(counts.type));
  for (std::size_t type_idx = 0; type_idx < type_offsets.size(); ++type_idx) {
    type_offsets[type_idx] = static_cast<std::int32_t>(in.be(4));
    type_dst[type_idx] = in.byte() != 0;
    in.skip(1);
  }
  in.skip(static_cast<std::size_t>(counts.chars) + static_cast<std::size_t>(counts.leap) * (time_width + 4) +
          static_cast<std::size_t>(counts.isstd + counts.isut));
  for (std::size_t t = 0; t < times.size(); ++t) {
    if (indexes[t] >= type_offsets.size()) return bad("transition type out of range");
    if (t > 0 && times[t] <= times[t - 1]) return bad("transitions out of order");
    zone->transitions_.push_back(times[t]);
    zone->offsets_after_.push_back(type_offsets[indexes[t]]);
  }
  // Before the first transition: type 0 (RFC 8536 3.2).
  zone->initial_offset_ = type_offsets[0];
  if (version >= 2) {
    auto footer = in.rest();
    if (footer.size() >= 2 && footer.front() == '\n') {
      auto end = footer.find('\n', 1);
      auto tz = footer.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
      if (!tz.empty()) {
        if (!parse_posix(tz, zone->rule_)) return bad("footer TZ rule");
        zone->has_rule_ = true;
      }
    }
  }
  if (zone->transitions_.empty() && zone->has_rule_ && !zone->rule_.has_dst) {
    zone->initial_offset_ = zone->rule_.std_offset;
  }
  return std::shared_ptr<const time_zone>(std::move(zone));
}

std::int32_t time_zone::rule_offset_at(std::int64_t utc_seconds) const noexcept {
  if (!rule_.has_dst) return rule_.std_offset;
  int year = year_of_unix_days(floor_div(utc_seconds + rule_.std_offset, day_seconds));
  // The start is written in standard time, the end in daylight time.
  std::int64_t start = rule_instant(rule_.start, year, rule_.std_offset);
  std::int64_t end = rule_instant(rule_.end, year, rule_.dst_offset);
  bool dst = start < end ? (utc_seconds >= start && utc_seconds < end)
                         : !(utc_seconds >= end && utc_seconds < start);  // southern hemisphere
  return dst ? rule_.dst_offset : rule_.std_offset;
}

std::int32_t time_zone::offset_at(std::int64_t utc_seconds) const noexcept {
  if (transitions_.empty()) return has_rule_ ? rule_offset_at(utc_seconds) : initial_offset_;
  if (utc_seconds < transitions_.front()) return initial_offset_;
  if (utc_seconds >= transitions_.back() && has_rule_) return rule_offset_at(utc_seconds);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_seconds);
  return offsets_after_[static_cast<std::size_t>(it - transitions_.begin()) - 1];
}

std::int64_t time_zone::to_utc(std::int64_t local_seconds) const noexcept {
  // Offsets a day either side: when they agree there is no change nearby.
  std::int32_t before = offset_at(local_seconds - day_seconds);
  std::int32_t after = offset_at(local_seconds + day_seconds);
  if (before == after) {
    std::int32_t here = offset_at(local_seconds - before);
    return local_seconds - here;
  }
  bool after_fits = offset_at(local_seconds - after) == after;
  bool before_fits = offset_at(local_seconds - before) == before;
  if (after_fits) return local_seconds - after;    // unique, or repeated: PostgreSQL takes the later offset
  if (before_fits) return local_seconds - before;  // unique
  return local_seconds - before;                   // skipped: the offset before the change
}

}  // namespace sluice::loader

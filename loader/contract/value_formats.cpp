#include "loader/contract/value_formats.h"

#include "loader/contract/time_parse.h"

namespace sluice::loader {

std::string_view trim_blanks(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

result<datetime_format, std::string> datetime_format::compile(std::string_view pattern, bool with_time) {
  datetime_format out;
  out.pattern_ = std::string(pattern);
  struct name {
    std::string_view text;
    token kind;
  };
  static constexpr name names[] = {{"YYYY", token::year},   {"HH24", token::hour},   {"MM", token::month},
                                   {"DD", token::day},      {"MI", token::minute},   {"SS", token::second},
                                   {"FF", token::fraction}, {"TZ", token::offset}};
  unsigned seen = 0;
  for (std::size_t at = 0; at < pattern.size();) {
    bool matched = false;
    for (const auto& n : names) {
      if (pattern.substr(at, n.text.size()) == n.text) {
        out.steps_.push_back({n.kind, 0, false});
        auto bit = 1u << static_cast<unsigned>(n.kind);
        if (seen & bit) {
          return failure{"format '" + out.pattern_ + "' has " + std::string(n.text) + " twice"};
        }
        seen |= bit;
        at += n.text.size();
        matched = true;
        break;
      }
    }
    if (!matched) out.steps_.push_back({token::literal, pattern[at++], false});
  }
  auto has = [&](token t) { return (seen & (1u << static_cast<unsigned>(t))) != 0; };
  if (!has(token::year) || !has(token::month) || !has(token::day)) {
    return failure{"format '" + out.pattern_ + "' lacks YYYY, MM or DD"};
  }
  bool time_tokens = has(token::hour) || has(token::minute) || has(token::second) || has(token::fraction) ||
                     has(token::offset);
  if (!with_time && time_tokens) {
    return failure{"date format '" + out.pattern_ + "' has time fields (HH24, MI, SS, FF, TZ); use YYYY, MM, DD"};
  }
  if (with_time && (!has(token::hour) || !has(token::minute))) {
    return failure{"timestamp format '" + out.pattern_ + "' lacks HH24 or MI"};
  }
  for (std::size_t i = 0; i + 1 < out.steps_.size(); ++i) {
    auto next = out.steps_[i + 1].kind;
    out.steps_[i].fixed_width = next != token::literal && next != token::offset;
  }
  return out;
}

result<datetime_fields> datetime_format::parse(std::string_view text) const noexcept {
  datetime_fields f;
  std::size_t at = 0;
  auto number = [&](std::size_t min, std::size_t max, int& out) {
    std::size_t start = at;
    int value = 0;
    while (at < text.size() && at - start < max && text[at] >= '0' && text[at] <= '9') {
      value = value * 10 + (text[at++] - '0');
    }
    out = value;
    return at - start >= min;
  };
  for (const auto& s : steps_) {
    switch (s.kind) {
      case token::literal:
        if (at >= text.size() || text[at] != s.literal) return failure{"does not match the format"};
        ++at;
        break;
      case token::year:
        if (!number(4, 4, f.year)) return failure{"does not match the format (YYYY: four digits)"};
        break;
      case token::month:
      case token::day:
      case token::hour:
      case token::minute:
      case token::second: {
        int value = 0;
        if (!number(s.fixed_width ? 2 : 1, 2, value)) return failure{"does not match the format"};
        (s.kind == token::month    ? f.month
         : s.kind == token::day    ? f.day
         : s.kind == token::hour   ? f.hour
         : s.kind == token::minute ? f.minute
                                   : f.second) = value;
        break;
      }
      case token::fraction: {
        std::size_t start = at;
        std::int32_t scale = 100'000;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9' && at - start < 9) {
          f.micros += (text[at++] - '0') * scale;
          scale /= 10;
        }
        if (at == start) return failure{"does not match the format (FF: digits of a fraction)"};
        break;
      }
      case token::offset: {
        if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
          ++at;
          f.has_offset = true;
          break;
        }
        if (at >= text.size() || (text[at] != '+' && text[at] != '-')) {
          return failure{"no UTC offset where the format has TZ"};
        }
        int sign = text[at++] == '-' ? -1 : 1;
        int hours = 0, minutes = 0;
        if (!number(2, 2, hours)) return failure{"UTC offset is not +HH:MM"};
        if (at < text.size() && text[at] == ':') ++at;
        if (at < text.size() && text[at] >= '0' && text[at] <= '9' && !number(2, 2, minutes)) {
          return failure{"UTC offset is not +HH:MM"};
        }
        if (hours > 15 || minutes > 59) return failure{"UTC offset is out of range"};
        f.has_offset = true;
        f.offset_seconds = sign * (hours * 3600 + minutes * 60);
        break;
      }
    }
  }
  if (at != text.size()) return failure{"unexpected text after what the format describes"};
  if (auto* why = check_date(f.year, f.month, f.day)) return failure{why};
  if (f.hour > 23) return failure{"hour is not between 00 and 23"};
  if (f.minute > 59) return failure{"minute is not between 00 and 59"};
  if (f.second > 59) return failure{"second is not between 00 and 59"};
  return f;
}

bool value_formats::is_null(std::string_view text) const noexcept {
  if (null_strings.empty()) return false;
  auto trimmed = trim_blanks(text);
  for (const auto& n : null_strings) {
    if (n == trimmed) return true;
  }
  return false;
}

namespace {
std::string list_of(const std::vector<datetime_format>& formats) {
  std::string out;
  for (const auto& f : formats) out += (out.empty() ? "" : ", ") + f.pattern();
  return out;
}
}  // namespace

const value_formats& default_value_formats() {
  static const value_formats defaults = [] {
    value_formats f;
    f.date_formats.push_back(datetime_format::compile("YYYY-MM-DD", false).value());
    f.true_strings = {"true", "t", "1", "yes", "y"};
    f.false_strings = {"false", "f", "0", "no", "n"};
    return f;
  }();
  return defaults;
}

std::string value_formats::date_format_list() const { return list_of(date_formats); }
std::string value_formats::timestamp_format_list() const {
  auto listed = list_of(timestamp_formats);
  return listed.empty() ? "ISO 8601" : "ISO 8601, " + listed;
}

}  // namespace sluice::loader

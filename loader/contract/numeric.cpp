#include "loader/contract/numeric.h"

#include <string>

#include "loader/contract/ascii.h"

namespace sluice::loader {

namespace {

constexpr int max_digits_before_point = 131072;  // PostgreSQL's numeric limits
constexpr int max_display_scale = 16383;
constexpr int max_exponent = 1000;

int floor_div4(int e) { return e >= 0 ? e / 4 : -((-e + 3) / 4); }

// What scan_digits() read besides the digits themselves.
struct decimal_digits {
  std::size_t integer_digits = 0;
  std::size_t fraction_digits = 0;
  long exponent = 0;
};

// The number's text after its sign: digits, a point and more digits, an
// exponent; the digits go into `decimal`.
result<decimal_digits> scan_digits(std::string_view body, std::vector<std::uint8_t>& decimal) {
  decimal.clear();
  std::size_t at = 0;
  std::size_t integer_digits = 0;
  std::size_t fraction_digits = 0;
  while (at < body.size() && body[at] >= '0' && body[at] <= '9') {
    decimal.push_back(static_cast<std::uint8_t>(body[at++] - '0'));
    ++integer_digits;
  }
  if (at < body.size() && body[at] == '.') {
    ++at;
    while (at < body.size() && body[at] >= '0' && body[at] <= '9') {
      decimal.push_back(static_cast<std::uint8_t>(body[at++] - '0'));
      ++fraction_digits;
    }
  }
  if (decimal.empty()) return failure{"not a number (expected digits, e.g. 12 or -3.75)"};
  long exponent = 0;
  if (at < body.size() && (body[at] == 'e' || body[at] == 'E')) {
    ++at;
    bool exponent_negative = false;
    if (at < body.size() && (body[at] == '+' || body[at] == '-')) exponent_negative = body[at++] == '-';
    std::size_t first = at;
    while (at < body.size() && body[at] >= '0' && body[at] <= '9') {
      exponent = exponent * 10 + (body[at++] - '0');
      if (exponent > max_exponent) return failure{"exponent out of range (at most 1000)"};
    }
    if (at == first) return failure{"not a number (an exponent without digits)"};
    if (exponent_negative) exponent = -exponent;
  }
  if (at != body.size()) return failure{"not a number (expected digits, e.g. 12 or -3.75, without units or separators)"};
  return decimal_digits{integer_digits, fraction_digits, exponent};
}

// Rounds `decimal` half away from zero at `scale` places; `point` (how many
// digits are before the decimal point) grows when 9.99 becomes 10.00.
void round_at_scale(std::vector<std::uint8_t>& decimal, long& point, int scale) {
  long cut = point + scale;
  if (cut < static_cast<long>(decimal.size())) {
    bool up = cut >= 0 && decimal[static_cast<std::size_t>(cut)] >= 5;
    decimal.resize(static_cast<std::size_t>(std::max(0L, cut)));
    if (up) {
      std::size_t i = decimal.size();
      while (i > 0 && decimal[i - 1] == 9) decimal[--i] = 0;
      if (i > 0) {
        ++decimal[i - 1];
      } else {
        // 9.99 -> 10.00: one more digit in front. With cut < 0 nothing was
        // kept, and the rounding digit (an implicit zero) never rounds up.
        decimal.insert(decimal.begin(), 1);
        ++point;
      }
    }
  }
}

// Decimal digits [lead, end) of `decimal`, the first `point` of them before the
// decimal point, as `out`'s base-10000 digits and weight.
void pack_base_10000(const std::vector<std::uint8_t>& decimal, std::size_t lead, std::size_t end, long point,
                     numeric_value& out) {
  // Decimal digit i (from `lead`) has power of ten point - 1 - i.
  int first_power = static_cast<int>(point - 1);
  int weight = floor_div4(first_power);
  int last_power = first_power - static_cast<int>(end - lead - 1);
  int groups = weight - floor_div4(last_power) + 1;
  out.digits.assign(static_cast<std::size_t>(groups), 0);
  static constexpr std::int16_t multiplier[] = {1, 10, 100, 1000};
  for (std::size_t i = lead; i < end; ++i) {
    int power = first_power - static_cast<int>(i - lead);
    int group = floor_div4(power);
    out.digits[static_cast<std::size_t>(weight - group)] =
        static_cast<std::int16_t>(out.digits[static_cast<std::size_t>(weight - group)] +
                                  decimal[i] * multiplier[power - group * 4]);
  }
  out.weight = static_cast<std::int16_t>(weight);
}

}  // namespace

result<ok_t> parse_numeric(std::string_view text, int precision, int scale, numeric_value& out) {
  while (!text.empty() && is_pg_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_pg_space(text.back())) text.remove_suffix(1);
  out.digits.clear();
  out.weight = 0;
  out.dscale = 0;
  out.sign = numeric_value::positive;
  bool constrained = precision != numeric_unconstrained;
  if (ascii_iequals(text, "nan")) {
    out.sign = numeric_value::nan;
    return ok_value;
  }
  bool negative = false;
  std::string_view body = text;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (ascii_iequals(body, "infinity") || ascii_iequals(body, "inf")) {
    if (constrained) return failure{"infinity does not fit a numeric with a precision"};
    out.sign = negative ? numeric_value::minus_infinity : numeric_value::plus_infinity;
    return ok_value;
  }

  // Digits before and after the point, and the exponent.
  auto& decimal = out.decimal;
  auto scanned = scan_digits(body, decimal);
  if (!scanned) return failure{scanned.error()};
  auto [integer_digits, fraction_digits, exponent] = scanned.value();

  // `point`: how many of `decimal` are before the decimal point (may be < 0 or > size).
  long point = static_cast<long>(integer_digits) + exponent;
  long display_scale = std::max(0L, static_cast<long>(fraction_digits) - exponent);
  if (constrained) {
    round_at_scale(decimal, point, scale);
    display_scale = scale;
  } else if (display_scale > max_display_scale) {
    return failure{"too many digits after the decimal point for numeric (at most 16383)"};
  }
  out.dscale = static_cast<std::uint16_t>(std::max(0L, display_scale));

  // Significant digits only.
  std::size_t lead = 0;
  while (lead < decimal.size() && decimal[lead] == 0) ++lead;
  std::size_t end = decimal.size();
  while (end > lead && decimal[end - 1] == 0) --end;
  if (lead == end) return ok_value;  // zero (never negative zero)
  point -= static_cast<long>(lead);
  if (constrained && point > precision - scale) {
    return failure{"too many digits before the decimal point for the column's precision and scale"};
  }
  if (point > max_digits_before_point) return failure{"too many digits before the decimal point for numeric"};

  pack_base_10000(decimal, lead, end, point, out);
  out.sign = negative ? numeric_value::negative : numeric_value::positive;
  return ok_value;
}

std::string numeric_text(const numeric_value& value) {
  if (value.sign == numeric_value::nan) return "NaN";
  if (value.sign == numeric_value::plus_infinity) return "Infinity";
  if (value.sign == numeric_value::minus_infinity) return "-Infinity";
  std::string out = value.sign == numeric_value::negative ? "-" : "";
  // Integer part: groups with weight >= 0.
  if (value.weight < 0 || value.digits.empty()) {
    out += "0";
  } else {
    for (int w = value.weight; w >= 0; --w) {
      auto index = static_cast<std::size_t>(value.weight - w);
      int group = index < value.digits.size() ? value.digits[index] : 0;
      std::string text = std::to_string(group);
      if (w != value.weight) text.insert(0, 4 - text.size(), '0');
      out += text;
    }
  }
  if (value.dscale > 0) {
    out += '.';
    std::string fraction;
    for (int w = -1; static_cast<int>(fraction.size()) < value.dscale; --w) {
      long index = static_cast<long>(value.weight) - w;
      int group = index >= 0 && index < static_cast<long>(value.digits.size()) ? value.digits[static_cast<std::size_t>(index)] : 0;
      std::string text = std::to_string(group);
      text.insert(0, 4 - text.size(), '0');
      fraction += text;
    }
    out += fraction.substr(0, value.dscale);
  }
  return out;
}

}  // namespace sluice::loader

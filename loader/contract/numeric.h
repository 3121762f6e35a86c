// Decimal text to PostgreSQL's binary numeric, exactly: never through a double.
//
// The binary form (PostgreSQL's numeric_send/numeric_recv): base-10000 digits,
// most significant first; `weight` is the power of 10000 of the first digit;
// `dscale` the number of decimal digits after the point that the value shows.
//
// A column numeric(p,s) follows PostgreSQL: the value is rounded to s decimal
// places (half away from zero), then it must have at most p - s digits before
// the point, else it does not fit ("numeric field overflow" in PostgreSQL).
// Accepted text: optional sign, digits with an optional point ("12", "-0.5",
// ".5", "5."), an optional exponent ("1.2e3"), surrounding spaces; "NaN";
// "Infinity"/"inf" with optional sign (unconstrained columns only, as in
// PostgreSQL).
//
// Threading: a numeric_value is one caller's scratch; parse_numeric reuses its
// digit buffer, so steady use does not allocate.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "loader/contract/result.h"

namespace sluice::loader {

struct numeric_value {
  static constexpr std::uint16_t positive = 0x0000;
  static constexpr std::uint16_t negative = 0x4000;
  static constexpr std::uint16_t nan = 0xC000;
  static constexpr std::uint16_t plus_infinity = 0xD000;
  static constexpr std::uint16_t minus_infinity = 0xF000;

  std::int16_t weight = 0;
  std::uint16_t sign = positive;
  std::uint16_t dscale = 0;
  std::vector<std::int16_t> digits;  // base 10000

  std::vector<std::uint8_t> decimal;  // scratch: decimal digits while parsing
};

// No precision: an unconstrained numeric.
inline constexpr int numeric_unconstrained = -1;

// Parses `text` into `out` for a column numeric(precision, scale) (precision
// numeric_unconstrained: plain numeric); on failure `out` is unspecified and
// the reason is static text.
[[nodiscard]] result<ok_t> parse_numeric(std::string_view text, int precision, int scale, numeric_value& out);

// The decimal text of a value (for tests and messages): "-12.50", "NaN".
[[nodiscard]] std::string numeric_text(const numeric_value& value);

}  // namespace sluice::loader

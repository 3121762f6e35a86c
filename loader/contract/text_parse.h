// Scalar values written as text, read as PostgreSQL reads them (spaces around
// them ignored). Each returns the value or a static reason that says what was
// expected; nothing allocates.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "loader/contract/result.h"

namespace sluice::loader {

// "-42", "+7": within [low, high] (the column type's range), else out of range.
[[nodiscard]] result<std::int64_t> parse_integer(std::string_view text, std::int64_t low,
                                                 std::int64_t high) noexcept;

// "3.25", "-1e-3", "NaN", "Infinity": a double; `single` checks the range of real.
[[nodiscard]] result<double> parse_float(std::string_view text, bool single) noexcept;

// Case-insensitive membership in the feed's true and false words (lower case).
[[nodiscard]] result<bool> parse_boolean(std::string_view text, const std::vector<std::string>& true_words,
                                         const std::vector<std::string>& false_words) noexcept;

// "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", upper case, without hyphens, or in
// braces: the 16 bytes.
[[nodiscard]] result<std::array<unsigned char, 16>> parse_uuid(std::string_view text) noexcept;

// "HH:MM[:SS[.ffffff]]" (24:00:00 allowed, as in PostgreSQL): microseconds since midnight.
[[nodiscard]] result<std::int64_t> parse_time_of_day(std::string_view text) noexcept;

// PostgreSQL's binary interval: months, days and microseconds, kept apart.
struct interval_value {
  std::int64_t micros = 0;
  std::int32_t days = 0;
  std::int32_t months = 0;
};
// ISO 8601 durations ("P1Y2M3DT4H5M6.5S", "PT90M", "P2W"), or PostgreSQL's
// words ("1 year 2 mons 3 days 04:05:06", "3 hours", "-2 days", "90 min").
[[nodiscard]] result<interval_value> parse_interval(std::string_view text) noexcept;

}  // namespace sluice::loader

// Character classes as PostgreSQL's input functions see them, without the C
// locale's say: the contract's parsers (numbers, booleans, times) share them.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::loader {

// The white space PostgreSQL's input functions skip around a value.
[[nodiscard]] constexpr bool is_pg_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Equal but for the case of ASCII letters.
[[nodiscard]] constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline constexpr std::int64_t micros_per_second = 1'000'000;

}  // namespace sluice::loader

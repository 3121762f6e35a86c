// result<T>: a value, or why there is none. The one shape for expected
// failures on the record path (a value that does not parse, a field that does
// not fit its column): returned, never thrown, like simdjson's
// simdjson_result<T>.
//
// The error is a `const char*` pointing to a static string by default, so that
// failing costs no allocation on hot paths; callers that know more (the column,
// the value) compose the reject reason from it.
#pragma once

#include <utility>
#include <variant>

namespace sluice::loader {

template <typename E>
struct failure {
  E error;
};

// failure{"no such day in that month"} converts to any result<T>.
template <typename E>
failure(E) -> failure<E>;

template <typename T, typename E = const char*>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <typename F>
  result(failure<F> why) : state_(std::in_place_index<1>, E(std::move(why.error))) {}  // NOLINT

  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Only when ok().
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  // Only when !ok().
  [[nodiscard]] const E& error() const& { return std::get<1>(state_); }
  [[nodiscard]] E&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, E> state_;
};

// Success without a value.
struct ok_t {};
inline constexpr ok_t ok_value{};

}  // namespace sluice::loader

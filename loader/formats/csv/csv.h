// CSV (RFC 4180) as sluice reads it: where a row ends, and its fields.
//
// - Fields are separated by the delimiter; a field that starts with the quote
//   character is quoted: it may hold delimiters, line breaks and the quote
//   written twice ("" for "); with an escape character (e.g. \), that character
//   inside quotes takes the next one literally.
// - A quote anywhere else is an ordinary character (5" screen); text after a
//   closing quote other than a delimiter or the end of the row is a flaw.
// - Rows end at LF outside quotes; a CR before it is dropped (CRLF and LF both
//   work). A bare CR is data.
//
// Threading: one scanner or splitter per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/contract/result.h"

namespace sluice::loader {

struct csv_dialect {
  char delimiter = ',';
  char quote = '"';
  int escape = -1;     // escape character inside quotes; -1: none (quotes are doubled)
  bool header = true;  // the first row names the columns
};

// Finds the LF that ends a row, chunk by chunk, keeping the quote state between
// chunks. A row without quote characters costs two memchr calls.
class csv_row_scanner {
 public:
  explicit csv_row_scanner(const csv_dialect& dialect) noexcept : dialect_(dialect) {}
  // The index in [0, size) of the LF that ends the row, or `size` when the row
  // goes on past these bytes (call again with the next ones). The state is
  // reset after a row ends.
  [[nodiscard]] std::size_t scan(const char* data, std::size_t size) noexcept;
  // Inside a quoted field (the row cannot end here).
  [[nodiscard]] bool in_quotes() const noexcept { return state_ == state::quoted || state_ == state::escaped; }
  void reset() noexcept { state_ = state::field_start; }

 private:
  enum class state : std::uint8_t { field_start, unquoted, quoted, escaped, after_quote };
  csv_dialect dialect_;
  state state_ = state::field_start;
};

struct csv_field {
  std::string_view text;  // unquoted value
  bool quoted = false;
};

// Why a row could not be split.
struct csv_split_error {
  std::size_t field = 0;  // 0-based index of the field at fault
  const char* what = "";
};

// Splits rows into fields. The views returned point into the row or into the
// splitter's buffer and stay valid until the next split().
class csv_splitter {
 public:
  explicit csv_splitter(const csv_dialect& dialect) : dialect_(dialect) {}
  [[nodiscard]] result<std::span<const csv_field>, csv_split_error> split(std::string_view row);

 private:
  csv_dialect dialect_;
  std::vector<csv_field> fields_;
  std::string unquoted_;
};

}  // namespace sluice::loader

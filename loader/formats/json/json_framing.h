// JSON framing (record_reader.h): one or more JSON documents, pretty-printed
// and concatenated, or one top-level array whose elements are the records,
// split structurally without being validated (json_decoder.h validates).
#pragma once

#include <memory>
#include <string_view>

#include "loader/formats/record_reader.h"

namespace sluice::loader {

// JSON's whitespace (space, tab, CR, LF), for the JSON and NDJSON framers.
namespace json_whitespace {
inline bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}
}  // namespace json_whitespace

// Finds where one JSON value ends, a byte at a time, without validating it:
// strings and escapes are respected, so brackets inside strings do not count.
class json_value_scanner {
 public:
  // Feeds the next byte of the value; true once the value is complete (for a
  // container or string: this byte closed it; for a bare scalar: this byte is
  // the first one after it, and is not part of the value).
  bool feed(char byte) noexcept;
  // Inside a string or container that has not been closed.
  [[nodiscard]] bool open() const noexcept { return depth_ > 0 || in_string_; }
  // The value is a number or literal, whose end is seen one byte late.
  [[nodiscard]] bool bare_scalar() const noexcept { return kind_ == kind::scalar; }

 private:
  enum class kind { unknown, container, string, scalar };
  kind kind_ = kind::unknown;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
};

// Whether a file's first line says it holds JSON documents rather than NDJSON:
// a first line that is a lone "{" or starts with "[" (a pretty-printed
// document or an array). Blank lines before it are passed over.
[[nodiscard]] bool looks_like_json_document(std::string_view first_bytes);

[[nodiscard]] std::unique_ptr<record_framer> make_json_framer(const framer_setup& setup);

}  // namespace sluice::loader

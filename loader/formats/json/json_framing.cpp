#include "loader/formats/json/json_framing.h"

namespace sluice::loader {

using json_whitespace::is_space;
using json_whitespace::trim;

namespace {

// A value too long to keep ends where `scanner` (fed its first bytes) says.
record_framer::end_scan value_end(json_value_scanner& scanner) {
  return [&scanner](const char* data, std::size_t size, bool& found) {
    for (std::size_t i = 0; i < size; ++i) {
      if (scanner.feed(data[i])) {
        found = true;
        return i + (scanner.bare_scalar() ? 0 : 1);
      }
    }
    return size;
  };
}

class json_framer final : public record_framer {
 public:
  explicit json_framer(const framer_setup& setup);
  [[nodiscard]] std::optional<record> next() override;

 private:
  // Position in the top-level structure.
  enum class array_state { unknown, none, before_open, expect_value, after_value, closed };
  array_state array_ = array_state::unknown;
};

json_framer::json_framer(const framer_setup& setup) : record_framer(setup) {
  // Whether the records are elements of one top-level array is decided by the
  // file's first significant byte, wherever we resume.
  char head[4096];
  auto n = source_->read(head, sizeof head, 0);
  std::size_t first = 0;
  while (first < n && is_space(head[first])) ++first;
  bool array = first < n && head[first] == '[';
  array_ = !array ? array_state::none
                  : (consumed_.bytes <= first ? array_state::before_open : array_state::after_value);
}

std::optional<record> json_framer::next() {
  while (true) {
    if (begin_ == end_ && !fill()) return source_failed() ? unreadable_rest() : std::nullopt;
    char c = buffer_[begin_];
    if (is_space(c)) {
      consume_to(file_offset_of(begin_) + 1);
      consumed_.lines += c == '\n' ? 1 : 0;
      continue;
    }
    if (array_ == array_state::before_open && c == '[') {
      consume_to(file_offset_of(begin_) + 1);
      array_ = array_state::expect_value;
      continue;
    }
    if (array_ == array_state::after_value && (c == ',' || c == ']')) {
      consume_to(file_offset_of(begin_) + 1);
      array_ = c == ',' ? array_state::expect_value : array_state::closed;
      continue;
    }
    if (array_ == array_state::expect_value && c == ']') {  // empty array or trailing comma
      consume_to(file_offset_of(begin_) + 1);
      array_ = array_state::closed;
      continue;
    }
    if (array_ == array_state::closed) array_ = array_state::none;  // another document follows
    bool in_array = array_ == array_state::expect_value || array_ == array_state::after_value;

    // Scan one value structurally from begin_.
    json_value_scanner scanner;
    std::size_t scanned = 0;
    bool complete = false;
    std::uint64_t newlines = 0;
    while (!complete) {
      while (begin_ + scanned < end_) {
        char b = buffer_[begin_ + scanned];
        if (scanner.feed(b)) {
          complete = true;
          if (scanner.bare_scalar()) break;  // it ended before this byte
        }
        newlines += b == '\n' ? 1 : 0;
        ++scanned;
        if (complete) break;
      }
      if (scanned > options_.max_record_bytes) {
        if (complete) break;
        auto skipped = skip_too_long(file_offset_of(begin_), consumed_.lines + 1, scanned,
                                     value_end(scanner), false);
        if (skipped && in_array) array_ = array_state::after_value;
        return skipped;
      }
      if (complete) break;
      if (!fill()) {
        if (source_failed()) return unreadable_rest();
        if (!content_final()) return std::nullopt;
        break;  // the file ends inside the value (or a scalar ends at the end of file)
      }
    }
    bool container = c == '{' || c == '[' || c == '"';
    if (scanned > options_.max_record_bytes) {
      // Complete, but over the limit: report it like any too-long record.
      kept_.assign(buffer_.data() + begin_, std::min(options_.raw_keep_bytes, scanned));
      record out{kept_, file_offset_of(begin_), consumed_.lines + 1, consumed_.records + 1,
                 scanned, flaw::too_long};
      consume_to(file_offset_of(begin_) + scanned);
      consumed_.lines += newlines;
      consumed_.records += 1;
      if (in_array) array_ = array_state::after_value;
      return out;
    }
    if (!container && !complete) complete = true;
    std::string_view text(buffer_.data() + begin_, scanned);
    record out{text, file_offset_of(begin_), consumed_.lines + 1, consumed_.records + 1,
               text.size(), complete ? flaw::none : flaw::truncated};
    consume_to(file_offset_of(begin_) + scanned);
    consumed_.lines += newlines;
    consumed_.records += 1;
    if (in_array) array_ = array_state::after_value;
    return out;
  }
}

}  // namespace

bool json_value_scanner::feed(char byte) noexcept {
  if (kind_ == kind::unknown) {
    if (byte == '{' || byte == '[') {
      kind_ = kind::container;
      depth_ = 1;
    } else if (byte == '"') {
      kind_ = kind::string;
      in_string_ = true;
    } else {
      kind_ = kind::scalar;
    }
    return false;
  }
  if (in_string_) {
    if (escaped_) escaped_ = false;
    else if (byte == '\\') escaped_ = true;
    else if (byte == '"') in_string_ = false;
    return kind_ == kind::string && !in_string_;
  }
  switch (kind_) {
    case kind::container:
      if (byte == '"') in_string_ = true;
      else if (byte == '{' || byte == '[') ++depth_;
      else if (byte == '}' || byte == ']') return --depth_ == 0;
      return false;
    case kind::scalar:
      return is_space(byte) || byte == ',' || byte == ']' || byte == '}';
    default:
      return false;
  }
}

bool looks_like_json_document(std::string_view first_bytes) {
  // Blank lines before the first one with content do not count (a document
  // written after an empty line, or after a BOM on its own line).
  while (true) {
    auto newline = first_bytes.find('\n');
    if (newline == std::string_view::npos || !trim(first_bytes.substr(0, newline)).empty()) break;
    first_bytes.remove_prefix(newline + 1);
  }
  auto newline = first_bytes.find('\n');
  auto first_line = trim(first_bytes.substr(0, newline));
  return first_line == "{" || (!first_line.empty() && first_line.front() == '[');
}

std::unique_ptr<record_framer> make_json_framer(const framer_setup& setup) {
  return std::make_unique<json_framer>(setup);
}

}  // namespace sluice::loader

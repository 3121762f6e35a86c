// Splits a file into records without knowing what they mean.
//
// framing::ndjson   one record per line; blank lines are skipped (not records);
//                   a trailing "\r" is dropped.
// framing::json     one or more JSON documents (pretty-printed, concatenated),
//                   or one top-level array whose elements are the records. Split
//                   structurally (strings and escapes respected), so a record may
//                   span lines.
//
// Memory: one buffer, grown only while a single record does not fit, never past
// max_record_bytes (+ padding). A longer record is returned with
// flaw::too_long and only its first raw_keep_bytes, and the rest is skipped.
//
// Growing files: the reader reads up to `limit` bytes of the file. When `final`
// is false it never returns a record it cannot prove complete (an ndjson line
// without its newline; a JSON value whose end is not in sight): the reader stops
// before it and consumed() stays at the end of the last record returned.
//
// Record views point into the reader's buffer, stay valid until the next call to
// next(), and are followed by at least `padding` readable bytes (what simdjson
// needs to parse in place).
//
// Errors: next() throws std::system_error when the file cannot be read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/loader/content_hash.h"

namespace sluice::loader {

enum class framing { ndjson, json };

// Where the reader stands: bytes consumed, newlines among them, records among them.
struct position {
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
  std::uint64_t records = 0;
};

enum class flaw {
  none,
  too_long,   // longer than max_record_bytes: text holds its first raw_keep_bytes
  truncated,  // the file ends inside the value (json framing, final only)
};

struct record {
  std::string_view text;
  std::uint64_t offset = 0;   // byte offset of its first byte in the file
  std::uint64_t line = 0;     // 1-based line of its first byte
  std::uint64_t ordinal = 0;  // 1-based record number in the file
  std::uint64_t size = 0;     // real length (differs from text.size() for too_long)
  flaw defect = flaw::none;
};

struct reader_options {
  std::size_t initial_buffer_bytes = 1 << 20;
  std::size_t max_record_bytes = 64 << 20;
  std::size_t raw_keep_bytes = 1 << 20;
  std::size_t padding = 64;
};

// How a file's first line tells its framing when a feed says "auto": a first line
// that is a lone "{" or starts with "[" is JSON (a pretty-printed document or an
// array); anything else is NDJSON. Blank lines before it are passed over.
[[nodiscard]] framing detect_framing(std::string_view first_bytes);

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

class record_reader {
 public:
  // fd is borrowed and read with pread. `start` must be a record boundary
  // previously reported by consumed(); `hash` covers bytes [0, start.bytes).
  // Throws std::system_error when the file cannot be read.
  record_reader(int fd, framing kind, position start, content_hash hash, std::uint64_t limit,
                bool final, reader_options options = {});

  [[nodiscard]] std::optional<record> next();

  // After the last record returned, with the whitespace and separators after it.
  [[nodiscard]] const position& consumed() const noexcept { return consumed_; }
  // Hash of bytes [0, consumed().bytes).
  [[nodiscard]] const content_hash& hash() const noexcept { return hash_; }

 private:
  bool fill();  // reads more; false at limit
  void consume_to(std::uint64_t file_offset);
  std::optional<record> next_line();
  std::optional<record> next_json();
  // The current record is longer than max_record_bytes: keep its head, stream
  // past the rest (to the newline, or with `scanner` to the value's end).
  std::optional<record> skip_too_long(std::uint64_t start, std::uint64_t line, std::size_t seen,
                                      json_value_scanner* scanner);
  [[nodiscard]] std::uint64_t file_offset_of(std::size_t buffer_index) const noexcept {
    return base_offset_ + buffer_index;
  }

  int fd_;
  framing kind_;
  position consumed_;
  content_hash hash_;
  std::uint64_t limit_;
  bool final_;
  reader_options options_;

  std::vector<char> buffer_;
  std::uint64_t base_offset_;  // file offset of buffer_[0]
  std::size_t begin_ = 0;      // buffer_[begin_] is file offset consumed_.bytes
  std::size_t end_ = 0;        // valid data ends here
  std::uint64_t read_offset_;  // next file offset to read

  // json framing: position in the top-level structure.
  enum class array_state { unknown, none, before_open, expect_value, after_value, closed };
  array_state array_ = array_state::unknown;
  std::string kept_;  // first bytes of a too_long record
};

}  // namespace sluice::loader

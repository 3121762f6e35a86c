// Splits a file into records without knowing what they mean.
//
// framing::ndjson   one record per line; blank lines are skipped (not records);
//                   a trailing "\r" is dropped.
// framing::json     one or more JSON documents (pretty-printed, concatenated),
//                   or one top-level array whose elements are the records. Split
//                   structurally (strings and escapes respected), so a record may
//                   span lines.
// framing::csv      one record per CSV row (csv.h: quoted fields may hold line
//                   breaks); blank lines are skipped; a trailing "\r" is dropped.
//                   With a header, the first non-blank row is the header, not a
//                   record: it is read from the start of the content whatever
//                   the start position (or taken from `known_header`), and
//                   header() returns it once it is complete. Until then no
//                   record is returned.
//
// Memory: one buffer, grown only while a single record does not fit, never past
// max_record_bytes (+ padding). A longer record is returned with
// flaw::too_long and only its first raw_keep_bytes, and the rest is skipped.
//
// Growing files: the reader reads what its byte source has (byte_source.h: a
// plain file up to `limit`, or a gzip file's content). When `final` is false it
// never returns a record it cannot prove complete (an ndjson line without its
// newline; a JSON value or CSV row whose end is not in sight): the reader stops
// before it and consumed() stays at the end of the last record returned. A gzip
// stream cut inside a member is never final: its last bytes may be half a record.
//
// Broken sources: when the source is broken (invalid gzip data), or cut while
// `final` (a truncated .gz file in --once), the content after the last complete
// record is returned as one last record with flaw::unreadable (its text may be
// empty) and the reader ends there; source_problem() says what happened.
//
// Lost parts (byte_source.h: a damaged gzip member, found by check_integrity()):
// the reader reads up to a lost part's "\n" and never across it. There it
// returns one record with flaw::lost: its text is what followed the last
// complete record before the lost part (the start of a record the lost part
// cut; often empty), source_problem() says which bytes were lost and why, and
// it consumes that text and the "\n". Reading goes on after it: what follows is
// read as the start of a record (never glued to what came before).
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

#include <memory>

#include "loader/bytes/byte_source.h"
#include "loader/bytes/content_hash.h"
#include "loader/formats/csv/csv.h"

namespace sluice::loader {

enum class framing { ndjson, json, csv };

// Where the reader stands: bytes consumed, newlines among them, records among them.
struct position {
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
  std::uint64_t records = 0;
};

enum class flaw {
  none,
  too_long,   // longer than max_record_bytes: text holds its first raw_keep_bytes
  truncated,  // the file ends inside the value or a quoted CSV field (final only)
  unreadable, // the rest of the content after a broken or truncated byte source
  lost,       // a lost part of the source (a damaged gzip member): text is what it cut
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
  // A source that ended cleanly (a gzip stream whose last member is complete)
  // is final even when `final` is not: the writer is done with it.
  bool complete_stream_is_final = false;
};

// A CSV file's header row: its text (without the line break) and the content
// offset just after it.
struct csv_header_row {
  std::string text;
  std::uint64_t end = 0;
  bool too_long = false;  // longer than max_record_bytes: `text` is its head only
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
  // `source` is borrowed and must outlive the reader. `start` must be a record
  // boundary previously reported by consumed(); `hash` covers content
  // [0, start.bytes). Throws std::system_error when the file cannot be read.
  record_reader(byte_source& source, framing kind, position start, content_hash hash, bool final,
                reader_options options = {}, csv_dialect dialect = {},
                std::optional<csv_header_row> known_header = std::nullopt);
  // A plain file: fd is borrowed and read with pread up to `limit`.
  record_reader(int fd, framing kind, position start, content_hash hash, std::uint64_t limit,
                bool final, reader_options options = {}, csv_dialect dialect = {});

  [[nodiscard]] std::optional<record> next();

  // After the last record returned, with the whitespace and separators after it.
  [[nodiscard]] const position& consumed() const noexcept { return consumed_; }
  // Hash of bytes [0, consumed().bytes).
  [[nodiscard]] const content_hash& hash() const noexcept { return hash_; }
  // framing::csv with a header: the header row once it is complete.
  [[nodiscard]] const std::optional<csv_header_row>& header() const noexcept { return header_; }
  // After next() returned nothing: every byte the source had was consumed and
  // it had no more (a compressed file read to the end of what is there).
  [[nodiscard]] bool exhausted() const noexcept { return source_dry_ && begin_ == end_; }
  // After a flaw::unreadable or flaw::lost record: what is wrong with the source.
  [[nodiscard]] const std::string& source_problem() const noexcept { return source_problem_; }

 private:
  void start_reading();
  bool fill();  // reads more; false at the end of what the source has
  void consume_to(std::uint64_t file_offset);
  std::optional<record> next_line();
  std::optional<record> next_json();
  std::optional<record> next_csv();
  // The source has nothing more: whether that ends the content for good.
  [[nodiscard]] bool content_final() const noexcept;
  // Whether the source is broken (or cut, when final): the rest is unreadable.
  [[nodiscard]] bool source_failed() const noexcept;
  std::optional<record> unreadable_rest();
  // At a lost part: what precedes it as one flaw::lost record, then past it.
  std::optional<record> lost_rest();
  // source_->read(), never across a lost part; at one, sets at_lost_.
  std::size_t read_source(char* out, std::size_t size, std::uint64_t offset);
  void find_csv_header();
  // The current record is longer than max_record_bytes: keep its head, stream
  // past the rest (to the newline, or with a scanner to the value's or row's end).
  std::optional<record> skip_too_long(std::uint64_t start, std::uint64_t line, std::size_t seen,
                                      json_value_scanner* scanner, csv_row_scanner* csv = nullptr);
  [[nodiscard]] std::uint64_t file_offset_of(std::size_t buffer_index) const noexcept {
    return base_offset_ + buffer_index;
  }

  std::unique_ptr<byte_source> owned_source_;  // the plain-file constructor's
  byte_source* source_;
  framing kind_;
  position consumed_;
  content_hash hash_;
  bool final_;
  reader_options options_;
  csv_dialect dialect_;
  std::optional<csv_header_row> header_;
  bool ended_ = false;  // an unreadable rest was returned
  bool source_dry_ = false;  // the last read found no more content
  bool at_lost_ = false;     // the next byte to read is a lost part's "\n"
  std::string source_problem_;

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

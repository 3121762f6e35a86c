// Splits a file into records without knowing what they mean. How records are
// cut is the format's (registry.h: each format's folder has a record_framer):
//
// ndjson/  one record per line; blank lines are skipped (not records); a
//          trailing "\r" is dropped.
// json/    one or more JSON documents (pretty-printed, concatenated), or one
//          top-level array whose elements are the records. Split structurally
//          (strings and escapes respected), so a record may span lines.
// csv/     one record per CSV row (csv.h: quoted fields may hold line breaks);
//          blank lines are skipped; a trailing "\r" is dropped. With a header,
//          the first non-blank row is the header, not a record: it is read from
//          the start of the content whatever the start position (or taken from
//          `known_header`), and header() returns it once it is complete. Until
//          then no record is returned.
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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/bytes/byte_source.h"
#include "loader/bytes/content_hash.h"
#include "loader/formats/csv/csv.h"

namespace sluice::loader {

struct input_format;  // registry.h

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

// A header row (a format whose first row names the columns, e.g. CSV with
// csv_header): its text (without the line break) and the content offset just
// after it.
struct header_row {
  std::string text;
  std::uint64_t end = 0;
  bool too_long = false;  // longer than max_record_bytes: `text` is its head only
};

// What a record_framer is made with (record_reader's arguments).
struct framer_setup {
  byte_source* source = nullptr;
  position start;
  content_hash hash;
  bool final = false;
  reader_options options;
  csv_dialect dialect;  // the feed's delimited-text settings (sluice.feeds csv_*)
  std::optional<header_row> known_header;
};

// One format's way of cutting content into records: a format's folder derives
// from it and overrides next() (registry.h makes one per reader). The base is
// the machinery every framing shares: one buffer over the byte source, the
// position and hash of what was consumed, lost parts, the unreadable rest of a
// broken source, and skipping a record longer than max_record_bytes.
class record_framer {
 public:
  // How many of `size` bytes that follow still belong to a record being
  // skipped (skip_too_long); sets `found` when its end is among them.
  using end_scan = std::function<std::size_t(const char* data, std::size_t size, bool& found)>;

  explicit record_framer(const framer_setup& setup);
  virtual ~record_framer() = default;
  record_framer(const record_framer&) = delete;
  record_framer& operator=(const record_framer&) = delete;

  // As record_reader::next().
  [[nodiscard]] virtual std::optional<record> next() = 0;
  // A format with a header row: the header once it is complete.
  [[nodiscard]] virtual const std::optional<header_row>& header() const noexcept { return no_header_; }

  [[nodiscard]] const position& consumed() const noexcept { return consumed_; }
  [[nodiscard]] const content_hash& hash() const noexcept { return hash_; }
  [[nodiscard]] bool exhausted() const noexcept { return source_dry_ && begin_ == end_; }
  [[nodiscard]] const std::string& source_problem() const noexcept { return source_problem_; }

 protected:
  bool fill();  // reads more; false at the end of what the source has
  void consume_to(std::uint64_t file_offset);
  // The source has nothing more: whether that ends the content for good.
  [[nodiscard]] bool content_final() const noexcept;
  // Whether the source is broken (or cut, when final): the rest is unreadable.
  [[nodiscard]] bool source_failed() const noexcept;
  std::optional<record> unreadable_rest();
  // The current record is longer than max_record_bytes: keep its head, stream
  // past the rest (its first `seen` bytes were scanned already) to the end
  // `scan_end` finds. `separator_ends` when the byte that ends it (a line
  // break) is not part of the record.
  std::optional<record> skip_too_long(std::uint64_t start, std::uint64_t line, std::size_t seen,
                                      const end_scan& scan_end, bool separator_ends);
  [[nodiscard]] std::uint64_t file_offset_of(std::size_t buffer_index) const noexcept {
    return base_offset_ + buffer_index;
  }

  byte_source* source_;
  position consumed_;
  content_hash hash_;
  bool final_;
  reader_options options_;
  bool source_dry_ = false;  // the last read found no more content
  std::vector<char> buffer_;
  std::uint64_t base_offset_;  // file offset of buffer_[0]
  std::size_t begin_ = 0;      // buffer_[begin_] is file offset consumed_.bytes
  std::size_t end_ = 0;        // valid data ends here
  std::string kept_;           // first bytes of a too_long record

 private:
  // At a lost part: what precedes it as one flaw::lost record, then past it.
  std::optional<record> lost_rest();
  // source_->read(), never across a lost part; at one, sets at_lost_.
  std::size_t read_source(char* out, std::size_t size, std::uint64_t offset);

  static const std::optional<header_row> no_header_;
  bool ended_ = false;     // an unreadable rest was returned
  bool at_lost_ = false;   // the next byte to read is a lost part's "\n"
  std::string source_problem_;
  std::uint64_t read_offset_;  // next file offset to read
};

class record_reader {
 public:
  // `source` is borrowed and must outlive the reader; `format` says how records
  // are cut (registry.h). `start` must be a record boundary previously reported
  // by consumed(); `hash` covers content [0, start.bytes). Throws
  // std::system_error when the file cannot be read.
  record_reader(byte_source& source, const input_format& format, position start, content_hash hash, bool final,
                reader_options options = {}, csv_dialect dialect = {},
                std::optional<header_row> known_header = std::nullopt);
  // A plain file: fd is borrowed and read with pread up to `limit`.
  record_reader(int fd, const input_format& format, position start, content_hash hash, std::uint64_t limit,
                bool final, reader_options options = {}, csv_dialect dialect = {});

  [[nodiscard]] std::optional<record> next() { return framer_->next(); }

  // After the last record returned, with the whitespace and separators after it.
  [[nodiscard]] const position& consumed() const noexcept { return framer_->consumed(); }
  // Hash of bytes [0, consumed().bytes).
  [[nodiscard]] const content_hash& hash() const noexcept { return framer_->hash(); }
  // A format with a header row (csv with a header): the header once it is complete.
  [[nodiscard]] const std::optional<header_row>& header() const noexcept { return framer_->header(); }
  // After next() returned nothing: every byte the source had was consumed and
  // it had no more (a compressed file read to the end of what is there).
  [[nodiscard]] bool exhausted() const noexcept { return framer_->exhausted(); }
  // After a flaw::unreadable or flaw::lost record: what is wrong with the source.
  [[nodiscard]] const std::string& source_problem() const noexcept { return framer_->source_problem(); }

 private:
  std::unique_ptr<byte_source> owned_source_;  // the plain-file constructor's
  std::unique_ptr<record_framer> framer_;
};

}  // namespace sluice::loader

#include "loader/formats/record_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace sluice::loader {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
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

framing detect_framing(std::string_view first_bytes) {
  // Blank lines before the first one with content do not count (a document
  // written after an empty line, or after a BOM on its own line).
  while (true) {
    auto newline = first_bytes.find('\n');
    if (newline == std::string_view::npos || !trim(first_bytes.substr(0, newline)).empty()) break;
    first_bytes.remove_prefix(newline + 1);
  }
  auto newline = first_bytes.find('\n');
  auto first_line = trim(first_bytes.substr(0, newline));
  if (first_line == "{" || (!first_line.empty() && first_line.front() == '[')) return framing::json;
  return framing::ndjson;
}

record_reader::record_reader(byte_source& source, framing kind, position start, content_hash hash,
                             bool final, reader_options options, csv_dialect dialect,
                             std::optional<csv_header_row> known_header)
    : source_(&source),
      kind_(kind),
      consumed_(start),
      hash_(std::move(hash)),
      final_(final),
      options_(options),
      dialect_(dialect),
      header_(std::move(known_header)),
      buffer_(std::min<std::size_t>(options.initial_buffer_bytes, options.max_record_bytes + 1) +
              options.padding),
      base_offset_(start.bytes),
      read_offset_(start.bytes) {
  start_reading();
}

record_reader::record_reader(int fd, framing kind, position start, content_hash hash, std::uint64_t limit,
                             bool final, reader_options options, csv_dialect dialect)
    : owned_source_(make_plain_source(fd, limit)),
      source_(owned_source_.get()),
      kind_(kind),
      consumed_(start),
      hash_(std::move(hash)),
      final_(final),
      options_(options),
      dialect_(dialect),
      buffer_(std::min<std::size_t>(options.initial_buffer_bytes, options.max_record_bytes + 1) +
              options.padding),
      base_offset_(start.bytes),
      read_offset_(start.bytes) {
  start_reading();
}

void record_reader::start_reading() {
  if (kind_ == framing::json) {
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
  if (kind_ == framing::csv && dialect_.header && !header_) find_csv_header();
}

bool record_reader::fill() {
  if (ended_) {
    source_dry_ = true;
    return false;
  }
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    base_offset_ += begin_;
    end_ -= begin_;
    begin_ = 0;
  }
  std::size_t capacity = buffer_.size() - options_.padding;
  if (end_ == capacity) {
    std::size_t grown = std::min(capacity * 2, options_.max_record_bytes + 1);
    if (grown <= capacity) return false;  // callers check max_record_bytes first
    buffer_.resize(grown + options_.padding);
    capacity = grown;
  }
  auto n = read_source(buffer_.data() + end_, capacity - end_, read_offset_);
  source_dry_ = n == 0;
  if (n == 0) return false;
  end_ += n;
  read_offset_ += n;
  return true;
}

std::size_t record_reader::read_source(char* out, std::size_t size, std::uint64_t offset) {
  if (at_lost_) return 0;
  auto lost = source_->lost_from(offset);
  if (lost && lost->at == offset) {
    at_lost_ = true;
    return 0;
  }
  if (lost) size = static_cast<std::size_t>(std::min<std::uint64_t>(size, lost->at - offset));
  auto n = source_->read(out, size, offset);
  if (n == 0) {
    // (An unchecked source may find a lost part only now: none does, but the
    // contract is the checked one's.)
    lost = source_->lost_from(offset);
    if (lost && lost->at == offset) at_lost_ = true;
  }
  return n;
}

void record_reader::consume_to(std::uint64_t file_offset) {
  auto to = static_cast<std::size_t>(file_offset - base_offset_);
  hash_.update({buffer_.data() + begin_, to - begin_});
  begin_ = to;
  consumed_.bytes = file_offset;
}

std::optional<record> record_reader::next() {
  switch (kind_) {
    case framing::ndjson: return next_line();
    case framing::json: return next_json();
    case framing::csv: return next_csv();
  }
  return std::nullopt;
}

bool record_reader::content_final() const noexcept {
  return (final_ || options_.complete_stream_is_final) && source_->state() == source_state::readable;
}

bool record_reader::source_failed() const noexcept {
  if (at_lost_) return true;
  auto state = source_->state();
  return state == source_state::broken || (state == source_state::cut && final_);
}

std::optional<record> record_reader::lost_rest() {
  auto lost = source_->lost_from(file_offset_of(end_));
  source_problem_ = lost ? lost->describe() : std::string("a part of the file was lost");
  std::size_t size = end_ - begin_;
  kept_.assign(buffer_.data() + begin_, std::min(options_.raw_keep_bytes, size));
  record out{kept_, file_offset_of(begin_), consumed_.lines + 1, consumed_.records + 1, size, flaw::lost};
  auto newlines = static_cast<std::uint64_t>(std::count(buffer_.data() + begin_, buffer_.data() + end_, '\n'));
  consume_to(file_offset_of(end_));
  // Past the lost part's "\n": a line break of the content like any other.
  hash_.update({"\n", 1});
  consumed_.bytes += 1;
  consumed_.lines += newlines + 1;
  consumed_.records += 1;
  begin_ = end_ = 0;
  base_offset_ = read_offset_ = consumed_.bytes;
  at_lost_ = false;
  source_dry_ = false;
  return out;
}

std::optional<record> record_reader::unreadable_rest() {
  if (at_lost_) return lost_rest();
  if (ended_) return std::nullopt;
  ended_ = true;
  source_problem_ = source_->problem();
  std::size_t size = end_ - begin_;
  kept_.assign(buffer_.data() + begin_, std::min(options_.raw_keep_bytes, size));
  record out{kept_, file_offset_of(begin_), consumed_.lines + 1, consumed_.records + 1, size, flaw::unreadable};
  auto newlines = static_cast<std::uint64_t>(std::count(buffer_.data() + begin_, buffer_.data() + end_, '\n'));
  consume_to(file_offset_of(end_));
  consumed_.lines += newlines;
  consumed_.records += 1;
  return out;
}

std::optional<record> record_reader::next_line() {
  while (true) {
    std::size_t searched = 0;
    std::size_t line_end = 0;
    bool has_newline = false;
    while (true) {
      auto* from = buffer_.data() + begin_ + searched;
      auto* newline = static_cast<char*>(std::memchr(from, '\n', end_ - begin_ - searched));
      if (newline != nullptr) {
        line_end = static_cast<std::size_t>(newline - buffer_.data());
        has_newline = true;
        break;
      }
      searched = end_ - begin_;
      if (searched > options_.max_record_bytes) {
        return skip_too_long(file_offset_of(begin_), consumed_.lines + 1, searched, nullptr);
      }
      if (!fill()) {
        if (source_failed()) return unreadable_rest();
        if (!content_final() || end_ == begin_) return std::nullopt;
        line_end = end_;
        break;
      }
    }
    std::size_t text_end = line_end;
    if (text_end > begin_ && buffer_[text_end - 1] == '\r') --text_end;
    std::string_view text(buffer_.data() + begin_, text_end - begin_);
    std::uint64_t next_offset = file_offset_of(line_end) + (has_newline ? 1 : 0);
    if (trim(text).empty()) {  // blank lines are not records
      consume_to(next_offset);
      consumed_.lines += has_newline ? 1 : 0;
      continue;
    }
    record out{text, file_offset_of(begin_), consumed_.lines + 1, consumed_.records + 1,
               text.size(), flaw::none};
    consume_to(next_offset);
    consumed_.lines += has_newline ? 1 : 0;
    consumed_.records += 1;
    return out;
  }
}

std::optional<record> record_reader::skip_too_long(std::uint64_t start, std::uint64_t line,
                                                   std::size_t seen, json_value_scanner* scanner,
                                                   csv_row_scanner* csv) {
  // The record does not fit in memory: keep its head for the reject, hash and
  // count the rest as it streams by, and commit to it only once its end is known.
  kept_.assign(buffer_.data() + begin_, std::min(options_.raw_keep_bytes, end_ - begin_));
  content_hash hash = hash_;
  // The first `seen` bytes were looked at already (no newline among them for
  // ndjson; fed to `scanner` for json): hash and count them, scan on after them.
  std::uint64_t newlines = static_cast<std::uint64_t>(
      std::count(buffer_.data() + begin_, buffer_.data() + begin_ + seen, '\n'));
  hash.update({buffer_.data() + begin_, seen});
  std::uint64_t scan = file_offset_of(begin_) + seen;
  std::size_t from = begin_ + seen;
  std::size_t to = end_;
  bool found = false;
  while (true) {
    // Bytes [from, to) of the buffer are the next unseen part of the record.
    std::size_t take = to - from;
    if (csv != nullptr) {
      auto end = csv->scan(buffer_.data() + from, take);
      if (end < take) {
        take = end + 1;
        found = true;
      }
    } else if (scanner == nullptr) {
      if (auto* nl = static_cast<char*>(std::memchr(buffer_.data() + from, '\n', take))) {
        take = static_cast<std::size_t>(nl - (buffer_.data() + from)) + 1;
        found = true;
      }
    } else {
      for (std::size_t i = 0; i < take; ++i) {
        if (scanner->feed(buffer_[from + i])) {
          take = i + (scanner->bare_scalar() ? 0 : 1);
          found = true;
          break;
        }
      }
    }
    hash.update({buffer_.data() + from, take});
    newlines += static_cast<std::uint64_t>(
        std::count(buffer_.data() + from, buffer_.data() + from + take, '\n'));
    scan += take;
    if (found) break;
    std::size_t capacity = buffer_.size() - options_.padding;
    auto n = read_source(buffer_.data(), capacity, scan);
    if (n == 0) break;
    from = 0;
    to = n;
  }
  // Whatever happens next, the buffer no longer holds consumed_.bytes onwards.
  begin_ = end_ = 0;
  if (!found && !content_final() && !source_failed()) {
    base_offset_ = read_offset_ = consumed_.bytes;
    return std::nullopt;  // its end has not been written yet
  }
  hash_ = std::move(hash);
  consumed_.bytes = scan;
  consumed_.lines += newlines;
  consumed_.records += 1;
  base_offset_ = read_offset_ = scan;
  std::uint64_t size = scan - start - (found && scanner == nullptr ? 1 : 0);
  if (csv != nullptr) csv->reset();
  return record{kept_, start, line, consumed_.records, size, flaw::too_long};
}

std::optional<record> record_reader::next_json() {
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
        auto skipped = skip_too_long(file_offset_of(begin_), consumed_.lines + 1, scanned, &scanner);
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

}  // namespace sluice::loader

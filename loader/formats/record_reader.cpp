#include "loader/formats/record_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "loader/formats/registry.h"

namespace sluice::loader {

const std::optional<header_row> record_framer::no_header_;

record_framer::record_framer(const framer_setup& setup)
    : source_(setup.source),
      consumed_(setup.start),
      hash_(setup.hash),
      final_(setup.final),
      options_(setup.options),
      buffer_(std::min<std::size_t>(setup.options.initial_buffer_bytes, setup.options.max_record_bytes + 1) +
              setup.options.padding),
      base_offset_(setup.start.bytes),
      read_offset_(setup.start.bytes) {}

record_reader::record_reader(byte_source& source, const input_format& format, position start, content_hash hash,
                             bool final, reader_options options, csv_dialect dialect,
                             std::optional<header_row> known_header)
    : framer_(format.make_framer({&source, start, std::move(hash), final, options, dialect, std::move(known_header)})) {}

record_reader::record_reader(int fd, const input_format& format, position start, content_hash hash,
                             std::uint64_t limit, bool final, reader_options options, csv_dialect dialect)
    : owned_source_(make_plain_source(fd, limit)),
      framer_(format.make_framer({owned_source_.get(), start, std::move(hash), final, options, dialect, std::nullopt})) {}

bool record_framer::fill() {
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

std::size_t record_framer::read_source(char* out, std::size_t size, std::uint64_t offset) {
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

void record_framer::consume_to(std::uint64_t file_offset) {
  auto to = static_cast<std::size_t>(file_offset - base_offset_);
  hash_.update({buffer_.data() + begin_, to - begin_});
  begin_ = to;
  consumed_.bytes = file_offset;
}

bool record_framer::content_final() const noexcept {
  return (final_ || options_.complete_stream_is_final) && source_->state() == source_state::readable;
}

bool record_framer::source_failed() const noexcept {
  if (at_lost_) return true;
  auto state = source_->state();
  return state == source_state::broken || (state == source_state::cut && final_);
}

std::optional<record> record_framer::lost_rest() {
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

std::optional<record> record_framer::unreadable_rest() {
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

std::optional<record> record_framer::skip_too_long(std::uint64_t start, std::uint64_t line, std::size_t seen,
                                                   const end_scan& scan_end, bool separator_ends) {
  // The record does not fit in memory: keep its head for the reject, hash and
  // count the rest as it streams by, and commit to it only once its end is known.
  kept_.assign(buffer_.data() + begin_, std::min(options_.raw_keep_bytes, end_ - begin_));
  content_hash hash = hash_;
  // The first `seen` bytes were looked at already (no newline among them for
  // ndjson; fed to the framing's scanner for json and csv): hash and count
  // them, scan on after them.
  std::uint64_t newlines = static_cast<std::uint64_t>(
      std::count(buffer_.data() + begin_, buffer_.data() + begin_ + seen, '\n'));
  hash.update({buffer_.data() + begin_, seen});
  std::uint64_t scan = file_offset_of(begin_) + seen;
  std::size_t from = begin_ + seen;
  std::size_t to = end_;
  bool found = false;
  while (true) {
    // Bytes [from, to) of the buffer are the next unseen part of the record.
    std::size_t take = scan_end(buffer_.data() + from, to - from, found);
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
  std::uint64_t size = scan - start - (found && separator_ends ? 1 : 0);
  return record{kept_, start, line, consumed_.records, size, flaw::too_long};
}

}  // namespace sluice::loader

// CSV framing (record_reader.h): the header row, then a record per row, rows
// found by csv_row_scanner.
#include "loader/formats/csv/csv_framing.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace sluice::loader {

namespace {

bool is_blank(std::string_view text) noexcept {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// A row too long to keep ends at the "\n" `scanner` (fed its first bytes) finds.
record_framer::end_scan row_end_after(csv_row_scanner& scanner) {
  return [&scanner](const char* data, std::size_t size, bool& found) {
    auto at = scanner.scan(data, size);
    if (at == size) return size;
    found = true;
    return at + 1;
  };
}

class csv_framer final : public record_framer {
 public:
  explicit csv_framer(const framer_setup& setup)
      : record_framer(setup), dialect_(setup.dialect), header_(setup.known_header) {
    if (dialect_.header && !header_) find_header();
  }
  [[nodiscard]] std::optional<record> next() override;
  [[nodiscard]] const std::optional<header_row>& header() const noexcept override { return header_; }

 private:
  void find_header();
  std::optional<record> next_row();

  csv_dialect dialect_;
  std::optional<header_row> header_;
};

void csv_framer::find_header() {
  // The header is the first non-blank row of the content (after a BOM): read it
  // from the start, whatever the start position, in chunks. One longer than
  // max_record_bytes is kept only in part (the decoder rejects the file's rows
  // for it); its end is still found.
  std::string row;
  bool too_long = false;
  std::uint64_t at = 0;
  csv_row_scanner scanner(dialect_);
  char chunk[16384];
  auto keep = [&](const char* bytes, std::size_t size) {
    std::size_t room = options_.max_record_bytes > row.size() ? options_.max_record_bytes - row.size() : 0;
    if (size > room) too_long = true;
    row.append(bytes, std::min(size, room));
  };
  while (true) {
    auto n = source_->read(chunk, sizeof chunk, at);
    std::string_view bytes(chunk, n);
    if (at == 0 && bytes.starts_with(utf8_bom)) {
      bytes.remove_prefix(utf8_bom.size());
      at += utf8_bom.size();
    }
    if (bytes.empty()) {
      // The end of what there is: a header without its line break counts only
      // when the content is final (a header whose quote never closes, too: then
      // the file is all header and the decoder says so).
      if (content_final() && (too_long || !is_blank(row))) {
        if (!too_long && !row.empty() && row.back() == '\r') row.pop_back();
        header_ = header_row{std::move(row), at, too_long};
      }
      return;
    }
    auto end = scanner.scan(bytes.data(), bytes.size());
    if (end < bytes.size()) {
      keep(bytes.data(), end);
      at += end + 1;
      if (!too_long && !row.empty() && row.back() == '\r') row.pop_back();
      if (!too_long && is_blank(row)) {  // a blank line before the header: keep looking
        row.clear();
        continue;
      }
      header_ = header_row{std::move(row), at, too_long};
      return;
    }
    keep(bytes.data(), bytes.size());
    at += bytes.size();
  }
}

std::optional<record> csv_framer::next() {
  if (dialect_.header) {
    if (!header_) {
      // Not complete yet (or none): nothing can be read before it, unless the
      // source broke, which ends the file here.
      while (end_ - begin_ <= options_.max_record_bytes && fill()) {
      }
      if (source_failed()) return unreadable_rest();
      if (content_final()) {
        // Final without a header: the content is blank lines only
        // (find_header read it to its end), consumed a buffer at a time.
        // (Only once the buffer held all of it, before: a final reader of more
        // blank lines than max_record_bytes consumed nothing. fuzz_csv.)
        while (true) {
          consumed_.lines += static_cast<std::uint64_t>(std::count(buffer_.data() + begin_, buffer_.data() + end_, '\n'));
          consume_to(file_offset_of(end_));
          if (source_dry_ || !fill()) break;
        }
        if (source_failed()) return unreadable_rest();
      }
      return std::nullopt;
    }
    // The header (and blank lines before it) may lie ahead: consume them, not
    // as a record, a buffer at a time (a header may be longer than the buffer).
    while (consumed_.bytes < header_->end) {
      if (begin_ == end_ && !fill()) return source_failed() ? unreadable_rest() : std::nullopt;
      auto stop = std::min<std::uint64_t>(header_->end, file_offset_of(end_));
      auto to = static_cast<std::size_t>(stop - base_offset_);
      consumed_.lines += static_cast<std::uint64_t>(std::count(buffer_.data() + begin_, buffer_.data() + to, '\n'));
      consume_to(stop);
    }
  }
  return next_row();
}

// The next row after the header.
std::optional<record> csv_framer::next_row() {
  while (true) {
    csv_row_scanner scanner(dialect_);
    std::size_t scanned = 0;
    std::size_t row_end = 0;
    bool has_newline = false;
    while (true) {
      std::size_t available = end_ - begin_ - scanned;
      auto end = scanner.scan(buffer_.data() + begin_ + scanned, available);
      if (end < available) {
        row_end = begin_ + scanned + end;
        has_newline = true;
        break;
      }
      scanned = end_ - begin_;
      if (scanned > options_.max_record_bytes) {
        return skip_too_long(file_offset_of(begin_), consumed_.lines + 1, scanned, row_end_after(scanner), true);
      }
      if (!fill()) {
        if (source_failed()) return unreadable_rest();
        if (!content_final() || end_ == begin_) return std::nullopt;
        row_end = end_;
        break;
      }
    }
    std::size_t text_end = row_end;
    if (text_end > begin_ && buffer_[text_end - 1] == '\r') --text_end;
    std::string_view text(buffer_.data() + begin_, text_end - begin_);
    std::uint64_t next_offset = file_offset_of(row_end) + (has_newline ? 1 : 0);
    std::uint64_t newlines = 0;
    for (const char* at = text.data(); (at = static_cast<const char*>(
                                            std::memchr(at, '\n', static_cast<std::size_t>(text.data() + text.size() - at)))) != nullptr;
         ++at) {
      ++newlines;
    }
    if (newlines == 0 && is_blank(text)) {  // blank lines are not records
      consume_to(next_offset);
      consumed_.lines += has_newline ? 1 : 0;
      continue;
    }
    bool truncated = !has_newline && scanner.in_quotes();
    record out{text, file_offset_of(begin_), consumed_.lines + 1, consumed_.records + 1, text.size(),
               truncated ? flaw::truncated : flaw::none};
    consume_to(next_offset);
    consumed_.lines += newlines + (has_newline ? 1 : 0);
    consumed_.records += 1;
    return out;
  }
}

}  // namespace

std::unique_ptr<record_framer> make_csv_framer(const framer_setup& setup) {
  return std::make_unique<csv_framer>(setup);
}

}  // namespace sluice::loader

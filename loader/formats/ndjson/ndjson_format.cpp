// NDJSON framing: a record per line, blank lines skipped, a trailing "\r"
// dropped (record_reader.h).
#include "loader/formats/ndjson/ndjson_format.h"

#include <cstring>

#include "loader/formats/json/json_decoder.h"
#include "loader/formats/json/json_framing.h"

namespace sluice::loader {

using json_whitespace::is_space;
using json_whitespace::trim;

namespace {

// A line too long to keep ends at its "\n".
std::size_t to_line_end(const char* data, std::size_t size, bool& found) {
  if (const auto* newline = static_cast<const char*>(std::memchr(data, '\n', size))) {
    found = true;
    return static_cast<std::size_t>(newline - data) + 1;
  }
  return size;
}

class ndjson_framer final : public record_framer {
 public:
  using record_framer::record_framer;
  [[nodiscard]] std::optional<record> next() override;
};

std::optional<record> ndjson_framer::next() {
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
        return skip_too_long(file_offset_of(begin_), consumed_.lines + 1, searched, to_line_end, true);
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

}  // namespace

const input_format& ndjson_format() {
  static const input_format format{
      .name = "ndjson",
      .make_framer = [](const framer_setup& setup) -> std::unique_ptr<record_framer> {
        return std::make_unique<ndjson_framer>(setup);
      },
      .settled_files_only = false,
      .complete_stream_ends_record = false,
      .make_decoder = make_json_decoder,
      .routes = true,
      .keys = column_keys::json_pointers,
  };
  return format;
}

}  // namespace sluice::loader

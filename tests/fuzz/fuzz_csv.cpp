// libFuzzer target: arbitrary bytes through the CSV framing (header or not,
// several dialects, small buffers, final or not, resumed midway), the field
// splitter, the CSV decoder with a fixed plan, and the gzip byte source.
// Aborts when an invariant breaks:
//   - rows come in file order, each equal to the bytes at its offset (minus a
//     CR before its LF), inside what was read; ordinals count up from 1; lines
//     are 1 + the LFs before the row;
//   - a row that is not flawed holds no LF outside quotes (the scanner finds no
//     row end in it), and a truncated row ends inside quotes;
//   - consumed() never goes backwards or past the end, hash() is the hash of
//     exactly the consumed bytes, lines are the LFs among them; a final reader
//     consumes everything;
//   - a reader resumed from any consumed() position (the header read again
//     from the start) returns the same remaining rows;
//   - split() fields joined back by the delimiter give the row when no field
//     was quoted; decode adds one row or none, and a reject has a reason;
//   - the gzip source gives the same content whatever its read sizes and
//     history, and never more than zlib would.
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "loader/bytes/byte_source.h"
#include "loader/bytes/content_hash.h"
#include "loader/pipeline/copy_encoder.h"
#include "loader/formats/csv/csv.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "loader/formats/csv/csv_format.h"
#include "loader/formats/record_reader.h"

using namespace sluice::loader;

namespace {

[[noreturn]] void fail(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  std::fprintf(stderr, "invariant broken: %s (%llu, %llu)\n", what, static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}

#define FUZZ_CHECK(condition, ...) \
  do {                             \
    if (!(condition)) fail(#condition __VA_OPT__(, ) __VA_ARGS__); \
  } while (false)

struct seen_row {
  std::string text;
  std::uint64_t offset, line, ordinal, size;
  flaw defect;
  bool operator==(const seen_row&) const = default;
};

column_plan text_column(const char* name, const char* header, column_type type, const char* type_name) {
  column_plan c;
  c.name = name;
  c.type = type;
  c.type_name = type_name;
  c.source = column_source::csv_header;
  c.csv_header = header;
  return c;
}

feed_plan plan_for(const csv_dialect& dialect) {
  feed_plan feed;
  feed.name = "fuzz";
  feed.format = "csv";
  feed.csv = dialect;
  target_plan t;
  t.table = "staging.f";
  auto amount = text_column("amount", "a", column_type::numeric, "numeric(8,2)");
  amount.numeric_precision = 8;
  amount.numeric_scale = 2;
  t.columns = {text_column("id", "id", column_type::int4, "integer"), amount,
               text_column("day", "d", column_type::date, "date"),
               text_column("at", "t", column_type::timestamptz, "timestamp with time zone"),
               text_column("name", "n", column_type::text, "text")};
  if (!dialect.header) {
    std::size_t position = 0;
    for (auto& c : t.columns) {
      c.source = column_source::csv_position;
      c.csv_position = ++position;
    }
  }
  feed.targets = {t};
  return feed;
}

std::vector<seen_row> read_checked(int fd, std::string_view input, const csv_dialect& dialect, position start,
                                   const content_hash& hash, bool final, const reader_options& options,
                                   std::size_t stop_after, record_decoder* decoder, position* stopped_at,
                                   content_hash* stopped_hash) {
  record_reader reader(fd, csv_format(), start, hash, input.size(), final, options, dialect);
  std::vector<seen_row> out;
  std::uint64_t last = start.bytes;
  std::uint64_t next_ordinal = start.records + 1;
  std::vector<copy_encoder> rows(1);
  if (decoder != nullptr) decoder->bind_header(reader.header());
  while (out.size() < stop_after) {
    auto rec = reader.next();
    if (!rec) break;
    FUZZ_CHECK(rec->offset >= last, rec->offset, last);
    FUZZ_CHECK(rec->ordinal == next_ordinal, rec->ordinal, next_ordinal);
    FUZZ_CHECK(rec->offset + rec->size <= input.size());
    auto newlines = static_cast<std::uint64_t>(std::count(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(rec->offset), '\n'));
    FUZZ_CHECK(rec->line == newlines + 1, rec->line, newlines + 1);
    if (rec->defect != flaw::too_long) {
      FUZZ_CHECK(rec->size == rec->text.size());
      FUZZ_CHECK(std::memcmp(rec->text.data(), input.data() + rec->offset, rec->text.size()) == 0);
      csv_row_scanner scanner(dialect);
      auto end = scanner.scan(rec->text.data(), rec->text.size());
      FUZZ_CHECK(end == rec->text.size(), end, rec->text.size());
      if (rec->defect == flaw::truncated) FUZZ_CHECK(scanner.in_quotes() && final);
    } else {
      FUZZ_CHECK(rec->size > options.max_record_bytes);
    }
    FUZZ_CHECK(reader.consumed().records == rec->ordinal);
    last = reader.consumed().bytes;
    ++next_ordinal;
    if (decoder != nullptr) {
      auto before = rows[0].rows();
      auto size = rows[0].size();
      reject_reason why;
      if (decoder->decode(*rec, 1, rows, why)) {
        FUZZ_CHECK(rows[0].rows() == before + 1);
      } else {
        FUZZ_CHECK(rows[0].rows() == before && rows[0].size() == size);
        FUZZ_CHECK(!why.reason.empty());
      }
    }
    out.push_back({std::string(rec->text), rec->offset, rec->line, rec->ordinal, rec->size, rec->defect});
  }
  const auto& at = reader.consumed();
  FUZZ_CHECK(at.bytes >= last && at.bytes <= input.size());
  auto newlines = static_cast<std::uint64_t>(std::count(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(at.bytes), '\n'));
  FUZZ_CHECK(at.lines == newlines, at.lines, newlines);
  FUZZ_CHECK(reader.hash().hex() == content_hash::of({input.data(), static_cast<std::size_t>(at.bytes)}));
  if (final && out.size() < stop_after) FUZZ_CHECK(at.bytes == input.size(), at.bytes, input.size());
  if (stopped_at != nullptr) *stopped_at = at;
  if (stopped_hash != nullptr) *stopped_hash = reader.hash();
  return out;
}

void check_split(const csv_dialect& dialect, std::string_view row) {
  csv_splitter splitter(dialect);
  auto split = splitter.split(row);
  if (!split) {
    FUZZ_CHECK(split.error().what != nullptr && *split.error().what != '\0');
    return;
  }
  bool quoted = false;
  std::string joined;
  for (std::size_t i = 0; i < split.value().size(); ++i) {
    if (i > 0) joined += dialect.delimiter;
    joined += split.value()[i].text;
    quoted = quoted || split.value()[i].quoted;
  }
  if (!quoted) FUZZ_CHECK(joined == row);
}

void check_gzip(int fd, std::string_view input) {
  // The input as a gzip file (whatever it is), read in two ways.
  auto whole = make_gzip_source(fd, input.size(), 1 << 16);
  std::string big;
  char buffer[8192];
  while (auto n = whole->read(buffer, sizeof buffer, big.size())) big.append(buffer, n);
  auto small = make_gzip_source(fd, input.size(), 64);
  std::string bytes;
  while (auto n = small->read(buffer, 7, bytes.size())) bytes.append(buffer, n);
  FUZZ_CHECK(bytes == big, bytes.size(), big.size());
  FUZZ_CHECK(whole->state() == small->state());
  // Read back from the start and from the middle.
  if (!big.empty()) {
    auto from = big.size() / 2;
    FUZZ_CHECK(read_content(*small, from, big.size()) == big.substr(from));
    FUZZ_CHECK(read_content(*small, 0, big.size()) == big);
  }
  // Checked (lost parts give one "\n" each): the same content whatever the
  // read sizes, history, or where a restarted source starts (byte_source.h).
  auto checked = make_gzip_source(fd, input.size(), 1 << 16);
  auto content_size = checked->check_integrity();
  std::string checked_big;
  while (auto n = checked->read(buffer, sizeof buffer, checked_big.size())) checked_big.append(buffer, n);
  FUZZ_CHECK(checked_big.size() == content_size, checked_big.size(), content_size);
  auto restarted = make_gzip_source(fd, input.size(), 64);
  restarted->check_integrity();
  if (!checked_big.empty()) {
    auto from = checked_big.size() / 2;
    FUZZ_CHECK(read_content(*restarted, from, checked_big.size()) == checked_big.substr(from));
    FUZZ_CHECK(read_content(*restarted, 0, checked_big.size()) == checked_big);
  }
  for (auto lost = checked->lost_from(0); lost; lost = checked->lost_from(lost->at + 1)) {
    FUZZ_CHECK(lost->at < checked_big.size() && checked_big[lost->at] == '\n', lost->at, checked_big.size());
    FUZZ_CHECK(lost->from < lost->to && lost->to <= input.size(), lost->from, lost->to);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  std::uint8_t config = data[0];
  std::uint8_t shape = data[1];
  std::size_t resume_after = data[2] % 6;
  std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);
  static constexpr std::size_t initial_sizes[] = {8, 64, 4096};
  static constexpr std::size_t max_sizes[] = {16, 100, 1 << 16};
  reader_options options;
  options.initial_buffer_bytes = initial_sizes[config % 3];
  options.max_record_bytes = max_sizes[(config / 3) % 3];
  options.raw_keep_bytes = (config / 9) % 2 ? 8 : 1 << 20;
  csv_dialect dialect;
  dialect.header = (shape & 1) != 0;
  if (shape & 2) dialect.delimiter = ';';
  if (shape & 4) dialect.quote = '\'';
  if (shape & 8) dialect.escape = '\\';

  static int fd = [] {
    int made = ::memfd_create("fuzz_csv", MFD_CLOEXEC);
    if (made < 0) fail("memfd_create");
    return made;
  }();
  if (::ftruncate(fd, 0) != 0) fail("ftruncate");
  if (!input.empty() && ::pwrite(fd, input.data(), input.size(), 0) != static_cast<ssize_t>(input.size())) fail("pwrite");

  feed_plan plan = plan_for(dialect);
  record_decoder decoder(plan);
  for (bool final : {true, false}) {
    auto all = read_checked(fd, input, dialect, {}, {}, final, options, SIZE_MAX, final ? &decoder : nullptr,
                            nullptr, nullptr);
    for (const auto& row : all) {
      if (row.defect == flaw::none) check_split(dialect, row.text);
    }
    position stopped;
    content_hash stopped_hash;
    auto head = read_checked(fd, input, dialect, {}, {}, final, options, resume_after, nullptr, &stopped, &stopped_hash);
    auto tail = read_checked(fd, input, dialect, stopped, stopped_hash, final, options, SIZE_MAX, nullptr, nullptr, nullptr);
    FUZZ_CHECK(head.size() + tail.size() == all.size(), head.size() + tail.size(), all.size());
    for (std::size_t row_idx = 0; row_idx < all.size(); ++row_idx) {
      const auto& resumed = row_idx < head.size() ? head[row_idx] : tail[row_idx - head.size()];
      FUZZ_CHECK(resumed == all[row_idx], row_idx);
    }
  }
  check_gzip(fd, input);
  return 0;
}

// libFuzzer target: arbitrary bytes through record_reader (both framings, final or
// not, small buffers, resumed midway) and every record through record_decoder
// with a fixed two-target plan. Aborts when an invariant breaks:
//   - records come in file order, each inside the bytes read and equal to them;
//   - ordinals count up from 1, lines are 1 + the newlines before the record;
//   - consumed() never goes backwards or past the limit, and hash() is the hash
//     of exactly the consumed bytes;
//   - a final reader consumes everything up to the limit;
//   - an ndjson reader resumed from any consumed() position returns the same
//     remaining records;
//   - a decoded record adds exactly one row to one encoder, a rejected one
//     changes no encoder and has a reason, and printable_raw is valid UTF-8
//     without NUL.
#include <sys/mman.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/bytes/content_hash.h"
#include "loader/pipeline/copy_encoder.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "loader/formats/json/json_format.h"
#include "loader/formats/ndjson/ndjson_format.h"
#include "loader/formats/record_reader.h"

using namespace sluice::loader;

namespace {

[[noreturn]] void fail(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  std::fprintf(stderr, "invariant broken: %s (%llu, %llu)\n", what,
               static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  std::abort();
}

#define FUZZ_CHECK(condition, ...) \
  do {                             \
    if (!(condition)) fail(#condition __VA_OPT__(, ) __VA_ARGS__); \
  } while (false)

column_plan column(const char* name, const char* type_name, column_type type, bool not_null,
                   const char* pointer, column_source source = column_source::json_pointer) {
  column_plan out;
  out.name = name;
  out.type_name = type_name;
  out.type = type;
  out.not_null = not_null;
  out.source = source;
  out.json_pointer = pointer;
  return out;
}

// A plan touching every column type, routed by /t.
const feed_plan& fixed_plan() {
  static const feed_plan plan = [] {
    feed_plan feed;
    feed.name = "fuzz";
    feed.format = "auto";
    feed.route_pointer = "/t";
    target_plan a;
    a.table = "staging.a";
    a.columns = {column("file_id", "bigint", column_type::int8, true, "", column_source::file_id),
                 column("record", "bigint", column_type::int8, true, "", column_source::record_ordinal),
                 column("i2", "smallint", column_type::int2, false, "/i2"),
                 column("i4", "integer", column_type::int4, true, "/i4"),
                 column("i8", "bigint", column_type::int8, false, "/i8"),
                 column("f4", "real", column_type::float4, false, "/f4"),
                 column("f8", "double precision", column_type::float8, false, "/f8"),
                 column("b", "boolean", column_type::boolean, false, "/b")};
    target_plan b;
    b.table = "staging.b";
    b.columns = {column("s", "text", column_type::text, true, "/s"),
                 column("j", "json", column_type::json, false, "/j"),
                 column("jb", "jsonb", column_type::jsonb, false, "/jb"),
                 column("d", "date", column_type::date, false, "/d"),
                 column("ts", "timestamp without time zone", column_type::timestamp, false, "/ts"),
                 column("tz", "timestamp with time zone", column_type::timestamptz, false, "/x/0/tz")};
    feed.targets = {a, b};
    feed.routes = {{"A", 0}, {"B", 1}};
    feed.route_values = "A, B";
    return feed;
  }();
  return plan;
}

struct seen_record {
  std::string text;
  std::uint64_t offset, line, ordinal, size;
  flaw defect;
};

void check_printable(std::string_view bytes) {
  auto raw = printable_raw(bytes);
  FUZZ_CHECK(raw.text.find('\0') == std::string::npos);
  FUZZ_CHECK(simdjson::validate_utf8(raw.text.data(), raw.text.size()));
  FUZZ_CHECK(raw.lossy || raw.text == bytes);
}

void check_decode(record_decoder& decoder, const record& rec, std::vector<copy_encoder>& rows) {
  std::size_t sizes[2] = {rows[0].size(), rows[1].size()};
  std::uint64_t counts[2] = {rows[0].rows(), rows[1].rows()};
  reject_reason why;
  if (decoder.decode(rec, 7, rows, why)) {
    std::uint64_t added = (rows[0].rows() - counts[0]) + (rows[1].rows() - counts[1]);
    FUZZ_CHECK(added == 1, added);
    for (int target_idx = 0; target_idx < 2; ++target_idx) {
      if (rows[target_idx].rows() == counts[target_idx]) {
        FUZZ_CHECK(rows[target_idx].size() == sizes[target_idx]);
      }
    }
  } else {
    for (int target_idx = 0; target_idx < 2; ++target_idx) {
      FUZZ_CHECK(rows[target_idx].size() == sizes[target_idx], rows[target_idx].size(),
                 sizes[target_idx]);
      FUZZ_CHECK(rows[target_idx].rows() == counts[target_idx]);
    }
    FUZZ_CHECK(!why.reason.empty());
    check_printable(why.reason);
  }
  check_printable(rec.text);
}

// Reads every record of [0, limit) and checks each against the input.
std::vector<seen_record> read_checked(int fd, std::string_view input, const input_format& kind, position start,
                                      const content_hash& hash, std::uint64_t limit, bool final,
                                      const reader_options& options, std::size_t stop_after,
                                      record_decoder* decoder, std::vector<copy_encoder>* rows,
                                      position* stopped_at, content_hash* stopped_hash) {
  record_reader reader(fd, kind, start, hash, limit, final, options);
  std::vector<seen_record> out;
  std::uint64_t last_consumed = start.bytes;
  std::uint64_t next_ordinal = start.records + 1;
  while (out.size() < stop_after) {
    auto rec = reader.next();
    if (!rec) break;
    FUZZ_CHECK(rec->offset >= last_consumed, rec->offset, last_consumed);
    FUZZ_CHECK(rec->offset + rec->text.size() <= limit, rec->offset + rec->text.size(), limit);
    FUZZ_CHECK(std::memcmp(rec->text.data(), input.data() + rec->offset, rec->text.size()) == 0);
    FUZZ_CHECK(rec->ordinal == next_ordinal, rec->ordinal, next_ordinal);
    std::uint64_t newlines_before = static_cast<std::uint64_t>(
        std::count(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(rec->offset), '\n'));
    FUZZ_CHECK(rec->line == newlines_before + 1, rec->line, newlines_before + 1);
    if (rec->defect == flaw::too_long) {
      FUZZ_CHECK(rec->text.size() <= options.raw_keep_bytes);
      FUZZ_CHECK(rec->size > options.max_record_bytes, rec->size, options.max_record_bytes);
      FUZZ_CHECK(rec->offset + rec->size <= limit);
    } else {
      FUZZ_CHECK(rec->size == rec->text.size());
      FUZZ_CHECK(!rec->text.empty());
    }
    if (rec->defect == flaw::truncated) FUZZ_CHECK(&kind == &json_format() && final);
    FUZZ_CHECK(reader.consumed().bytes >= rec->offset + rec->text.size());
    FUZZ_CHECK(reader.consumed().bytes <= limit, reader.consumed().bytes, limit);
    FUZZ_CHECK(reader.consumed().records == rec->ordinal);
    last_consumed = reader.consumed().bytes;
    ++next_ordinal;
    if (decoder != nullptr) check_decode(*decoder, *rec, *rows);
    out.push_back({std::string(rec->text), rec->offset, rec->line, rec->ordinal, rec->size,
                   rec->defect});
  }
  const auto& at = reader.consumed();
  FUZZ_CHECK(at.bytes >= last_consumed && at.bytes <= limit, at.bytes, limit);
  std::uint64_t newlines = static_cast<std::uint64_t>(
      std::count(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(at.bytes), '\n'));
  FUZZ_CHECK(at.lines == newlines, at.lines, newlines);
  FUZZ_CHECK(reader.hash().hex() == content_hash::of({input.data(), static_cast<std::size_t>(at.bytes)}));
  if (final && out.size() < stop_after) FUZZ_CHECK(at.bytes == limit, at.bytes, limit);
  if (stopped_at != nullptr) *stopped_at = at;
  if (stopped_hash != nullptr) *stopped_hash = reader.hash();
  return out;
}

bool same(const seen_record& a, const seen_record& b) {
  return a.text == b.text && a.offset == b.offset && a.line == b.line && a.ordinal == b.ordinal &&
         a.size == b.size && a.defect == b.defect;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Two bytes of configuration, then the file.
  static constexpr std::size_t initial_sizes[] = {16, 64, 4096};
  static constexpr std::size_t max_sizes[] = {24, 100, 1 << 16};
  static constexpr std::size_t keep_sizes[] = {8, 1 << 20};
  std::uint8_t config = data[0];
  reader_options options;
  options.initial_buffer_bytes = initial_sizes[config % 3];
  options.max_record_bytes = max_sizes[(config / 3) % 3];
  options.raw_keep_bytes = keep_sizes[(config / 9) % 2];
  std::size_t resume_after = data[1] % 8;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  static int fd = [] {
    int made = ::memfd_create("fuzz_record_reader", MFD_CLOEXEC);
    if (made < 0) fail("memfd_create");
    return made;
  }();
  if (::ftruncate(fd, 0) != 0) fail("ftruncate");
  if (!input.empty() && ::pwrite(fd, input.data(), input.size(), 0) != static_cast<ssize_t>(input.size())) {
    fail("pwrite");
  }

  static record_decoder decoder(fixed_plan());
  // A limit short of the end, as for a file still being written.
  std::uint64_t short_limit = input.size() - std::min<std::size_t>(input.size(), config % 7);

  for (const input_format* format : {&ndjson_format(), &json_format()}) {
    const auto& kind = *format;
    for (bool final : {true, false}) {
      for (std::uint64_t limit : {static_cast<std::uint64_t>(input.size()), short_limit}) {
        std::vector<copy_encoder> rows(2);
        bool decode = final && limit == input.size();
        auto all = read_checked(fd, input, kind, {}, {}, limit, final, options, SIZE_MAX,
                                decode ? &decoder : nullptr, &rows, nullptr, nullptr);
        if (&kind == &json_format()) continue;  // resume is only exact for well-formed JSON files

        position stopped;
        content_hash stopped_hash;
        auto head = read_checked(fd, input, kind, {}, {}, limit, final, options, resume_after,
                                 nullptr, nullptr, &stopped, &stopped_hash);
        auto tail = read_checked(fd, input, kind, stopped, stopped_hash, limit, final, options,
                                 SIZE_MAX, nullptr, nullptr, nullptr, nullptr);
        FUZZ_CHECK(head.size() + tail.size() == all.size(), head.size() + tail.size(), all.size());
        for (std::size_t record_idx = 0; record_idx < all.size(); ++record_idx) {
          const auto& resumed = record_idx < head.size() ? head[record_idx] : tail[record_idx - head.size()];
          FUZZ_CHECK(same(resumed, all[record_idx]), record_idx);
        }
      }
    }
  }
  return 0;
}

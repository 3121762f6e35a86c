// record_reader with ndjson_format(): positions, held-back lines, resume, hashes,
// over-long lines, and the same checks across buffer sizes.
#include <catch2/catch.hpp>
#include "loader/formats/record_reader.h"
#include "loader/formats/ndjson/ndjson_format.h"

#include <algorithm>
#include <string>
#include <vector>

#include "support/temp_file.h"

using namespace sluice::loader;
using namespace sluice::testing;

namespace {

// Blank lines (empty, spaces, a lone CR) and a CRLF line among records; the last
// line has no newline.
const std::string mixed =
    "{\"a\":1}\n"           // line 1
    "\n"                    // line 2, blank
    "{\"b\":22}\r\n"        // line 3, CRLF
    "   \n"                 // line 4, blank (spaces)
    "\r\n"                  // line 5, blank (lone CR)
    "{\"c\":333}\n"         // line 6
    "{\"d\":4444}";         // line 7, no newline

struct expected_record {
  std::string text;
  std::uint64_t line;
};

const std::vector<expected_record> mixed_records = {
    {"{\"a\":1}", 1}, {"{\"b\":22}", 3}, {"{\"c\":333}", 6}, {"{\"d\":4444}", 7}};

void check_mixed(const std::vector<owned_record>& got, std::size_t count) {
  REQUIRE(got.size() == count);
  for (std::size_t record_idx = 0; record_idx < count; ++record_idx) {
    INFO("record " << record_idx + 1);
    const auto& want = mixed_records[record_idx];
    CHECK(got[record_idx].text == want.text);
    CHECK(got[record_idx].line == want.line);
    CHECK(got[record_idx].ordinal == record_idx + 1);
    CHECK(got[record_idx].offset == mixed.find(want.text));
    CHECK(got[record_idx].size == want.text.size());
    CHECK(got[record_idx].defect == flaw::none);
  }
}


}  // namespace

TEST_CASE("ndjson records come back with ordinals, 1-based lines and byte offsets, blank lines counted",
          "[loader][record_reader][ndjson]") {
  auto options = generated_small_buffers(20);
  INFO("initial_buffer_bytes " << options.initial_buffer_bytes << ", max_record_bytes "
                               << options.max_record_bytes);
  temp_file file(mixed);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), true, options);
  auto got = read_all(reader);
  check_mixed(got, 4);
  CHECK(reader.consumed().bytes == mixed.size());
  CHECK(reader.consumed().lines == 6);  // the last line has no newline
  CHECK(reader.consumed().records == 4);
  CHECK(reader.hash().hex() == hash_of(mixed));
}

TEST_CASE("a line without its newline is held back until the file settles",
          "[loader][record_reader][ndjson]") {
  auto options = generated_small_buffers(20);
  temp_file file(mixed);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), false, options);
  auto got = read_all(reader);
  check_mixed(got, 3);
  auto held_at = mixed.find("{\"d\"");
  CHECK(reader.consumed().bytes == held_at);
  CHECK(reader.consumed().lines == 6);
  CHECK(reader.consumed().records == 3);
  CHECK(reader.hash().hex() == hash_of(mixed.substr(0, held_at)));
  // Asking again changes nothing.
  CHECK_FALSE(reader.next().has_value());
  CHECK(reader.consumed().bytes == held_at);

  SECTION("and returned once its newline is written") {
    file.append("\n");
    record_reader resumed(file.fd(), ndjson_format(), reader.consumed(), reader.hash(),
                          file.size(), false, options);
    auto rest = read_all(resumed);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].text == "{\"d\":4444}");
    CHECK(rest[0].ordinal == 4);
    CHECK(rest[0].line == 7);
    CHECK(rest[0].offset == held_at);
    CHECK(resumed.consumed().bytes == mixed.size() + 1);
    CHECK(resumed.hash().hex() == hash_of(mixed + "\n"));
  }
  SECTION("and returned without a newline when the reader is final") {
    record_reader settled(file.fd(), ndjson_format(), reader.consumed(), reader.hash(),
                          file.size(), true, options);
    auto rest = read_all(settled);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].text == "{\"d\":4444}");
    CHECK(rest[0].ordinal == 4);
    CHECK(rest[0].line == 7);
    CHECK(settled.hash().hex() == hash_of(mixed));
  }
}

TEST_CASE("resuming from any consumed() position gives the same remaining records and hash",
          "[loader][record_reader][ndjson]") {
  auto options = generated_small_buffers(20);
  temp_file file(mixed);
  record_reader whole(file.fd(), ndjson_format(), {}, {}, file.size(), true, options);
  auto all = read_all(whole);
  REQUIRE(all.size() == 4);

  for (std::size_t stop_after = 0; stop_after <= all.size(); ++stop_after) {
    INFO("stopping after " << stop_after << " records");
    record_reader first(file.fd(), ndjson_format(), {}, {}, file.size(), true, options);
    for (std::size_t record_idx = 0; record_idx < stop_after; ++record_idx) {
      REQUIRE(first.next().has_value());
    }
    CHECK(first.hash().hex() == hash_of(mixed.substr(0, first.consumed().bytes)));
    record_reader second(file.fd(), ndjson_format(), first.consumed(), first.hash(), file.size(),
                         true, options);
    auto rest = read_all(second);
    REQUIRE(rest.size() == all.size() - stop_after);
    for (std::size_t record_idx = 0; record_idx < rest.size(); ++record_idx) {
      const auto& want = all[stop_after + record_idx];
      CHECK(rest[record_idx].text == want.text);
      CHECK(rest[record_idx].offset == want.offset);
      CHECK(rest[record_idx].line == want.line);
      CHECK(rest[record_idx].ordinal == want.ordinal);
    }
    CHECK(second.consumed().bytes == whole.consumed().bytes);
    CHECK(second.consumed().lines == whole.consumed().lines);
    CHECK(second.consumed().records == whole.consumed().records);
    CHECK(second.hash().hex() == whole.hash().hex());
  }
}

TEST_CASE("an empty file or one of only blank lines has no records and hashes what it consumed",
          "[loader][record_reader][ndjson]") {
  auto content = GENERATE(std::string(), std::string("\n\n  \n\r\n"));
  temp_file file(content);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), true, small_buffers(16, 64));
  CHECK_FALSE(reader.next().has_value());
  CHECK(reader.consumed().bytes == content.size());
  CHECK(reader.consumed().records == 0);
  CHECK(reader.consumed().lines == static_cast<std::uint64_t>(std::count(content.begin(), content.end(), '\n')));
  CHECK(reader.hash().hex() == hash_of(content));
}

TEST_CASE("a line longer than max_record_bytes comes back too_long with its head and real size, and the next line is read normally",
          "[loader][record_reader][ndjson][too_long]") {
  auto initial = GENERATE(as<std::size_t>{}, 16, 64, 4096);
  auto max = GENERATE(as<std::size_t>{}, 32, 50);
  constexpr std::size_t keep = 10;
  INFO("initial_buffer_bytes " << initial << ", max_record_bytes " << max);
  std::string long_line;
  for (int digit_idx = 0; digit_idx < 300; ++digit_idx) long_line += static_cast<char>('0' + digit_idx % 10);
  const std::string content = "{\"a\":1}\n\n" + long_line + "\n{\"b\":2}\n";
  temp_file file(content);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), true,
                       small_buffers(initial, max, keep));
  auto got = read_all(reader);
  REQUIRE(got.size() == 3);
  CHECK(got[0].text == "{\"a\":1}");
  CHECK(got[1].defect == flaw::too_long);
  CHECK(got[1].text == long_line.substr(0, keep));
  CHECK(got[1].size == long_line.size());
  CHECK(got[1].offset == 9);
  CHECK(got[1].line == 3);
  CHECK(got[1].ordinal == 2);
  CHECK(got[2].text == "{\"b\":2}");
  CHECK(got[2].defect == flaw::none);
  CHECK(got[2].offset == content.find("{\"b\""));
  CHECK(got[2].line == 4);
  CHECK(got[2].ordinal == 3);
  CHECK(reader.consumed().bytes == content.size());
  CHECK(reader.consumed().lines == 4);
  CHECK(reader.hash().hex() == hash_of(content));
}

TEST_CASE("a line of exactly max_record_bytes is a normal record, one byte more is too_long",
          "[loader][record_reader][ndjson][too_long]") {
  auto initial = GENERATE(as<std::size_t>{}, 16, 64, 4096);
  constexpr std::size_t max = 40;
  const std::string fits(max, 'f');
  const std::string over(max + 1, 'o');
  const std::string content = fits + "\n" + over + "\n" + fits;
  temp_file file(content);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), true,
                       small_buffers(initial, max, 4));
  auto got = read_all(reader);
  REQUIRE(got.size() == 3);
  CHECK(got[0].defect == flaw::none);
  CHECK(got[0].text == fits);
  CHECK(got[1].defect == flaw::too_long);
  CHECK(got[1].size == max + 1);
  CHECK(got[1].text == "oooo");
  CHECK(got[2].defect == flaw::none);
  CHECK(got[2].text == fits);
  CHECK(got[2].line == 3);
  CHECK(reader.hash().hex() == hash_of(content));
}

TEST_CASE("an over-long last line is held back until final, then returned too_long",
          "[loader][record_reader][ndjson][too_long]") {
  auto initial = GENERATE(as<std::size_t>{}, 16, 64);
  const std::string long_line(500, 'z');
  const std::string content = "{\"a\":1}\n" + long_line;
  temp_file file(content);
  auto options = small_buffers(initial, 32, 8);

  record_reader growing(file.fd(), ndjson_format(), {}, {}, file.size(), false, options);
  auto got = read_all(growing);
  REQUIRE(got.size() == 1);
  CHECK(growing.consumed().bytes == 8);
  CHECK(growing.hash().hex() == hash_of(content.substr(0, 8)));
  CHECK_FALSE(growing.next().has_value());  // asking again is harmless
  CHECK(growing.consumed().bytes == 8);

  record_reader settled(file.fd(), ndjson_format(), growing.consumed(), growing.hash(),
                        file.size(), true, options);
  auto rest = read_all(settled);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].defect == flaw::too_long);
  CHECK(rest[0].size == 500);
  CHECK(rest[0].text == std::string(8, 'z'));
  CHECK(rest[0].offset == 8);
  CHECK(rest[0].line == 2);
  CHECK(rest[0].ordinal == 2);
  CHECK(settled.consumed().bytes == content.size());
  CHECK(settled.hash().hex() == hash_of(content));
}

TEST_CASE("a 1 MB valid line is returned whole", "[loader][record_reader][ndjson]") {
  auto options = GENERATE(reader_options{}, small_buffers(16, 2 << 20), small_buffers(4096, 1 << 20));
  std::string big = "{\"blob\":\"";
  big.append((1 << 20) - big.size() - 2, 'b');
  big += "\"}";
  REQUIRE(big.size() == (1u << 20));
  const std::string content = "{\"a\":1}\n" + big + "\n{\"c\":3}\n";
  temp_file file(content);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), true, options);
  auto got = read_all(reader);
  REQUIRE(got.size() == 3);
  CHECK(got[1].defect == flaw::none);
  CHECK(got[1].size == big.size());
  CHECK(got[1].text == big);
  CHECK(got[1].offset == 8);
  CHECK(got[2].text == "{\"c\":3}");
  CHECK(got[2].line == 3);
  CHECK(reader.hash().hex() == hash_of(content));
}

TEST_CASE("record views are followed by at least `padding` readable bytes",
          "[loader][record_reader][ndjson]") {
  auto options = generated_small_buffers(20);
  temp_file file(mixed);
  record_reader reader(file.fd(), ndjson_format(), {}, {}, file.size(), true, options);
  while (auto rec = reader.next()) {
    // Under ASan, reading past the buffer would fail here.
    volatile char sink = 0;
    for (std::size_t pad_idx = 0; pad_idx < options.padding; ++pad_idx) {
      sink = static_cast<char>(sink ^ rec->text.data()[rec->text.size() + pad_idx]);
    }
    (void)sink;
  }
}

TEST_CASE("the reader never reads past its limit", "[loader][record_reader][ndjson][limit]") {
  auto initial = GENERATE(as<std::size_t>{}, 16, 4096);
  const std::string content = "aaa\nbbbbbb\nccc\n";
  temp_file file(content);
  const std::uint64_t limit = 7;  // inside "bbbbbb"
  auto options = small_buffers(initial, 100);

  SECTION("when not final, the cut line is held back") {
    record_reader reader(file.fd(), ndjson_format(), {}, {}, limit, false, options);
    auto got = read_all(reader);
    REQUIRE(got.size() == 1);
    CHECK(got[0].text == "aaa");
    CHECK(reader.consumed().bytes == 4);
  }
  SECTION("when final, the bytes up to the limit are the last line") {
    record_reader reader(file.fd(), ndjson_format(), {}, {}, limit, true, options);
    auto got = read_all(reader);
    REQUIRE(got.size() == 2);
    CHECK(got[1].text == "bbb");
    CHECK(got[1].size == 3);
    CHECK(reader.consumed().bytes == limit);
    CHECK(reader.hash().hex() == hash_of(content.substr(0, limit)));
  }
  SECTION("a limit on a line boundary ends exactly there") {
    record_reader reader(file.fd(), ndjson_format(), {}, {}, 11, false, options);
    auto got = read_all(reader);
    REQUIRE(got.size() == 2);
    CHECK(got[1].text == "bbbbbb");
    CHECK(reader.consumed().bytes == 11);
  }
}

TEST_CASE("a file shorter than its limit (it shrank) is read to its end without error",
          "[loader][record_reader][ndjson][limit]") {
  auto initial = GENERATE(as<std::size_t>{}, 16, 4096);
  const std::string content = "{\"a\":1}\n{\"b\":2}\n{\"c\":3}";
  temp_file file(content);
  auto options = small_buffers(initial, 100);
  const std::uint64_t stale_limit = 1000;

  SECTION("final: every record, the last one without its newline") {
    record_reader reader(file.fd(), ndjson_format(), {}, {}, stale_limit, true, options);
    auto got = read_all(reader);
    REQUIRE(got.size() == 3);
    CHECK(got[2].text == "{\"c\":3}");
    CHECK(reader.consumed().bytes == content.size());
    CHECK(reader.hash().hex() == hash_of(content));
  }
  SECTION("not final: the unterminated last line is held back") {
    record_reader reader(file.fd(), ndjson_format(), {}, {}, stale_limit, false, options);
    auto got = read_all(reader);
    REQUIRE(got.size() == 2);
    CHECK(reader.consumed().bytes == 16);
  }
  SECTION("truncated while being read: every record is bytes the file held") {
    record_reader reader(file.fd(), ndjson_format(), {}, {}, content.size(), true,
                         small_buffers(16, 100));
    auto first = reader.next();
    REQUIRE(first.has_value());
    CHECK(first->text == "{\"a\":1}");
    file.truncate(12);
    std::vector<owned_record> rest = read_all(reader);
    CHECK(reader.consumed().bytes <= content.size());
    for (const auto& rec : rest) {
      CHECK(rec.offset + rec.size <= content.size());
      CHECK(content.substr(rec.offset, rec.text.size()) == rec.text);
    }
  }
}

// Byte sources: a plain file, and the content of gzip files whole, growing,
// concatenated, truncated and corrupt; reads behind the front (history) and far
// behind it (inflated again).
#include <catch2/catch.hpp>
#include "loader/bytes/byte_source.h"
#include "loader/formats/record_reader.h"
#include "loader/formats/ndjson/ndjson_format.h"

#include <random>
#include <string>

#include "support/temp_file.h"

using namespace sluice::loader;
using namespace sluice::testing;

namespace {

std::string lines(std::size_t count, std::size_t seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::string out;
  for (std::size_t line_idx = 0; line_idx < count; ++line_idx) {
    out += "{\"n\":" + std::to_string(line_idx) + ",\"r\":" + std::to_string(rng()) + "}\n";
  }
  return out;
}

// Everything the source yields from `from`, read in `chunk`-byte reads.
std::string drain(byte_source& source, std::uint64_t from = 0, std::size_t chunk = 1000) {
  std::string out;
  std::string buffer(chunk, '\0');
  while (auto n = source.read(buffer.data(), buffer.size(), from + out.size())) out.append(buffer, 0, n);
  return out;
}

}  // namespace

TEST_CASE("a gzip file's content is what was compressed, and its end is clean", "[loader][byte_source][gzip]") {
  auto content = lines(5000, 1);
  temp_file file(gzip_of(content));
  auto chunk = GENERATE(as<std::size_t>{}, 1, 777, 1 << 16);
  auto source = make_gzip_source(file.fd(), file.size());
  CHECK(drain(*source, 0, chunk) == content);
  CHECK(source->state() == source_state::readable);
  CHECK(source->compressed());
}

TEST_CASE("concatenated gzip members are one content, in order", "[loader][byte_source][gzip]") {
  auto a = lines(300, 2);
  auto b = lines(200, 3);
  auto c = std::string("last line without newline");
  temp_file file(gzip_of(a) + gzip_of(b, 1) + gzip_of(c, 9));
  auto source = make_gzip_source(file.fd(), file.size());
  CHECK(drain(*source) == a + b + c);
  CHECK(source->state() == source_state::readable);
}

TEST_CASE("a gzip file still being written gives what is complete and is cut, not broken",
          "[loader][byte_source][gzip]") {
  auto content = lines(20000, 4);
  auto compressed = gzip_of(content);
  temp_file file;
  auto source = make_gzip_source(file.fd(), 0);
  std::string seen;
  // Grow it in uneven steps; the source keeps inflating where it was.
  for (std::size_t written = 0; written < compressed.size();) {
    auto step = std::min<std::size_t>(compressed.size() - written, 3001 + written % 977);
    file.append(std::string_view(compressed).substr(written, step));
    written += step;
    source->set_limit(written);
    seen += drain(*source, seen.size());
    CHECK(content.compare(0, seen.size(), seen) == 0);  // always a prefix of the content
    if (written < compressed.size()) {
      CHECK(source->state() == source_state::cut);
      CHECK(source->problem().find("truncated or still being written") != std::string::npos);
    }
  }
  CHECK(seen == content);
  CHECK(source->state() == source_state::readable);
}

TEST_CASE("corrupt gzip data breaks the source after the content before it", "[loader][byte_source][gzip]") {
  auto good = lines(2000, 5);
  auto second = gzip_of(lines(2000, 6));
  SECTION("garbage in the middle of a member") {
    second[second.size() / 2] = static_cast<char>(second[second.size() / 2] ^ 0x55);
    second[second.size() / 2 + 1] = static_cast<char>(second[second.size() / 2 + 1] ^ 0xaa);
    temp_file file(gzip_of(good) + second);
    auto source = make_gzip_source(file.fd(), file.size());
    auto got = drain(*source);
    CHECK(got.compare(0, good.size(), good) == 0);
    CHECK(source->state() == source_state::broken);
    CHECK(source->problem().find("corrupt") != std::string::npos);
  }
  SECTION("bytes after a member that are not gzip") {
    temp_file file(gzip_of(good) + "this is not gzip\n");
    auto source = make_gzip_source(file.fd(), file.size());
    CHECK(drain(*source) == good);
    CHECK(source->state() == source_state::broken);
    CHECK(source->problem().find("not gzip data from byte") != std::string::npos);
  }
  SECTION("a file that is not gzip at all") {
    temp_file file("{\"plain\":true}\n");
    auto source = make_gzip_source(file.fd(), file.size());
    CHECK(drain(*source).empty());
    CHECK(source->state() == source_state::broken);
    CHECK(source->problem().find("not gzip data") != std::string::npos);
  }
}

TEST_CASE("after an integrity check, nothing of a member that fails its CRC is given out",
          "[loader][byte_source][gzip]") {
  auto first = lines(3000, 9);
  auto second = gzip_of(lines(3000, 10));
  // Bytes of the deflate data changed: often inflates without error, to garbage,
  // and only the CRC at the member's end tells.
  for (std::size_t at = second.size() / 2; at < second.size() / 2 + 32; ++at) {
    second[at] = static_cast<char>(second[at] ^ 0x21);
  }
  temp_file file(gzip_of(first) + second);
  auto unchecked = make_gzip_source(file.fd(), file.size());
  auto streamed = drain(*unchecked);
  CHECK(streamed.size() > first.size());  // garbage came out before the damage was found
  auto checked = make_gzip_source(file.fd(), file.size());
  CHECK(checked->check_integrity() == first.size() + 1);
  // The lost member stands as one line feed (byte_source.h).
  CHECK(drain(*checked) == first + "\n");
  CHECK(checked->state() == source_state::readable);
  auto lost = checked->lost_from(0);
  REQUIRE(lost);
  CHECK(lost->at == first.size());
  CHECK(lost->first_member == 2);
  CHECK(lost->to == file.size());
  CHECK(lost->describe().find("gzip member 2") != std::string::npos);
  CHECK(lost->describe().find("nothing of it was loaded") != std::string::npos);
  // An intact file is untouched by the check.
  temp_file intact(gzip_of(first) + gzip_of(first));
  auto fine = make_gzip_source(intact.fd(), intact.size());
  fine->check_integrity();
  CHECK(drain(*fine) == first + first);
  CHECK(fine->state() == source_state::readable);
}

TEST_CASE("reads behind the front come from history, further back by inflating again",
          "[loader][byte_source][gzip]") {
  auto content = lines(50000, 7);
  temp_file file(gzip_of(content));
  auto source = make_gzip_source(file.fd(), file.size(), 4096);
  CHECK(drain(*source, 0, 65536) == content);
  for (std::uint64_t from : {content.size() - 100, content.size() - 4096, std::uint64_t{0}, std::uint64_t{12345},
                             content.size() / 2}) {
    INFO("from " << from);
    CHECK(read_content(*source, from, from + 100) == content.substr(from, 100));
  }
}

TEST_CASE("a gzip stream cut anywhere gives the same content whatever the read sizes",
          "[loader][byte_source][gzip]") {
  // zlib may still owe output for input it has taken (a long back-reference):
  // when the file ends there, small reads must get it too (fuzz_csv found a
  // cut member whose last 84 bytes a 64-byte read never got).
  auto content = std::string(20000, 'a') + lines(50, 11) + std::string(5000, 'b');
  auto compressed = gzip_of(content);
  temp_file file(compressed);
  for (std::uint64_t cut = 10; cut <= compressed.size(); ++cut) {
    INFO("cut at byte " << cut << " of " << compressed.size());
    auto whole = make_gzip_source(file.fd(), cut);
    auto expected = drain(*whole, 0, 1 << 16);
    auto small = make_gzip_source(file.fd(), cut, 64);
    auto in_small_reads = drain(*small, 0, 7);
    INFO("content " << expected.size() << " bytes; in 7-byte reads " << in_small_reads.size());
    CHECK((in_small_reads == expected));  // (not decomposed: the strings are long)
    CHECK(small->state() == whole->state());
    auto from = expected.size() / 2;
    auto restarted = make_gzip_source(file.fd(), cut, 64);
    CHECK((read_content(*restarted, from, expected.size()) == expected.substr(from)));
  }
}

TEST_CASE("a plain source reads up to its limit, and the limit can grow", "[loader][byte_source]") {
  temp_file file("abcdef");
  auto source = make_plain_source(file.fd(), 3);
  CHECK(drain(*source) == "abc");
  source->set_limit(6);
  CHECK(drain(*source, 3) == "def");
  CHECK_FALSE(source->compressed());
  CHECK(is_gzip_path("sales/2024.csv.gz"));
  CHECK_FALSE(is_gzip_path("sales/2024.csv"));
}

TEST_CASE("a record reader over a gzip file holds back a cut line, and ends a broken one with an unreadable rest",
          "[loader][byte_source][gzip][record_reader]") {
  auto content = lines(100, 8);
  auto compressed = gzip_of(content);
  SECTION("cut, not final (still being written): the records before the cut, none half") {
    temp_file file(compressed.substr(0, compressed.size() / 2));
    auto source = make_gzip_source(file.fd(), file.size());
    record_reader reader(*source, ndjson_format(), {}, {}, false);
    auto got = read_all(reader);
    REQUIRE_FALSE(got.empty());
    for (const auto& r : got) CHECK(r.defect == flaw::none);
    CHECK(content[reader.consumed().bytes - 1] == '\n');
    CHECK(reader.consumed().records == got.size());
    CHECK_FALSE(reader.exhausted());
  }
  SECTION("cut and final (a truncated file in --once): one unreadable rest") {
    temp_file file(compressed.substr(0, compressed.size() / 2));
    auto source = make_gzip_source(file.fd(), file.size());
    record_reader reader(*source, ndjson_format(), {}, {}, true);
    auto got = read_all(reader);
    REQUIRE_FALSE(got.empty());
    CHECK(got.back().defect == flaw::unreadable);
    CHECK(reader.source_problem().find("truncated") != std::string::npos);
    CHECK(reader.exhausted());
  }
  SECTION("whole: every record, the last one without its newline too") {
    temp_file file(gzip_of(content + "{\"tail\":1}"));
    auto source = make_gzip_source(file.fd(), file.size());
    record_reader reader(*source, ndjson_format(), {}, {}, true);
    auto got = read_all(reader);
    REQUIRE(got.size() == 101);
    CHECK(got.back().text == "{\"tail\":1}");
    CHECK(reader.consumed().bytes == content.size() + 10);
    CHECK(reader.hash().hex() == hash_of(content + "{\"tail\":1}"));
  }
}

TEST_CASE("a checked gzip source gives nothing of a member whose CRC or deflate data is damaged, and reads the members after it",
          "[loader][byte_source][gzip]") {
  auto a = lines(3000, 11);
  auto b = lines(3000, 12);
  auto c = lines(3000, 13);
  auto second = gzip_of(b);
  bool crc = GENERATE(true, false);
  INFO((crc ? "CRC flipped" : "deflate data flipped"));
  if (crc) {
    second[second.size() - 8] = static_cast<char>(second[second.size() - 8] ^ 0xff);
  } else {
    for (std::size_t at = second.size() / 2; at < second.size() / 2 + 4; ++at) second[at] = static_cast<char>(second[at] ^ 0x5a);
  }
  temp_file file(gzip_of(a) + second + gzip_of(c));
  // The lost member stands as one line feed (byte_source.h).
  auto expected = a + "\n" + c;
  auto chunk = GENERATE(as<std::size_t>{}, 1, 777, 1 << 16);
  auto checked = make_gzip_source(file.fd(), file.size());
  checked->check_integrity();
  CHECK(drain(*checked, 0, chunk) == expected);
  CHECK(checked->state() == source_state::readable);
  // A restart (a new source, checked, inflating up to its offset; a small
  // history, so reading back inflates again) lands on the same bytes.
  auto restarted = make_gzip_source(file.fd(), file.size(), 4096);
  restarted->check_integrity();
  for (std::uint64_t from : {std::uint64_t{a.size() + 1 + 100}, std::uint64_t{a.size() - 50}, std::uint64_t{0},
                             std::uint64_t{expected.size() - 10}}) {
    INFO("from " << from);
    CHECK(read_content(*restarted, from, from + 200) == expected.substr(from, 200));
  }
}

TEST_CASE("a record cut by a lost gzip member is a reject, never glued to the record after it",
          "[loader][byte_source][gzip][record_reader]") {
  auto a = lines(2000, 14);
  auto c = lines(2000, 15);
  // The second member finishes a line the first one began; it is damaged.
  auto second = gzip_of("1}\n" + lines(2000, 16));
  second[second.size() - 8] = static_cast<char>(second[second.size() - 8] ^ 0xff);
  temp_file file(gzip_of(a + "{\"cut\":") + second + gzip_of("{\"after\":1}\n" + c));
  auto source = make_gzip_source(file.fd(), file.size());
  source->check_integrity();
  auto buffer = GENERATE(as<std::size_t>{}, 64, 4096, 1 << 20);
  record_reader reader(*source, ndjson_format(), {}, {}, true, small_buffers(buffer, 1 << 20));
  auto got = read_all(reader);
  REQUIRE(got.size() == 2000 + 1 + 1 + 2000);
  for (std::size_t i = 0; i < 2000; ++i) CHECK(got[i].defect == flaw::none);
  CHECK(got[2000].defect != flaw::none);
  CHECK(got[2000].text == "{\"cut\":");
  CHECK(got[2001].defect == flaw::none);
  CHECK(got[2001].text == "{\"after\":1}");
  CHECK(got[2001].offset == a.size() + 7 + 1);
  CHECK(got.back().defect == flaw::none);
  auto content = a + "{\"cut\":" + "\n" + "{\"after\":1}\n" + c;
  CHECK(reader.consumed().bytes == content.size());
  CHECK(reader.hash().hex() == hash_of(content));
  CHECK(reader.exhausted());
}

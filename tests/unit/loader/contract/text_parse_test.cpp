// Scalars written as text: integers, floats, booleans, uuid, time of day, interval.
#include <catch2/catch.hpp>
#include "loader/contract/text_parse.h"

#include <limits>

using namespace sluice::loader;

TEST_CASE("integers are read within their column type's range", "[loader][text_parse]") {
  CHECK(parse_integer(" 42 ", -100, 100).value() == 42);
  CHECK(parse_integer("+7", -100, 100).value() == 7);
  CHECK(parse_integer("-3", -100, 100).value() == -3);
  CHECK_FALSE(parse_integer("101", -100, 100).ok());
  CHECK_FALSE(parse_integer("9223372036854775808", std::numeric_limits<std::int64_t>::min(),
                            std::numeric_limits<std::int64_t>::max())
                  .ok());
  CHECK_FALSE(parse_integer("4.0", -100, 100).ok());
  CHECK_FALSE(parse_integer("", -100, 100).ok());
  CHECK_FALSE(parse_integer("12abc", -100, 100).ok());
}

TEST_CASE("floats accept decimal and exponent forms, NaN and Infinity, and real's range", "[loader][text_parse]") {
  CHECK(parse_float("3.25", false).value() == 3.25);
  CHECK(parse_float("-1e-3", false).value() == -1e-3);
  CHECK(parse_float("Infinity", false).value() == std::numeric_limits<double>::infinity());
  CHECK(parse_float("nan", false).ok());
  CHECK_FALSE(parse_float("1e39", true).ok());
  CHECK(parse_float("1e39", false).ok());
  CHECK_FALSE(parse_float("1e400", false).ok());
  CHECK_FALSE(parse_float("3,25", false).ok());
}

TEST_CASE("booleans are the feed's words, any case", "[loader][text_parse]") {
  std::vector<std::string> yes{"true", "t", "1", "yes", "y"};
  std::vector<std::string> no{"false", "f", "0", "no", "n"};
  for (const char* word : {"true", "TRUE", "t", "1", "Yes", " y "}) CHECK(parse_boolean(word, yes, no).value());
  for (const char* word : {"false", "F", "0", "no", "N"}) CHECK_FALSE(parse_boolean(word, yes, no).value());
  CHECK_FALSE(parse_boolean("maybe", yes, no).ok());
  CHECK_FALSE(parse_boolean("", yes, no).ok());
}

TEST_CASE("uuids are read in PostgreSQL's accepted spellings", "[loader][text_parse]") {
  std::array<unsigned char, 16> want{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                                     0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
  for (const char* text : {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                           "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
                           "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"}) {
    INFO(text);
    auto got = parse_uuid(text);
    REQUIRE(got.ok());
    CHECK(got.value() == want);
  }
  for (const char* bad : {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
                          "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", ""}) {
    INFO(bad);
    CHECK_FALSE(parse_uuid(bad).ok());
  }
}

TEST_CASE("times of day and intervals", "[loader][text_parse]") {
  CHECK(parse_time_of_day("13:45").value() == (13 * 3600 + 45 * 60) * 1'000'000LL);
  CHECK(parse_time_of_day("00:00:01.5").value() == 1'500'000);
  CHECK(parse_time_of_day("24:00:00").value() == 86'400'000'000LL);
  CHECK_FALSE(parse_time_of_day("24:00:01").ok());
  CHECK_FALSE(parse_time_of_day("12:60").ok());
  CHECK_FALSE(parse_time_of_day("noon").ok());

  auto iso = parse_interval("P1Y2M3DT4H5M6.5S");
  REQUIRE(iso.ok());
  CHECK(iso.value().months == 14);
  CHECK(iso.value().days == 3);
  CHECK(iso.value().micros == ((4 * 60 + 5) * 60 + 6) * 1'000'000LL + 500'000);
  auto words = parse_interval("1 year 2 mons 3 days 04:05:06");
  REQUIRE(words.ok());
  CHECK(words.value().months == 14);
  CHECK(words.value().days == 3);
  CHECK(words.value().micros == ((4 * 60 + 5) * 60 + 6) * 1'000'000LL);
  CHECK(parse_interval("-2 days").value().days == -2);
  CHECK(parse_interval("90 min").value().micros == 90 * 60 * 1'000'000LL);
  CHECK(parse_interval("P2W").value().days == 14);
  CHECK_FALSE(parse_interval("1.5 days").ok());
  CHECK_FALSE(parse_interval("3 fortnights").ok());
  CHECK_FALSE(parse_interval("P").ok());
}

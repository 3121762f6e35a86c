// Date and timestamp formats from feed declarations, and NULL strings.
#include <catch2/catch.hpp>
#include "loader/contract/value_formats.h"

using namespace sluice::loader;

namespace {
datetime_format compiled(const char* pattern, bool with_time) {
  auto f = datetime_format::compile(pattern, with_time);
  INFO(pattern << ": " << (f ? std::string() : f.error()));
  REQUIRE(f.ok());
  return f.value();
}
}  // namespace

TEST_CASE("every declared date format reads its dates and refuses impossible ones", "[loader][value_formats]") {
  struct example {
    const char* format;
    const char* text;
    int y, m, d;
  };
  for (auto e : {example{"YYYY-MM-DD", "2024-02-29", 2024, 2, 29}, example{"YYYY/MM/DD", "2024/02/28", 2024, 2, 28},
                 example{"DD.MM.YYYY", "05.03.2024", 2024, 3, 5}, example{"DD/MM/YYYY", "5/3/2024", 2024, 3, 5},
                 example{"MM/DD/YYYY", "12/31/1999", 1999, 12, 31}, example{"YYYYMMDD", "20240105", 2024, 1, 5}}) {
    INFO(e.format << " " << e.text);
    auto got = compiled(e.format, false).parse(e.text);
    REQUIRE(got.ok());
    CHECK(got.value().year == e.y);
    CHECK(got.value().month == e.m);
    CHECK(got.value().day == e.d);
  }
  auto iso = compiled("YYYY-MM-DD", false);
  CHECK(std::string(iso.parse("2024-13-45").error()) == "month is not between 01 and 12");
  CHECK(std::string(iso.parse("2023-02-29").error()) == "no such day in that month");
  CHECK_FALSE(iso.parse("2024/02/28").ok());
  CHECK_FALSE(iso.parse("2024-02-28x").ok());
  CHECK_FALSE(compiled("YYYYMMDD", false).parse("202401").ok());
}

TEST_CASE("timestamp formats read fractions and offsets", "[loader][value_formats]") {
  auto f = compiled("DD.MM.YYYY HH24:MI:SS.FF", true);
  auto got = f.parse("05.03.2024 07:08:09.25");
  REQUIRE(got.ok());
  CHECK(got.value().hour == 7);
  CHECK(got.value().second == 9);
  CHECK(got.value().micros == 250'000);
  CHECK_FALSE(got.value().has_offset);
  auto with_zone = compiled("YYYY-MM-DD HH24:MITZ", true).parse("2024-03-05 07:08+05:30");
  REQUIRE(with_zone.ok());
  CHECK(with_zone.value().has_offset);
  CHECK(with_zone.value().offset_seconds == 5 * 3600 + 1800);
  CHECK_FALSE(f.parse("05.03.2024 24:08:09.25").ok());
}

TEST_CASE("formats that cannot work are refused when the feed is read", "[loader][value_formats]") {
  CHECK_FALSE(datetime_format::compile("MM/DD", false).ok());
  CHECK_FALSE(datetime_format::compile("YYYY-MM-DD HH24", false).ok());
  CHECK_FALSE(datetime_format::compile("YYYY-MM-DD", true).ok());
  CHECK_FALSE(datetime_format::compile("YYYY-MM-DD-DD", false).ok());
}

TEST_CASE("null strings are compared after trimming", "[loader][value_formats]") {
  value_formats f;
  f.null_strings = {"", "None", "N/A"};
  CHECK(f.is_null(""));
  CHECK(f.is_null("   "));
  CHECK(f.is_null(" None "));
  CHECK(f.is_null("N/A"));
  CHECK_FALSE(f.is_null("none"));
  CHECK_FALSE(f.is_null("0"));
  value_formats none;
  CHECK_FALSE(none.is_null(""));
}

// parse_numeric: exact decimal text to PostgreSQL's binary numeric, with
// numeric(p,s)'s rounding and precision rule.
#include <catch2/catch.hpp>
#include "loader/contract/numeric.h"

#include <string>
#include <vector>

using namespace sluice::loader;

namespace {

std::string read_back(std::string_view text, int precision = numeric_unconstrained, int scale = 0) {
  numeric_value value;
  auto parsed = parse_numeric(text, precision, scale, value);
  INFO("text " << text);
  REQUIRE(parsed.ok());
  return numeric_text(value);
}

const char* refusal(std::string_view text, int precision = numeric_unconstrained, int scale = 0) {
  numeric_value value;
  auto parsed = parse_numeric(text, precision, scale, value);
  INFO("text " << text);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

}  // namespace

TEST_CASE("decimal values land exactly, with the scale they were written with", "[loader][numeric]") {
  CHECK(read_back("0.30000000000000004") == "0.30000000000000004");  // what 0.1 + 0.2 is in a double
  CHECK(read_back("0.1") == "0.1");
  CHECK(read_back("12.50") == "12.50");
  CHECK(read_back("-12.50") == "-12.50");
  CHECK(read_back("123456789012345678901234567890.123456789") == "123456789012345678901234567890.123456789");
  CHECK(read_back("  42 ") == "42");
  CHECK(read_back("+7") == "7");
  CHECK(read_back(".5") == "0.5");
  CHECK(read_back("5.") == "5");
  CHECK(read_back("1.5e3") == "1500");
  CHECK(read_back("1.5E-3") == "0.0015");
  CHECK(read_back("-0") == "0");
  CHECK(read_back("0.000") == "0.000");
  CHECK(read_back("NaN") == "NaN");
  CHECK(read_back("-Infinity") == "-Infinity");
}

TEST_CASE("the binary form has base-10000 digits, the weight of the first, and the display scale",
          "[loader][numeric]") {
  numeric_value value;
  REQUIRE(parse_numeric("12345.678", numeric_unconstrained, 0, value).ok());
  CHECK(value.weight == 1);
  CHECK(value.digits == std::vector<std::int16_t>{1, 2345, 6780});
  CHECK(value.dscale == 3);
  CHECK(value.sign == numeric_value::positive);

  REQUIRE(parse_numeric("-0.00012", numeric_unconstrained, 0, value).ok());
  CHECK(value.weight == -1);
  CHECK(value.digits == std::vector<std::int16_t>{1, 2000});
  CHECK(value.dscale == 5);
  CHECK(value.sign == numeric_value::negative);

  REQUIRE(parse_numeric("10000", numeric_unconstrained, 0, value).ok());
  CHECK(value.weight == 1);
  CHECK(value.digits == std::vector<std::int16_t>{1});  // trailing zero groups are implied

  REQUIRE(parse_numeric("0", numeric_unconstrained, 0, value).ok());
  CHECK(value.digits.empty());
  CHECK(value.weight == 0);
}

TEST_CASE("numeric(p,s) rounds to s places half away from zero, then refuses more than p - s digits before the point",
          "[loader][numeric]") {
  CHECK(read_back("1.005", 5, 2) == "1.01");
  CHECK(read_back("-1.005", 5, 2) == "-1.01");
  CHECK(read_back("1.004", 5, 2) == "1.00");
  CHECK(read_back("999.994", 5, 2) == "999.99");
  CHECK(read_back("0.004", 5, 2) == "0.00");
  CHECK(read_back("-0.004", 5, 2) == "0.00");
  CHECK(read_back("12", 5, 2) == "12.00");
  CHECK(read_back("0.5", 3, 0) == "1");
  CHECK(read_back("0.0000001", 5, 2) == "0.00");
  CHECK(read_back("1234", 4, -2) == "1200");  // PostgreSQL 15: a negative scale rounds left of the point

  CHECK(std::string(refusal("1234.5", 5, 2)).find("too many digits before the decimal point") != std::string::npos);
  CHECK(std::string(refusal("999.995", 5, 2)).find("too many digits") != std::string::npos);  // rounds to 1000.00
  CHECK(std::string(refusal("Infinity", 5, 2)).find("infinity") != std::string::npos);
  CHECK(read_back("NaN", 5, 2) == "NaN");
}

TEST_CASE("text that is not a decimal number is refused with what was expected", "[loader][numeric]") {
  for (const char* bad : {"100USD", "", "  ", "1,234.50", "$12", "1e", "--1", "1.2.3", "0x10", "1e1001", "e5", "."}) {
    INFO("text '" << bad << "'");
    auto why = std::string(refusal(bad));
    CHECK_FALSE(why.empty());
  }
  CHECK(std::string(refusal("100USD")).find("expected digits") != std::string::npos);
}

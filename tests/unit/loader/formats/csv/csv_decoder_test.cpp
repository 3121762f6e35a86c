// CSV rows against a hand-built feed plan (no database): header binding in any
// order, the file-level reject of a missing header column, ragged rows, values
// that do not parse, NULL strings, value formats and exact numerics.
#include <catch2/catch.hpp>
#include "loader/pipeline/copy_encoder.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "support/decoder_plans.h"

#include <optional>
#include <string>
#include <vector>

using namespace sluice::loader;
using sluice::testing::big_endian;
using sluice::testing::copy_body;
using sluice::testing::generated_column;
using sluice::testing::padded_record;

namespace {

std::shared_ptr<const value_formats> sales_formats() {
  auto f = std::make_shared<value_formats>(default_value_formats());
  f->null_strings = {"", "None"};
  f->date_formats.push_back(datetime_format::compile("YYYY/MM/DD", false).value());
  f->zone = time_zone::locate("Europe/Oslo").value();
  return f;
}

column_plan from_header(std::string name, std::string type_name, column_type type, bool not_null, std::string header) {
  column_plan column;
  column.name = std::move(name);
  column.type_name = std::move(type_name);
  column.type = type;
  column.not_null = not_null;
  column.source = column_source::csv_header;
  column.csv_header = std::move(header);
  column.formats = sales_formats();
  return column;
}

feed_plan sales_feed() {
  feed_plan feed;
  feed.name = "sales";
  feed.format = "csv";
  target_plan t;
  t.table = "staging.sales";
  auto price = from_header("price", "numeric(10,2)", column_type::numeric, false, "Price");
  price.numeric_precision = 10;
  price.numeric_scale = 2;
  auto small = from_header("small", "numeric(5,2)", column_type::numeric, false, "Small");
  small.numeric_precision = 5;
  small.numeric_scale = 2;
  t.columns = {generated_column("_file_id", column_source::file_id),
               generated_column("_record", column_source::record_ordinal),
               from_header("sale_id", "integer", column_type::int4, true, "SaleID"),
               price,
               from_header("sold_on", "date", column_type::date, false, "Date"),
               from_header("location", "text", column_type::text, false, "Location"),
               from_header("at", "timestamp with time zone", column_type::timestamptz, false, "At"),
               small};
  feed.targets = {t};
  feed.routes = {{"", 0}};
  return feed;
}


// The fields of the last row an encoder got: nullopt for NULL.
std::vector<std::optional<std::string>> last_row(copy_encoder& encoder) {
  auto offsets = encoder.row_offsets();
  std::string data = encoder.stream_of(offsets, encoder.rows() - 1, encoder.rows());
  std::size_t at = 19;  // after the COPY header
  auto be = [&](std::size_t width) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(data[at + i]);
    at += width;
    return v;
  };
  std::vector<std::optional<std::string>> out;
  auto count = be(2);
  for (std::uint32_t field = 0; field < count; ++field) {
    auto length = be(4);
    if (length == 0xffffffffu) {
      out.emplace_back(std::nullopt);
      continue;
    }
    out.emplace_back(data.substr(at, length));
    at += length;
  }
  return out;
}

struct csv_fixture {
  feed_plan feed = sales_feed();
  record_decoder decoder{feed};
  std::vector<copy_encoder> rows = std::vector<copy_encoder>(1);

  explicit csv_fixture(const std::string& header = "Date,Location,SaleID,Price,At,Small,Extra") {
    CHECK(decoder.bind_header(header_row{header, header.size() + 1}).empty());
  }
  bool decode(std::string_view text, reject_reason& why, flaw defect = flaw::none) {
    padded_record padded(text, 1, defect);
    return decoder.decode(padded.rec, 42, rows, why);
  }
  reject_reason reject(std::string_view text, flaw defect = flaw::none) {
    auto size = rows[0].size();
    reject_reason why;
    INFO("row: " << text);
    CHECK_FALSE(decode(text, why, defect));
    CHECK(rows[0].size() == size);
    CHECK_FALSE(why.reason.empty());
    return why;
  }
};


}  // namespace

TEST_CASE("csv columns are taken by header name in any order, with NULL strings and value formats",
          "[loader][csv_decoder]") {
  csv_fixture fx;
  reject_reason why;
  REQUIRE(fx.decode("2024/02/28, None ,7,12.5,2024-07-01 12:00:00,1.005,x", why));
  auto row = last_row(fx.rows[0]);
  REQUIRE(row.size() == 8);
  CHECK(row[0] == big_endian(42, 8));
  CHECK(row[1] == big_endian(1, 8));
  CHECK(row[2] == big_endian(7, 4));
  // numeric(10,2) 12.5 -> ndigits 2, weight 0, sign +, dscale 2, digits 12, 5000
  CHECK(row[3] == big_endian(2, 2) + big_endian(0, 2) + big_endian(0, 2) + big_endian(2, 2) + big_endian(12, 2) + big_endian(5000, 2));
  // 2024-02-28 is day 8824 since 2000-01-01.
  CHECK(row[4] == big_endian(8824, 4));
  CHECK_FALSE(row[5].has_value());  // " None " means NULL
  // 2024-07-01 12:00 in Oslo (summer, +02:00) is 10:00 UTC.
  std::int64_t micros = ((8948LL * 86400) + 10 * 3600) * 1'000'000;
  CHECK(row[6] == big_endian(static_cast<std::uint64_t>(micros), 8));
  // 1.005 rounds half away from zero to 1.01 in numeric(5,2).
  CHECK(row[7] == big_endian(2, 2) + big_endian(0, 2) + big_endian(0, 2) + big_endian(2, 2) + big_endian(1, 2) + big_endian(100, 2));
}

TEST_CASE("a header without a declared column makes every row of the file a reject naming it",
          "[loader][csv_decoder]") {
  feed_plan feed = sales_feed();
  record_decoder decoder{feed};
  std::vector<copy_encoder> rows(1);
  auto problem = decoder.bind_header(header_row{"Date,Location,SaleID,At,Small", 30});
  CHECK_THAT(problem, Catch::Contains("no column Price"));
  for (int attempt = 0; attempt < 3; ++attempt) {
    padded_record rec("2024-01-01,x,1,2024-01-01T00:00:00Z,1");
    reject_reason why;
    CHECK_FALSE(decoder.decode(rec.rec, 1, rows, why));
    CHECK(why.field == "Price");
    CHECK_THAT(why.reason, Catch::Contains("staging.sales"));
  }
  CHECK(rows[0].rows() == 0);
  // The next file's header binds again.
  CHECK(decoder.bind_header(header_row{"SaleID,Price,Date,Location,At,Small", 40}).empty());
}

TEST_CASE("bad csv rows are rejected with the header name, the value and what was expected",
          "[loader][csv_decoder]") {
  csv_fixture fx;
  SECTION("a price with a unit") {
    auto why = fx.reject("2024-01-01,x,1,100USD,,1,e");
    CHECK(why.field == "Price");
    CHECK_THAT(why.reason, Catch::Contains("\"100USD\""));
    CHECK_THAT(why.reason, Catch::Contains("numeric(10,2)"));
    CHECK_THAT(why.reason, Catch::Contains("expected digits"));
  }
  SECTION("an impossible date") {
    auto why = fx.reject("2024-13-45,x,1,1,,1,e");
    CHECK(why.field == "Date");
    CHECK_THAT(why.reason, Catch::Contains("month is not between 01 and 12"));
    CHECK_THAT(why.reason, Catch::Contains("accepted formats: YYYY-MM-DD, YYYY/MM/DD"));
  }
  SECTION("too many digits for numeric(5,2)") {
    auto why = fx.reject("2024-01-01,x,1,1,,1234.5,e");
    CHECK(why.field == "Small");
    CHECK_THAT(why.reason, Catch::Contains("too many digits before the decimal point"));
  }
  SECTION("NULL in a NOT NULL column") {
    auto why = fx.reject("2024-01-01,x,None,1,,1,e");
    CHECK(why.field == "SaleID");
    CHECK_THAT(why.reason, Catch::Contains("NOT NULL"));
  }
  SECTION("ragged rows") {
    CHECK_THAT(fx.reject("2024-01-01,x,1,1,,1").reason, Catch::Contains("ragged row: 6 fields, but the header has 7"));
    CHECK_THAT(fx.reject("2024-01-01,x,1,1,,1,e,f").reason, Catch::Contains("ragged row: 8 fields"));
  }
  SECTION("an unterminated quote") {
    CHECK_THAT(fx.reject("2024-01-01,\"x,1,1,,1,e", flaw::truncated).reason, Catch::Contains("unterminated quote"));
  }
  SECTION("text after a closing quote") {
    auto why = fx.reject("2024-01-01,\"x\"y,1,1,,1,e");
    CHECK(why.field == "Location");
  }
  SECTION("invalid UTF-8") {
    CHECK_THAT(fx.reject("2024-01-01,\xff\xfe,1,1,,1,e").reason, Catch::Contains("UTF-8"));
  }
  SECTION("an integer that is not one") {
    auto why = fx.reject("2024-01-01,x,1.5,1,,1,e");
    CHECK(why.field == "SaleID");
    CHECK_THAT(why.reason, Catch::Contains("not an integer"));
  }
  SECTION("a naive timestamp in a zone's skipped hour is read with the offset before, an offset is honoured") {
    reject_reason why;
    REQUIRE(fx.decode("2024-01-01,x,1,1,2024-03-31 02:30:00,1,e", why));
    CHECK(last_row(fx.rows[0])[6] == big_endian(static_cast<std::uint64_t>(((8856LL * 86400) + 1 * 3600 + 1800) * 1'000'000), 8));
    REQUIRE(fx.decode("2024-01-01,x,1,1,2024-03-31T02:30:00Z,1,e", why));
    CHECK(last_row(fx.rows[0])[6] == big_endian(static_cast<std::uint64_t>(((8856LL * 86400) + 2 * 3600 + 1800) * 1'000'000), 8));
  }
}

TEST_CASE("a header row too long to read rejects every row of its file", "[loader][csv_decoder]") {
  feed_plan feed = sales_feed();
  record_decoder decoder{feed};
  std::vector<copy_encoder> rows(1);
  auto problem = decoder.bind_header(header_row{"Date,Locat", 99, true});
  CHECK_THAT(problem, Catch::Contains("longer than the limit"));
  padded_record rec("2024-01-01,x,1,1,,1,e");
  reject_reason why;
  CHECK_FALSE(decoder.decode(rec.rec, 1, rows, why));
  CHECK_THAT(why.reason, Catch::Contains("header row is longer"));
}

TEST_CASE("csv columns by position, without a header", "[loader][csv_decoder]") {
  feed_plan feed;
  feed.name = "positions";
  feed.format = "csv";
  feed.csv.header = false;
  target_plan t;
  t.table = "staging.p";
  column_plan a;
  a.name = "a";
  a.type_name = "integer";
  a.type = column_type::int4;
  a.source = column_source::csv_position;
  a.csv_position = 3;
  column_plan b = a;
  b.name = "b";
  b.type_name = "text";
  b.type = column_type::text;
  b.csv_position = 1;
  t.columns = {a, b};
  feed.targets = {t};
  record_decoder decoder{feed};
  std::vector<copy_encoder> rows(1);
  CHECK(decoder.bind_header(std::nullopt).empty());
  padded_record good("x,y,5,extra");
  reject_reason why;
  REQUIRE(decoder.decode(good.rec, 1, rows, why));
  auto row = last_row(rows[0]);
  CHECK(row[0] == big_endian(5, 4));
  CHECK(row[1] == "x");
  padded_record short_row("x,y");
  CHECK_FALSE(decoder.decode(short_row.rec, 1, rows, why));
  CHECK_THAT(why.reason, Catch::Contains("feed maps field 3"));
  CHECK(why.field.empty());
}

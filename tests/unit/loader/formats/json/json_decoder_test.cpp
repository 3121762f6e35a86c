// record_decoder against a hand-built feed_plan (no database): two targets routed
// by "/log_type", every kind of bad input, and printable_raw.
#include <catch2/catch.hpp>
#include "loader/pipeline/copy_encoder.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "support/decoder_plans.h"

#include <string>
#include <vector>

using namespace sluice::loader;
using sluice::testing::copy_body;
using sluice::testing::generated_column;
using sluice::testing::padded_record;
using namespace std::string_literals;

namespace {

column_plan from_pointer(std::string name, std::string type_name, column_type type, bool not_null,
                         std::string pointer) {
  column_plan column;
  column.name = std::move(name);
  column.type_name = std::move(type_name);
  column.type = type;
  column.not_null = not_null;
  column.source = column_source::json_pointer;
  column.json_pointer = std::move(pointer);
  return column;
}

// LOGIN -> staging.logins (target 0), PAGE_ACCESS -> staging.page_access (target 1).
feed_plan two_target_feed() {
  feed_plan feed;
  feed.name = "events";
  feed.globs = {"events/*.ndjson"};
  feed.format = "ndjson";
  feed.route_pointer = "/log_type";

  target_plan logins;
  logins.table = "staging.logins";
  logins.columns = {
      generated_column("file_id", column_source::file_id),
      generated_column("record", column_source::record_ordinal),
      from_pointer("account", "integer", column_type::int4, true, "/account"),
      from_pointer("at", "timestamp with time zone", column_type::timestamptz, true, "/at"),
      from_pointer("ip", "text", column_type::text, false, "/ip"),
      from_pointer("small", "smallint", column_type::int2, false, "/small"),
      from_pointer("day", "date", column_type::date, false, "/day"),
      from_pointer("big", "bigint", column_type::int8, false, "/big"),
  };
  target_plan pages;
  pages.table = "staging.page_access";
  pages.columns = {
      from_pointer("account", "integer", column_type::int4, true, "/account"),
      from_pointer("page", "text", column_type::text, true, "/page"),
      from_pointer("payload", "jsonb", column_type::jsonb, false, "/payload"),
      from_pointer("ok", "boolean", column_type::boolean, false, "/ok"),
      from_pointer("score", "double precision", column_type::float8, false, "/score"),
  };
  feed.targets = {logins, pages};
  feed.routes = {{"LOGIN", 0}, {"PAGE_ACCESS", 1}};
  feed.route_values = "LOGIN, PAGE_ACCESS";
  return feed;
}


struct decoder_fixture {
  feed_plan feed = two_target_feed();
  record_decoder decoder{feed};
  std::vector<copy_encoder> rows = std::vector<copy_encoder>(2);

  bool decode(std::string_view text, reject_reason& why, std::uint64_t ordinal = 1) {
    padded_record padded(text, ordinal);
    return decoder.decode(padded.rec, 42, rows, why);
  }

  // Decodes a record expected to be rejected, checks no encoder changed, and
  // returns the reason.
  reject_reason reject(std::string_view text) {
    std::vector<std::size_t> sizes;
    std::vector<std::uint64_t> counts;
    for (const auto& encoder : rows) {
      sizes.push_back(encoder.size());
      counts.push_back(encoder.rows());
    }
    reject_reason why;
    INFO("record: " << text);
    CHECK_FALSE(decode(text, why));
    for (std::size_t target_idx = 0; target_idx < rows.size(); ++target_idx) {
      CHECK(rows[target_idx].size() == sizes[target_idx]);
      CHECK(rows[target_idx].rows() == counts[target_idx]);
    }
    CHECK_FALSE(why.reason.empty());
    return why;
  }
};


const std::string good_login =
    R"({"log_type":"LOGIN","account":7,"at":"2019-01-01T00:00:00-05:00","ip":"10.0.0.1"})";
const std::string good_page = R"({"log_type":"PAGE_ACCESS","account":8,"page":"/home"})";


}  // namespace

TEST_CASE("a good record appends one row to its route's encoder and none to the others",
          "[loader][record_decoder]") {
  decoder_fixture fixture;
  reject_reason why;
  REQUIRE(fixture.decode(good_login, why, 3));
  CHECK(fixture.rows[0].rows() == 1);
  CHECK(fixture.rows[1].rows() == 0);
  REQUIRE(fixture.decode(good_page, why));
  REQUIRE(fixture.decode(good_page, why));
  CHECK(fixture.rows[0].rows() == 1);
  CHECK(fixture.rows[1].rows() == 2);
}

TEST_CASE("a login row holds file id, ordinal, converted values and NULL for missing nullable fields",
          "[loader][record_decoder]") {
  decoder_fixture fixture;
  reject_reason why;
  REQUIRE(fixture.decode(good_login, why, 3));
  // 2019-01-01T05:00:00Z = 599616000000000 + 5 h = 599634000000000 = 0x0002215d2b90b400.
  CHECK(copy_body(fixture.rows[0]) ==
        "\0\x08"s                                       // 8 fields
        + "\0\0\0\x08\0\0\0\0\0\0\0\x2a"s               // file_id 42
        + "\0\0\0\x08\0\0\0\0\0\0\0\x03"s               // record ordinal 3
        + "\0\0\0\x04\0\0\0\x07"s                       // account 7
        + "\0\0\0\x08\x00\x02\x21\x5d\x2b\x90\xb4\x00"s  // at
        + "\0\0\0\x08" "10.0.0.1"s                      // ip
        + "\xff\xff\xff\xff"s                           // small: missing, NULL
        + "\xff\xff\xff\xff"s                           // day: missing, NULL
        + "\xff\xff\xff\xff"s);                         // big: missing, NULL
}

TEST_CASE("a page row encodes jsonb, boolean and float8, and explicit null in a nullable column as NULL",
          "[loader][record_decoder]") {
  decoder_fixture fixture;
  reject_reason why;
  REQUIRE(fixture.decode(
      R"({"log_type":"PAGE_ACCESS","account":8,"page":"/home","payload":{ "k" : [1, 2] },"ok":true,"score":null})",
      why));
  CHECK(copy_body(fixture.rows[1]) ==
        "\0\x05"s + "\0\0\0\x04\0\0\0\x08"s + "\0\0\0\x05/home"s +
        "\0\0\0\x0c\x01{\"k\":[1,2]}"s + "\0\0\0\x01\x01"s + "\xff\xff\xff\xff"s);
}

TEST_CASE("integers in range for int2 and int8 are accepted at their limits", "[loader][record_decoder]") {
  decoder_fixture fixture;
  reject_reason why;
  CHECK(fixture.decode(
      R"({"log_type":"LOGIN","account":-2147483648,"at":"2019-01-01T00:00Z","small":-32768,"big":9223372036854775807,"day":"2000-02-29"})",
      why));
  CHECK(fixture.decode(
      R"({"log_type":"LOGIN","account":2147483647,"at":"2019-01-01T00:00Z","small":32767,"big":-9223372036854775808})",
      why));
  INFO(why.reason);
  CHECK(fixture.rows[0].rows() == 2);
}

// One SECTION per kind of bad record over one decoder with rows in it: a
// table of cases, longer than ~80 lines because the cases are many.
TEST_CASE("bad records are rejected with the field at fault and a reason a person can act on",
          "[loader][record_decoder][reject]") {
  decoder_fixture fixture;
  reject_reason good_why;
  // A row already in each encoder, so that "unchanged" means more than "empty".
  REQUIRE(fixture.decode(good_login, good_why));
  REQUIRE(fixture.decode(good_page, good_why));

  SECTION("JSON cut off inside a string") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":7,"ip":"10.0.)");
    INFO(why.reason);
    CHECK(why.field.empty());
    CHECK(why.reason == "truncated JSON: a string, object or array is not closed");
  }
  SECTION("a JSON value that is not an object") {
    auto why = fixture.reject(R"([{"log_type":"LOGIN"}])");
    CHECK(why.field.empty());
    CHECK(why.reason == "a record must be a JSON object, got an array");
    CHECK(fixture.reject("\"LOGIN\"").reason == "a record must be a JSON object, got a string");
  }
  SECTION("a line that is not JSON at all") {
    auto why = fixture.reject("hello, world");
    CHECK(why.field.empty());
    CHECK(why.reason == "not JSON: a record must be a JSON object, and this starts with 'h'");
  }
  SECTION("a missing required field") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","at":"2019-01-01T00:00:00Z"})");
    CHECK(why.field == "/account");
    CHECK(why.reason == "missing required field /account (staging.logins.account is NOT NULL)");
  }
  SECTION("an explicit null in a NOT NULL column") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":null,"at":"2019-01-01T00:00:00Z"})");
    CHECK(why.field == "/account");
    CHECK(why.reason == "null in required field /account (staging.logins.account is NOT NULL)");
  }
  SECTION("a NOT NULL column after several converted ones") {
    auto why = fixture.reject(R"({"log_type":"PAGE_ACCESS","account":8})");
    CHECK(why.field == "/page");
    CHECK_THAT(why.reason, Catch::Contains("staging.page_access.page is NOT NULL"));
  }
  SECTION("a string where an integer is expected") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":"abc","at":"2019-01-01T00:00:00Z"})");
    CHECK(why.field == "/account");
    CHECK(why.reason == "/account: expected an integer for integer column account, got a string \"abc\"");
  }
  SECTION("a fraction where an integer is expected") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":1.5,"at":"2019-01-01T00:00:00Z"})");
    CHECK(why.field == "/account");
    CHECK_THAT(why.reason, Catch::Contains("expected an integer"));
    CHECK_THAT(why.reason, Catch::Contains("got a number 1.5"));
  }
  SECTION("an integer out of range for int4") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":3000000000,"at":"2019-01-01T00:00:00Z"})");
    CHECK(why.field == "/account");
    CHECK(why.reason ==
          "/account: 3000000000 is out of range for integer column account (-2147483648 to 2147483647)");
  }
  SECTION("an integer out of range for int2") {
    auto why = fixture.reject(
        R"({"log_type":"LOGIN","account":1,"at":"2019-01-01T00:00:00Z","small":40000})");
    CHECK(why.field == "/small");
    CHECK(why.reason == "/small: 40000 is out of range for smallint column small (-32768 to 32767)");
  }
  SECTION("an integer above int64 but within uint64") {
    auto why = fixture.reject(
        R"({"log_type":"LOGIN","account":1,"at":"2019-01-01T00:00:00Z","big":18446744073709551615})");
    CHECK(why.field == "/big");
    CHECK_THAT(why.reason, Catch::Contains("18446744073709551615 is out of range for bigint column big"));
  }
  SECTION("a number too large for 64 bits") {
    auto why = fixture.reject(
        R"({"log_type":"LOGIN","account":99999999999999999999999,"at":"2019-01-01T00:00:00Z"})");
    CHECK_THAT(why.reason, Catch::Contains("64 bits"));
  }
  SECTION("an impossible date") {
    auto why = fixture.reject(
        R"({"log_type":"LOGIN","account":1,"at":"2019-01-01T00:00:00Z","day":"2019-02-29"})");
    CHECK(why.field == "/day");
    CHECK(why.reason == "/day: \"2019-02-29\" is not a valid date: no such day in that month"
                            " (accepted formats: YYYY-MM-DD)");
  }
  SECTION("a timestamp without an offset in a timestamptz column") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":1,"at":"2019-01-01T00:00:00"})");
    CHECK(why.field == "/at");
    CHECK_THAT(why.reason, Catch::Contains("is not a valid timestamp with time zone: no UTC offset"));
  }
  SECTION("a date given as a number") {
    auto why = fixture.reject(R"({"log_type":"LOGIN","account":1,"at":20190101})");
    CHECK(why.field == "/at");
    CHECK_THAT(why.reason, Catch::Contains("expected a string with a date or time"));
  }
  SECTION("an unknown route value lists the expected values") {
    auto why = fixture.reject(R"({"log_type":"LOGOUT","account":1})");
    CHECK(why.field == "/log_type");
    CHECK(why.reason == "unknown log_type \"LOGOUT\"; expected one of LOGIN, PAGE_ACCESS");
  }
  SECTION("a missing route field") {
    auto why = fixture.reject(R"({"account":1})");
    CHECK(why.field == "/log_type");
    CHECK_THAT(why.reason, Catch::Contains("missing required field /log_type"));
    CHECK_THAT(why.reason, Catch::Contains("LOGIN, PAGE_ACCESS"));
  }
  SECTION("a route field that is not a string") {
    auto why = fixture.reject(R"({"log_type":5,"account":1})");
    CHECK(why.field == "/log_type");
    CHECK(why.reason == "/log_type: expected a string (one of LOGIN, PAGE_ACCESS), got an integer 5");
  }
  SECTION("invalid UTF-8") {
    auto why = fixture.reject("{\"log_type\":\"LOGIN\",\"account\":1,\"ip\":\"\xff\xfe\"}");
    CHECK(why.field.empty());
    CHECK_THAT(why.reason, Catch::Contains("not valid UTF-8"));
    CHECK_THAT(why.reason, Catch::Contains("offset 38"));
  }
  SECTION("a NUL character in text") {
    auto why = fixture.reject(
        R"({"log_type":"LOGIN","account":1,"at":"2019-01-01T00:00:00Z","ip":"a\u0000b"})");
    CHECK(why.field == "/ip");
    CHECK_THAT(why.reason, Catch::Contains("NUL"));
  }
  SECTION("a raw NUL byte inside a string") {
    auto why = fixture.reject("{\"log_type\":\"LOGIN\",\"account\":1,\"ip\":\"a\0b\"}"s);
    CHECK(why.field.empty());
  }
  SECTION("a \\u0000 inside a jsonb value") {
    auto why = fixture.reject(
        R"({"log_type":"PAGE_ACCESS","account":8,"page":"/","payload":{"s":"\u0000"}})");
    CHECK(why.field == "/payload");
    CHECK_THAT(why.reason, Catch::Contains("\\u0000"));
  }
  SECTION("a boolean given as a string") {
    auto why = fixture.reject(R"({"log_type":"PAGE_ACCESS","account":8,"page":"/","ok":"yes"})");
    CHECK(why.field == "/ok");
    CHECK_THAT(why.reason, Catch::Contains("expected true or false"));
  }
  SECTION("a record the reader flagged too long") {
    padded_record padded("{\"log_type\":");
    padded.rec.size = 5000;
    padded.rec.defect = flaw::too_long;
    reject_reason why;
    CHECK_FALSE(fixture.decoder.decode(padded.rec, 42, fixture.rows, why));
    CHECK(why.field.empty());
    CHECK_THAT(why.reason, Catch::Contains("record is 5000 bytes"));
    CHECK_THAT(why.reason, Catch::Contains("--max-record-mb"));
  }
  SECTION("a record the reader flagged truncated") {
    padded_record padded("{\"log_type\":");
    padded.rec.defect = flaw::truncated;
    reject_reason why;
    CHECK_FALSE(fixture.decoder.decode(padded.rec, 42, fixture.rows, why));
    CHECK_THAT(why.reason, Catch::Contains("truncated JSON"));
  }
  CHECK(fixture.rows[0].rows() == 1);
  CHECK(fixture.rows[1].rows() == 1);
}

TEST_CASE("a rejected record leaves every encoder byte for byte as before", "[loader][record_decoder][reject]") {
  decoder_fixture fixture;
  reject_reason why;
  REQUIRE(fixture.decode(good_login, why));
  auto before = copy_body(fixture.rows[0]);

  decoder_fixture second;
  REQUIRE(second.decode(good_login, why));
  // Fails on the last column, after seven fields were written.
  CHECK_FALSE(second.decode(
      R"({"log_type":"LOGIN","account":7,"at":"2019-01-01T00:00:00Z","ip":"x","small":1,"day":"2019-01-01","big":"no"})",
      why));
  CHECK(why.field == "/big");
  CHECK(copy_body(second.rows[0]) == before);
  CHECK(second.rows[0].rows() == 1);
}

// Bug: parse_failure maps simdjson's INCOMPLETE_ARRAY_OR_OBJECT to "truncated
// JSON", but simdjson 3.0.1's DOM parser reports an object cut off between
// values as TAPE_ERROR, so the reject says "not valid JSON: The JSON document has
// an improper structure: missing or superfluous commas, braces, missing keys,
// etc." instead of telling the person the record is cut off.
TEST_CASE("JSON cut off after a value is rejected as truncated", "[loader][record_decoder]") {
  decoder_fixture fixture;
  for (std::string_view text : {R"({"log_type":"LOGIN","account":7)", R"({"log_type":"LOGIN","account":[7)"}) {
    auto why = fixture.reject(text);
    CHECK(why.field.empty());
    CHECK(why.reason == "truncated JSON: a string, object or array is not closed");
  }
}

// Bug: record_decoder's json/jsonb check searches the minified text for the six
// characters \u0000, so a string holding a literal backslash followed by
// "u0000" (JSON "\\u0000"), which jsonb stores fine, is rejected.
TEST_CASE("a jsonb string with an escaped backslash before u0000 is not mistaken for NUL",
          "[loader][record_decoder]") {
  decoder_fixture fixture;
  reject_reason why;
  CHECK(fixture.decode(
      R"({"log_type":"PAGE_ACCESS","account":8,"page":"/","payload":{"path":"C:\\u0000"}})", why));
  INFO(why.reason);
  CHECK(fixture.rows[1].rows() == 1);
}

TEST_CASE("printable_raw leaves valid UTF-8 unchanged and not lossy", "[loader][printable_raw]") {
  for (std::string_view text : {"", "plain ascii {\"a\":1}", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"}) {
    auto raw = printable_raw(text);
    CHECK(raw.text == text);
    CHECK_FALSE(raw.lossy);
  }
}

TEST_CASE("printable_raw replaces invalid bytes and NUL with U+FFFD and says it was lossy",
          "[loader][printable_raw]") {
  const std::string replacement = "\xef\xbf\xbd";
  struct example {
    std::string bytes;
    std::string printable;
  };
  const std::vector<example> examples = {
      {"a\xff" "b", "a" + replacement + "b"},
      {"a\0b"s, "a" + replacement + "b"},
      {"\xc0\xaf", replacement + replacement},                   // overlong '/'
      {"\xed\xa0\x80", replacement + replacement + replacement},  // a UTF-16 surrogate
      {"x\xe2\x82", "x" + replacement + replacement},            // cut-off sequence
      {"\xc3\xa9\xff\xc3\xa9", "\xc3\xa9" + replacement + "\xc3\xa9"},
  };
  for (const auto& each : examples) {
    auto raw = printable_raw(each.bytes);
    CHECK(raw.text == each.printable);
    CHECK(raw.lossy);
  }
}

TEST_CASE("a float too large for real is rejected instead of becoming Infinity (promise issue)",
          "[loader][record_decoder][reject]") {
  decoder_fixture fx;
  fx.feed.targets[1].columns[4] = from_pointer("score", "real", column_type::float4, false, "/score");
  record_decoder decoder{fx.feed};
  for (const char* score : {"1e39", "-1e39"}) {
    padded_record padded(R"({"log_type": "PAGE_ACCESS", "account": 1, "page": "p", "score": )" + std::string(score) +
                         "}");
    reject_reason why;
    CHECK_FALSE(decoder.decode(padded.rec, 1, fx.rows, why));
    CHECK(why.field == "/score");
    CHECK(why.reason.find("out of range for real") != std::string::npos);
  }
  padded_record fits(R"({"log_type": "PAGE_ACCESS", "account": 1, "page": "p", "score": 3e38})");
  reject_reason why;
  CHECK(decoder.decode(fits.rec, 1, fx.rows, why));
}

TEST_CASE("a string longer than varchar(n) is rejected before COPY, counting characters not bytes",
          "[loader][record_decoder][reject]") {
  decoder_fixture fx;
  auto column = from_pointer("page", "character varying(4)", column_type::text, true, "/page");
  column.max_chars = 4;
  fx.feed.targets[1].columns[1] = column;
  record_decoder decoder{fx.feed};
  reject_reason why;
  padded_record four(R"({"log_type": "PAGE_ACCESS", "account": 1, "page": "caf\u00e9"})");
  CHECK(decoder.decode(four.rec, 1, fx.rows, why));
  padded_record utf8("{\"log_type\": \"PAGE_ACCESS\", \"account\": 1, \"page\": \"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}");
  CHECK(decoder.decode(utf8.rec, 1, fx.rows, why));
  padded_record five(R"({"log_type": "PAGE_ACCESS", "account": 1, "page": "pages"})");
  CHECK_FALSE(decoder.decode(five.rec, 1, fx.rows, why));
  CHECK(why.field == "/page");
  CHECK(why.reason.find("5 characters, more than character varying(4)") != std::string::npos);
}

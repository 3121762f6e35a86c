// JSON feeds and the value formats: a naive timestamp read in the feed's time
// zone, numeric from JSON numbers and strings (exactly, or not at all), NULL
// strings, uuid.
#include <catch2/catch.hpp>
#include "loader/pipeline/copy_encoder.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "support/decoder_plans.h"

#include <string>
#include <vector>

using namespace sluice::loader;
using sluice::testing::big_endian;

namespace {

column_plan pointer_column(std::string name, std::string type_name, column_type type, std::string pointer,
                           std::shared_ptr<const value_formats> formats) {
  column_plan c;
  c.name = std::move(name);
  c.type_name = std::move(type_name);
  c.type = type;
  c.json_pointer = std::move(pointer);
  c.formats = std::move(formats);
  return c;
}

struct json_fixture {
  feed_plan feed;
  std::unique_ptr<record_decoder> decoder;
  std::vector<copy_encoder> rows = std::vector<copy_encoder>(1);

  json_fixture() {
    auto formats = std::make_shared<value_formats>(default_value_formats());
    formats->zone = time_zone::locate("America/Toronto").value();
    formats->null_strings = {"N/A"};
    feed.name = "j";
    feed.format = "ndjson";
    target_plan t;
    t.table = "staging.j";
    auto amount = pointer_column("amount", "numeric(12,2)", column_type::numeric, "/amount", formats);
    amount.numeric_precision = 12;
    amount.numeric_scale = 2;
    t.columns = {pointer_column("at", "timestamp with time zone", column_type::timestamptz, "/at", formats),
                 amount,
                 pointer_column("exact", "numeric", column_type::numeric, "/exact", formats),
                 pointer_column("id", "uuid", column_type::uuid, "/id", formats)};
    feed.targets = {t};
    feed.routes = {{"", 0}};
    decoder = std::make_unique<record_decoder>(feed);
  }

  bool decode(std::string_view text, reject_reason& why) {
    std::string storage(text);
    storage.append(64, ' ');
    record rec;
    rec.text = std::string_view(storage.data(), text.size());
    rec.ordinal = rec.line = 1;
    rec.size = text.size();
    return decoder->decode(rec, 1, rows, why);
  }

  std::string last_row() {
    auto offsets = rows[0].row_offsets();
    auto stream = rows[0].stream_of(offsets, rows[0].rows() - 1, rows[0].rows());
    return stream.substr(19, stream.size() - 21);
  }
};

}  // namespace

TEST_CASE("a JSON feed with a time_zone reads naive timestamps in that zone, and numerics exactly",
          "[loader][record_decoder][value_formats]") {
  json_fixture fx;
  reject_reason why;
  REQUIRE(fx.decode(R"({"at":"2024-01-15 12:00:00","amount":0.1,"exact":"0.30000000000000004",)"
                    R"("id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})",
                    why));
  // 12:00 EST = 17:00 UTC on day 8780.
  std::string want = big_endian(4, 2) + big_endian(8, 4) + big_endian(static_cast<std::uint64_t>((8780LL * 86400 + 17 * 3600) * 1'000'000), 8);
  // numeric(12,2) 0.1 -> 0.10: one digit 1000 at weight -1, dscale 2
  want += big_endian(10, 4) + big_endian(1, 2) + big_endian(static_cast<std::uint16_t>(-1), 2) + big_endian(0, 2) + big_endian(2, 2) + big_endian(1000, 2);
  // 0.30000000000000004 unconstrained: digits 3000 0000 0000 0000 4000 at weight -1, dscale 17
  want += big_endian(18, 4) + big_endian(5, 2) + big_endian(static_cast<std::uint16_t>(-1), 2) + big_endian(0, 2) + big_endian(17, 2) + big_endian(3000, 2) +
          big_endian(0, 2) + big_endian(0, 2) + big_endian(0, 2) + big_endian(4000, 2);
  want += big_endian(16, 4) + std::string("\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16);
  CHECK(fx.last_row() == want);
}

TEST_CASE("a JSON number that a double cannot carry exactly is refused for numeric, a null string is NULL",
          "[loader][record_decoder][value_formats]") {
  json_fixture fx;
  reject_reason why;
  CHECK_FALSE(fx.decode(R"({"exact":0.30000000000000004})", why));
  CHECK(why.field == "/exact");
  CHECK(why.reason.find("write it as a JSON string") != std::string::npos);
  CHECK_FALSE(fx.decode(R"({"amount":"12USD"})", why));
  CHECK(why.field == "/amount");
  REQUIRE(fx.decode(R"({"at":"N/A","amount":1234567890.5})", why));
  CHECK(fx.last_row().substr(2, 4) == big_endian(0xffffffff, 4));  // at is NULL
  CHECK_FALSE(fx.decode(R"({"amount":12345678901.5})", why));  // numeric(12,2) holds 10 digits before the point
  CHECK_FALSE(fx.decode(R"({"id":"not-a-uuid"})", why));
  CHECK(why.field == "/id");
}

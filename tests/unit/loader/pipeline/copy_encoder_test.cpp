// copy_encoder: the exact bytes of PostgreSQL's binary COPY format.
#include <catch2/catch.hpp>
#include "loader/pipeline/copy_encoder.h"

#include <string>

using sluice::loader::copy_encoder;

namespace {

using namespace std::string_literals;

// "PGCOPY\n\377\r\n\0", flags int32 0, header extension length int32 0.
const std::string header = "PGCOPY\n\xff\r\n\0"s + std::string(8, '\0');

std::string bytes_of(copy_encoder& encoder) {
  auto all = encoder.finish();
  return {all.data(), all.size()};
}

// Everything after the header, before the trailer.
std::string encoded_rows(copy_encoder& encoder) {
  auto all = bytes_of(encoder);
  REQUIRE(all.size() >= header.size() + 2);
  return all.substr(header.size(), all.size() - header.size() - 2);
}

}  // namespace

TEST_CASE("an encoder with no rows is the 19-byte header and the ffff trailer",
          "[loader][copy_encoder]") {
  copy_encoder encoder;
  CHECK(encoder.empty());
  CHECK(encoder.rows() == 0);
  CHECK(encoder.size() == 19);
  CHECK(bytes_of(encoder) == header + "\xff\xff"s);
}

TEST_CASE("finish() appends the trailer once, however often it is called", "[loader][copy_encoder]") {
  copy_encoder encoder;
  auto first = bytes_of(encoder);
  auto second = bytes_of(encoder);
  CHECK(first == second);
  CHECK(second.size() == 21);
}

TEST_CASE("each field type is encoded as a big-endian length and value", "[loader][copy_encoder]") {
  copy_encoder encoder;
  SECTION("int2") {
    encoder.put_int2(-2);
    CHECK(encoded_rows(encoder) == "\0\0\0\x02\xff\xfe"s);
  }
  SECTION("int4") {
    encoder.put_int4(0x01020304);
    CHECK(encoded_rows(encoder) == "\0\0\0\x04\x01\x02\x03\x04"s);
  }
  SECTION("int4 negative") {
    encoder.put_int4(-1);
    CHECK(encoded_rows(encoder) == "\0\0\0\x04\xff\xff\xff\xff"s);
  }
  SECTION("int8") {
    encoder.put_int8(0x0102030405060708LL);
    CHECK(encoded_rows(encoder) == "\0\0\0\x08\x01\x02\x03\x04\x05\x06\x07\x08"s);
  }
  SECTION("int8 minimum") {
    encoder.put_int8(INT64_MIN);
    CHECK(encoded_rows(encoder) == "\0\0\0\x08\x80\0\0\0\0\0\0\0"s);
  }
  SECTION("float4 as IEEE-754 single") {
    encoder.put_float4(1.5f);  // 0x3fc00000
    CHECK(encoded_rows(encoder) == "\0\0\0\x04\x3f\xc0\0\0"s);
  }
  SECTION("float8 as IEEE-754 double") {
    encoder.put_float8(-2.0);  // 0xc000000000000000
    CHECK(encoded_rows(encoder) == "\0\0\0\x08\xc0\0\0\0\0\0\0\0"s);
  }
  SECTION("bool") {
    encoder.put_bool(true);
    encoder.put_bool(false);
    CHECK(encoded_rows(encoder) == "\0\0\0\x01\x01\0\0\0\x01\0"s);
  }
  SECTION("text is its UTF-8 bytes") {
    encoder.put_text("h\xc3\xa9!");
    CHECK(encoded_rows(encoder) == "\0\0\0\x04h\xc3\xa9!"s);
  }
  SECTION("empty text is a zero length, not NULL") {
    encoder.put_text("");
    CHECK(encoded_rows(encoder) == "\0\0\0\0"s);
  }
  SECTION("bytea") {
    const std::string raw = "\0\x01\xff"s;
    encoder.put_bytea({raw.data(), raw.size()});
    CHECK(encoded_rows(encoder) == "\0\0\0\x03\0\x01\xff"s);
  }
  SECTION("jsonb is version byte 1 then the JSON text") {
    encoder.put_jsonb("{\"a\":1}");
    CHECK(encoded_rows(encoder) == "\0\0\0\x08\x01{\"a\":1}"s);
  }
  SECTION("timestamp is int8 microseconds since 2000-01-01") {
    encoder.put_timestamp(599616000000000LL);  // 2019-01-01 00:00:00, 0x00022158faae8000
    CHECK(encoded_rows(encoder) == "\0\0\0\x08\x00\x02\x21\x58\xfa\xae\x80\x00"s);
  }
  SECTION("date is int4 days since 2000-01-01") {
    encoder.put_date(-1);
    encoder.put_date(6940);  // 2019-01-01, 0x1b1c
    CHECK(encoded_rows(encoder) == "\0\0\0\x04\xff\xff\xff\xff\0\0\0\x04\0\0\x1b\x1c"s);
  }
  SECTION("NULL is length -1 and no bytes") {
    encoder.put_null();
    CHECK(encoded_rows(encoder) == "\xff\xff\xff\xff"s);
  }
}

TEST_CASE("a row is its field count then its fields, and end_row counts it", "[loader][copy_encoder]") {
  copy_encoder encoder;
  encoder.begin_row(3);
  encoder.put_int4(7);
  encoder.put_null();
  encoder.put_text("ab");
  encoder.end_row();
  CHECK(encoder.rows() == 1);
  CHECK_FALSE(encoder.empty());
  CHECK(bytes_of(encoder) ==
        header + "\0\x03"s + "\0\0\0\x04\0\0\0\x07"s + "\xff\xff\xff\xff"s + "\0\0\0\x02" "ab"s +
            "\xff\xff"s);
}

TEST_CASE("rollback_row restores the buffer to before begin_row and does not count the row",
          "[loader][copy_encoder]") {
  copy_encoder encoder;
  encoder.begin_row(1);
  encoder.put_int8(1);
  encoder.end_row();
  const auto size_after_first = encoder.size();

  encoder.begin_row(4);
  encoder.put_int8(2);
  encoder.put_text("partial");
  encoder.put_jsonb("{}");
  encoder.rollback_row();
  CHECK(encoder.size() == size_after_first);
  CHECK(encoder.rows() == 1);

  encoder.begin_row(1);
  encoder.put_int8(3);
  encoder.end_row();
  CHECK(encoder.rows() == 2);
  CHECK(bytes_of(encoder) == header + "\0\x01"s + "\0\0\0\x08\0\0\0\0\0\0\0\x01"s + "\0\x01"s +
                                 "\0\0\0\x08\0\0\0\0\0\0\0\x03"s + "\xff\xff"s);
}

TEST_CASE("row_offsets and stream_of cut a COPY stream into any run of its rows", "[loader][copy_encoder]") {
  copy_encoder encoder;
  for (int row = 0; row < 5; ++row) {
    encoder.begin_row(3);
    encoder.put_int8(row);
    if (row % 2 == 0) encoder.put_null();
    else encoder.put_text(std::string(static_cast<std::size_t>(row) * 3, 'x'));
    encoder.put_bool(row == 4);
    encoder.end_row();
  }
  auto offsets = encoder.row_offsets();
  REQUIRE(offsets.size() == 6);
  auto whole = encoder.stream_of(offsets, 0, 5);
  auto finished = encoder.finish();
  CHECK(whole == std::string(finished.data(), finished.size()));
  // Rows 1..2 alone: header, those rows' bytes, trailer.
  auto middle = encoder.stream_of(offsets, 1, 3);
  CHECK(middle.size() == 19 + (offsets[3] - offsets[1]) + 2);
  CHECK(middle.substr(19, offsets[3] - offsets[1]) == whole.substr(offsets[1], offsets[3] - offsets[1]));
  CHECK(middle.substr(middle.size() - 2) == "\xff\xff");
}

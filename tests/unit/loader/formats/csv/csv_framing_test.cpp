// CSV framing (RFC 4180): quotes, doubled quotes, line breaks in fields, CRLF,
// BOM, blank lines, a last row without a line break, unterminated quotes, the
// header read once (and again from the start when resuming), and the same checks
// across buffer sizes; plus the field splitter.
#include <catch2/catch.hpp>
#include "loader/formats/csv/csv.h"
#include "loader/formats/record_reader.h"
#include "loader/formats/csv/csv_format.h"

#include <string>
#include <vector>

#include "support/temp_file.h"

using namespace sluice::loader;
using namespace sluice::testing;

namespace {

const std::string tricky =
    "\xEF\xBB\xBF"                                  // BOM
    "id,name,note\r\n"                              // line 1: header, CRLF
    "1,plain,simple\r\n"                            // line 2
    "\r\n"                                          // line 3: blank
    "2,\"with, comma\",\"say \"\"hi\"\"\"\n"        // line 4
    "3,\"two\nlines\",x\n"                          // lines 5-6: a line break inside quotes
    "   \n"                                         // line 7: blank
    "4,5\" screen,\"\"\n"                           // line 8: a quote inside an unquoted field
    "5,\"crlf\r\ninside\",last";                    // lines 9-10, no line break at the end

struct want {
  std::string text;
  std::uint64_t line;
};
const std::vector<want> tricky_rows = {
    {"1,plain,simple", 2},
    {"2,\"with, comma\",\"say \"\"hi\"\"\"", 4},
    {"3,\"two\nlines\",x", 5},
    {"4,5\" screen,\"\"", 8},
    {"5,\"crlf\r\ninside\",last", 9},
};

reader_options generated_options() {
  auto initial = GENERATE(as<std::size_t>{}, 8, 64, 4096);
  auto max = GENERATE(as<std::size_t>{}, 40, 1 << 20);
  return small_buffers(initial, max);
}

std::vector<std::string> fields(csv_splitter& splitter, std::string_view row) {
  auto split = splitter.split(row);
  REQUIRE(split.ok());
  std::vector<std::string> out;
  for (const auto& f : split.value()) out.emplace_back(f.text);
  return out;
}

}  // namespace

TEST_CASE("csv rows come back whole, with quoted line breaks, 1-based lines, blank lines skipped",
          "[loader][record_reader][csv]") {
  auto options = generated_options();
  INFO("initial " << options.initial_buffer_bytes << ", max " << options.max_record_bytes);
  temp_file file(tricky);
  // The loader starts after a BOM; the header is found past it.
  record_reader reader(file.fd(), csv_format(), {3, 0, 0}, content_hash{}, file.size(), true, options);
  REQUIRE(reader.header().has_value());
  CHECK(reader.header()->text == "id,name,note");
  CHECK(reader.header()->end == 3 + 14);
  auto got = read_all(reader);
  REQUIRE(got.size() == tricky_rows.size());
  for (std::size_t row_idx = 0; row_idx < got.size(); ++row_idx) {
    INFO("row " << row_idx + 1);
    CHECK(got[row_idx].text == tricky_rows[row_idx].text);
    CHECK(got[row_idx].line == tricky_rows[row_idx].line);
    CHECK(got[row_idx].ordinal == row_idx + 1);
    CHECK(got[row_idx].offset == tricky.find(tricky_rows[row_idx].text));
    CHECK(got[row_idx].defect == flaw::none);
  }
  CHECK(reader.consumed().bytes == tricky.size());
  CHECK(reader.consumed().lines == 9);  // the last line has no line break
  CHECK(reader.consumed().records == 5);
}

TEST_CASE("a last csv row without its line break waits until the file is final", "[loader][record_reader][csv]") {
  auto options = generated_options();
  temp_file file(tricky);
  record_reader reader(file.fd(), csv_format(), {3, 0, 0}, content_hash{}, file.size(), false, options);
  auto got = read_all(reader);
  CHECK(got.size() == 4);
  CHECK(reader.consumed().bytes == tricky.find("5,\"crlf"));
}

TEST_CASE("resuming a csv file re-reads its header from the start and numbers on", "[loader][record_reader][csv]") {
  auto options = generated_options();
  temp_file file(tricky);
  position stopped;
  content_hash stopped_hash;
  {
    record_reader reader(file.fd(), csv_format(), {3, 0, 0}, content_hash{}, file.size(), true, options);
    REQUIRE(reader.next().has_value());
    REQUIRE(reader.next().has_value());
    stopped = reader.consumed();
    stopped_hash = reader.hash();
  }
  record_reader resumed(file.fd(), csv_format(), stopped, stopped_hash, file.size(), true, options);
  REQUIRE(resumed.header().has_value());
  CHECK(resumed.header()->text == "id,name,note");
  auto rest = read_all(resumed);
  REQUIRE(rest.size() == 3);
  CHECK(rest[0].ordinal == 3);
  CHECK(rest[0].line == 5);
  CHECK(rest[0].text == tricky_rows[2].text);
  // Resumed, the hash goes on as if read in one go (the BOM was left out of both).
  CHECK(resumed.hash().hex() == hash_of(std::string_view(tricky).substr(3)));
}

TEST_CASE("a growing csv file: no rows before its header is complete, then rows as they are appended",
          "[loader][record_reader][csv]") {
  temp_file file("SaleID,Pri");
  {
    record_reader reader(file.fd(), csv_format(), {}, content_hash{}, file.size(), false);
    CHECK_FALSE(reader.header().has_value());
    CHECK(read_all(reader).empty());
    CHECK(reader.consumed().bytes == 0);
  }
  file.append("ce\n1,2\n2,");
  record_reader reader(file.fd(), csv_format(), {}, content_hash{}, file.size(), false);
  REQUIRE(reader.header().has_value());
  CHECK(reader.header()->text == "SaleID,Price");
  auto got = read_all(reader);
  REQUIRE(got.size() == 1);
  CHECK(got[0].text == "1,2");
  CHECK(reader.consumed().bytes == 17);
}

TEST_CASE("an unterminated quote at the end of a final file is one truncated row", "[loader][record_reader][csv]") {
  auto options = generated_options();
  const std::string content = "a,b\n1,2\n3,\"never closed\n4,5\n";
  temp_file file(content);
  record_reader reader(file.fd(), csv_format(), {}, content_hash{}, file.size(), true, options);
  auto got = read_all(reader);
  REQUIRE(got.size() == 2);
  CHECK(got[0].text == "1,2");
  if (options.max_record_bytes >= content.size()) {
    CHECK(got[1].defect == flaw::truncated);
    CHECK(got[1].text == "3,\"never closed\n4,5\n");
  } else {
    CHECK(got[1].defect == flaw::too_long);
  }
  CHECK(reader.consumed().bytes == content.size());
}

TEST_CASE("a header longer than the record limit is skipped whole and marked, and its rows still come",
          "[loader][record_reader][csv]") {
  // Regression: found by fuzz_csv; such a file was never read at all (nothing
  // consumed, not even when final), so it stayed loading without a word.
  const std::string content = "a_very_long_column_name,another_long_one\n1,2\n3,4\n";
  temp_file file(content);
  record_reader reader(file.fd(), csv_format(), {}, content_hash{}, file.size(), true, small_buffers(8, 16));
  REQUIRE(reader.header().has_value());
  CHECK(reader.header()->too_long);
  CHECK(reader.header()->end == content.find('\n') + 1);
  auto got = read_all(reader);
  REQUIRE(got.size() == 2);
  CHECK(got[0].text == "1,2");
  CHECK(reader.consumed().bytes == content.size());
}

TEST_CASE("a final csv file of blank lines only is consumed, with no records", "[loader][record_reader][csv]") {
  // Regression: found by fuzz_csv; without a header nothing was consumed.
  const std::string content = "\n  \r\n\n";
  temp_file file(content);
  record_reader reader(file.fd(), csv_format(), {}, content_hash{}, file.size(), true);
  CHECK(read_all(reader).empty());
  CHECK(reader.consumed().bytes == content.size());
  CHECK(reader.consumed().lines == 3);
}

TEST_CASE("a csv file without a header row starts with its first record", "[loader][record_reader][csv]") {
  temp_file file("\n1,2\n3,4\n");
  csv_dialect no_header;
  no_header.header = false;
  record_reader reader(file.fd(), csv_format(), {}, content_hash{}, file.size(), true, {}, no_header);
  auto got = read_all(reader);
  REQUIRE(got.size() == 2);
  CHECK(got[0].line == 2);
  CHECK_FALSE(reader.header().has_value());
}

TEST_CASE("fields are split with quotes, doubled quotes, escapes and other delimiters", "[loader][csv]") {
  csv_splitter comma{csv_dialect{}};
  CHECK(fields(comma, "a,b,c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(fields(comma, "") == std::vector<std::string>{""});
  CHECK(fields(comma, ",,") == std::vector<std::string>{"", "", ""});
  CHECK(fields(comma, "\"with, comma\",\"say \"\"hi\"\"\",x") ==
        std::vector<std::string>{"with, comma", "say \"hi\"", "x"});
  CHECK(fields(comma, "\"two\nlines\",\"\"") == std::vector<std::string>{"two\nlines", ""});
  CHECK(fields(comma, "5\" screen,x") == std::vector<std::string>{"5\" screen", "x"});
  CHECK(fields(comma, "a,\"b\",") == std::vector<std::string>{"a", "b", ""});

  auto bad = comma.split("\"closed\"then text,x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == 0);
  CHECK(std::string(bad.error().what).find("after the closing quote") != std::string::npos);
  auto open = comma.split("a,\"never closed");
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().field == 1);

  csv_dialect semicolon;
  semicolon.delimiter = ';';
  semicolon.quote = '\'';
  semicolon.escape = '\\';
  csv_splitter other{semicolon};
  CHECK(fields(other, "a;'b;c';'it\\'s'") == std::vector<std::string>{"a", "b;c", "it's"});
}

TEST_CASE("the row scanner keeps its quote state across chunks", "[loader][csv]") {
  csv_row_scanner scanner{csv_dialect{}};
  std::string_view row = "1,\"a\nb\"\"\n\",c\nnext";
  // Byte by byte: the first LF outside quotes is the one after c.
  std::size_t end = 0;
  for (; end < row.size(); ++end) {
    if (scanner.scan(row.data() + end, 1) == 0) break;
  }
  CHECK(end == row.find("c\n") + 1);
  scanner.reset();
  CHECK(scanner.scan(row.data(), row.size()) == row.find("c\n") + 1);
}

// BUG (found by fuzz_csv, 2026-12-06): a final CSV of blank lines only (no
// header), longer than max_record_bytes, was consumed not at all: the reader
// waited for a buffer that could hold it whole.
TEST_CASE("a final csv of blank lines longer than the longest record is consumed to its end",
          "[loader][record_reader][csv][regression]") {
  auto options = generated_options();
  INFO("initial " << options.initial_buffer_bytes << ", max " << options.max_record_bytes);
  std::string blank = "\t\t\t\n";
  for (int line_idx = 0; line_idx < 200; ++line_idx) blank += line_idx % 7 == 0 ? " \t\n" : "\n";
  temp_file file(blank);
  csv_dialect dialect;
  dialect.header = true;
  record_reader reader(file.fd(), csv_format(), {0, 0, 0}, content_hash{}, file.size(), true, options, dialect);
  CHECK(read_all(reader).empty());
  CHECK(reader.consumed().bytes == blank.size());
  CHECK(reader.consumed().lines == 201);
}

// The format registry: names, what "auto" reads a file as, and the rules a
// format imposes on a feed's declaration.
#include <catch2/catch.hpp>
#include "loader/contract/feed.h"
#include "loader/formats/registry.h"

using namespace sluice::loader;

TEST_CASE("each format sluice.feeds.format admits is found by its name, auto and other names are not",
          "[loader][formats][registry]") {
  for (const char* name : {"ndjson", "json", "csv"}) {
    const auto* format = find_format(name);
    REQUIRE(format != nullptr);
    CHECK(format->name == name);
  }
  CHECK(find_format("auto") == nullptr);
  CHECK(find_format("CSV") == nullptr);
  CHECK(find_format("") == nullptr);
}

TEST_CASE("a feed of format auto is declared and decoded as ndjson, and reads a file as its head says",
          "[loader][formats][registry]") {
  CHECK(declared_format("auto").name == "ndjson");
  feed_plan feed;
  feed.format = "auto";
  CHECK(format_for(feed, "{\n  \"a\": 1\n}\n").name == "json");
  CHECK(format_for(feed, "{\"a\": 1}\n").name == "ndjson");
  feed.format = "csv";
  CHECK(format_for(feed, "{\n").name == "csv");
}

TEST_CASE("what each format imposes on a feed: csv routes nothing and maps fields, the JSON formats route by pointers",
          "[loader][formats][registry]") {
  CHECK(!declared_format("csv").routes);
  CHECK(declared_format("csv").keys == column_keys::fields);
  for (const char* name : {"ndjson", "json", "auto"}) {
    CHECK(declared_format(name).routes);
    CHECK(declared_format(name).keys == column_keys::json_pointers);
  }
  // Only a document must wait until its file settles; only a log's .gz waits
  // for its last line's line break after a clean end of stream.
  CHECK(declared_format("json").settled_files_only);
  CHECK(!declared_format("ndjson").settled_files_only);
  CHECK(!declared_format("csv").settled_files_only);
  CHECK(!declared_format("ndjson").complete_stream_ends_record);
  CHECK(declared_format("csv").complete_stream_ends_record);
}

TEST_CASE("a feed of format auto calls a first line that is a lone brace or starts with a bracket JSON, anything else NDJSON",
          "[loader][formats][registry]") {
  CHECK(detect_format("{\n  \"a\": 1\n}\n").name == "json");
  CHECK(detect_format("  {  \r\n\"a\": 1}").name == "json");
  CHECK(detect_format("{").name == "json");
  CHECK(detect_format("[{\"a\":1},\n{\"a\":2}]").name == "json");
  CHECK(detect_format("[\n").name == "json");
  CHECK(detect_format("  [1, 2]").name == "json");
  CHECK(detect_format("{\"a\":1}\n{\"a\":2}\n").name == "ndjson");
  CHECK(detect_format("{\"a\":\n1}").name == "ndjson");
  CHECK(detect_format("").name == "ndjson");
  // Blank lines before the first line with content are passed over (a
  // document written after an empty line is still a document).
  CHECK(detect_format("\n{\n").name == "json");
  CHECK(detect_format("\r\n  \n[1]").name == "json");
  CHECK(detect_format("\n{\"a\":1}\n").name == "ndjson");
  CHECK(detect_format("hello").name == "ndjson");
}

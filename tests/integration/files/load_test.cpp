// Loading with `sluice run --once`: conservation per file, every kind of bad
// input, and reports that are current when --once returns.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>

#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"

namespace sluice::testing {
namespace {

// The same load with the default batch size and with the smallest one, so that
// rejects and batch boundaries meet (STYLE.md: force errors across boundaries);
// with each batch its own transaction on one COPY stream; and over four COPY
// streams, whose batches overtake each other and must still commit in order.
// (A month of hubdoc events mixes tables in every batch, so these never
// stream; csv_test.cpp streams a CSV 2 MB at a time over four streams.)
std::vector<std::string> batch_flags(const std::string& which) {
  if (which == "1 MB batches") return {"--batch-mb", "1"};
  if (which == "1 MB batches unstreamed, 1 COPY stream") return {"--batch-mb", "1", "--stream-mb", "0", "--copy-streams", "1"};
  if (which == "1 MB batches, --stream-mb 2, 4 COPY streams") {
    return {"--batch-mb", "1", "--stream-mb", "2", "--copy-streams", "4"};
  }
  return {};
}

// A file of bytes that are not text at all (starts like gzip).
std::string binary_junk(std::size_t size) {
  std::string out = "\x1f\x8b\x08";
  for (std::size_t byte_idx = 0; out.size() < size; ++byte_idx) {
    out += static_cast<char>((byte_idx * 37 + 11) % 256);
  }
  return out;
}

}  // namespace

TEST_CASE("a month of generated events loads with loaded + rejected == records, per file",
          "[integration][conservation]") {
  for (std::string batches : {"default batches", "1 MB batches", "1 MB batches unstreamed, 1 COPY stream",
                              "1 MB batches, --stream-mb 2, 4 COPY streams"}) {
    DYNAMIC_SECTION(batches) {
      sluice_fixture fx;
      fx.generate_hubdoc(20'000, 11, "hubdoc/2019-january.log");
      auto clean = read_file(fx.inbox() / "hubdoc/2019-january.log");
      REQUIRE(count_records(clean) == 20'000);

      // The same shape with every kind of bad line sprinkled in (one every 211 lines).
      auto generated = fx.generate_hubdoc(20'000, 12, "hubdoc/generated-tmp.log");
      auto mixed = interleave(read_file(generated), bad_hubdoc_lines(), 5, 211);
      std::filesystem::remove(generated);
      fx.write_file("hubdoc/2019-february.ndjson", mixed);

      const std::string notes = "Meeting notes, 2019-01-04\n\n- not a log at all\n- [ ] follow up\n";
      fx.write_file("hubdoc/notes.jsonl", notes);
      const std::string junk = binary_junk(5000);
      fx.write_file("hubdoc/archive.log", junk);

      auto run = fx.run_once(batch_flags(batches));
      INFO(run.describe());
      REQUIRE(run.ok());

      check_file_conserved(fx, "hubdoc/2019-january.log", clean);
      check_file_conserved(fx, "hubdoc/2019-february.ndjson", mixed);
      check_file_conserved(fx, "hubdoc/notes.jsonl", notes);
      check_file_conserved(fx, "hubdoc/archive.log", junk);

      CHECK(fx.rejects(fx.file_id("hubdoc/2019-january.log")) == 0);
      CHECK(fx.rejects(fx.file_id("hubdoc/2019-february.ndjson")) ==
            static_cast<std::int64_t>(count_records(mixed) - 20'000));
      CHECK(fx.staging_rows(fx.file_id("hubdoc/notes.jsonl")) == 0);
      CHECK(fx.staging_rows(fx.file_id("hubdoc/archive.log")) == 0);
      CHECK(fx.duplicate_staging_keys() == 0);
      CHECK(fx.scalar("select count(*) from sluice.files") == 4);
    }
  }
}

// One file with every bad line and its expected reject, checked line by line
// twice (default and 1 MB batches): longer than ~80 lines because each
// expectation is spelled out where the file is built.
TEST_CASE("every kind of bad input from the issue becomes a reject with a reason naming the problem",
          "[integration][rejects]") {
  for (std::string batches : {"default batches", "1 MB batches"}) {
    DYNAMIC_SECTION(batches) {
      sluice_fixture fx;

      // Good lines around every bad one, blank lines and CRLF endings in between,
      // and a valid 1 MB line, so line numbers, records and offsets all differ.
      std::vector<input_line> lines;
      int account = 1000;
      lines.push_back({"good", login_line(account++), true, {}, ""});
      for (auto& bad : bad_hubdoc_lines()) {
        lines.push_back(std::move(bad));
        lines.push_back({"good", login_line(account++), true, {}, ""});
      }
      const std::string huge_details(1'000'000, 'x');
      lines.push_back({"a valid 1 MB line", login_line(account++, huge_details), true, {}, ""});
      lines.push_back({"good after the 1 MB line", login_line(account++), true, {}, ""});

      struct placed {
        std::uint64_t record, line, offset;
      };
      std::vector<placed> where;
      std::string content;
      std::uint64_t line_no = 1;
      for (std::size_t line_idx = 0; line_idx < lines.size(); ++line_idx) {
        if (line_idx % 3 == 1) {
          content += "\n";
          ++line_no;
        }
        if (line_idx % 7 == 4) {
          content += "  \t\r\n";
          ++line_no;
        }
        where.push_back({line_idx + 1, line_no, content.size()});
        content += lines[line_idx].bytes + (line_idx % 5 == 3 ? "\r\n" : "\n");
        ++line_no;
      }
      fx.write_file("hubdoc/bad-input.log", content);

      // A complete file whose last line has no newline: --once loads that line.
      const std::string no_newline = login_line(7001) + "\n" + login_line(7002);
      fx.write_file("hubdoc/no-final-newline.log", no_newline);
      // A file that is not JSON at all.
      const std::string prose = "Dear team,\nthe export failed again.\n\nRegards\n";
      fx.write_file("hubdoc/letter.log", prose);

      auto run = fx.run_once(batch_flags(batches));
      INFO(run.describe());
      REQUIRE(run.ok());

      check_file_conserved(fx, "hubdoc/bad-input.log", content);
      auto id = fx.file_id("hubdoc/bad-input.log");

      std::set<std::int64_t> expected_loaded;
      for (std::size_t line_idx = 0; line_idx < lines.size(); ++line_idx) {
        if (lines[line_idx].loads) expected_loaded.insert(static_cast<std::int64_t>(line_idx + 1));
      }
      std::set<std::int64_t> loaded;
      auto staged = fx.db().exec_params(
          "select _record from (" + fx.staging_union() + ") s where _file_id = $1", {std::to_string(id)});
      for (int row = 0; row < staged.rows(); ++row) loaded.insert(staged.int64(row, 0));
      CHECK(loaded == expected_loaded);

      auto rejects = fx.db().exec_params(
          "select record, line, byte_offset, coalesce(field, ''), reason, raw,"
          " coalesce(encode(raw_bytes, 'hex'), ''), raw_truncated, feed"
          " from sluice.rejects where file_id = $1 order by record",
          {std::to_string(id)});
      std::map<std::int64_t, int> reject_row;
      for (int row = 0; row < rejects.rows(); ++row) reject_row[rejects.int64(row, 0)] = row;

      for (std::size_t line_idx = 0; line_idx < lines.size(); ++line_idx) {
        const auto& line = lines[line_idx];
        if (line.loads) continue;
        INFO("bad input: " << line.what << " (record " << line_idx + 1 << ")");
        auto found = reject_row.find(static_cast<std::int64_t>(line_idx + 1));
        CHECK(found != reject_row.end());
        if (found == reject_row.end()) continue;
        int row = found->second;
        std::string reason(rejects.text(row, 4));
        INFO("reason: " << reason);
        CHECK(rejects.int64(row, 1) == static_cast<std::int64_t>(where[line_idx].line));
        CHECK(rejects.int64(row, 2) == static_cast<std::int64_t>(where[line_idx].offset));
        CHECK(std::string(rejects.text(row, 3)) == line.field);
        for (const auto& word : line.reason) CHECK_THAT(reason, Catch::Contains(word));
        CHECK(rejects.text(row, 7) == "f");
        CHECK(rejects.text(row, 8) == "hubdoc");
        bool utf8_clean = line.what.find("UTF-8") == std::string::npos;
        if (utf8_clean) {
          CHECK(std::string(rejects.text(row, 5)) == line.bytes);
          CHECK(rejects.text(row, 6).empty());
        } else {
          // raw_bytes keeps the exact bytes; raw shows U+FFFD where they are not UTF-8.
          CHECK(std::string(rejects.text(row, 6)) == to_hex(line.bytes));
          CHECK_THAT(std::string(rejects.text(row, 5)), Catch::Contains("caf\xef\xbf\xbd cr\xef\xbf\xbdme"));
        }
      }

      // The 1 MB line arrived whole.
      CHECK(fx.scalar("select length(details) from staging.hubdoc_login where _file_id = $1 and account = $2",
                      {std::to_string(id), std::to_string(account - 2)}) == 1'000'000);

      // No final newline: both lines load in --once, and the file counts as complete.
      check_file_conserved(fx, "hubdoc/no-final-newline.log", no_newline);
      CHECK(fx.staging_rows(fx.file_id("hubdoc/no-final-newline.log")) == 2);
      CHECK(fx.scalar("select count(*) from staging.hubdoc_login where account = 7002") == 1);

      // Not JSON at all: every non-blank line is a reject saying so; nothing stops.
      check_file_conserved(fx, "hubdoc/letter.log", prose);
      auto letter = fx.file_id("hubdoc/letter.log");
      CHECK(fx.rejects(letter) == 3);
      CHECK(fx.scalar("select count(*) from sluice.rejects where file_id = $1 and reason like '%not JSON%'",
                      {std::to_string(letter)}) == 3);
      CHECK(fx.scalar("select line from sluice.rejects where file_id = $1 and record = 3",
                      {std::to_string(letter)}) == 4);
      CHECK(fx.duplicate_staging_keys() == 0);
    }
  }
}

TEST_CASE("reports are current after --once", "[integration][reports]") {
  sluice_fixture fx;
  fx.write_file("hubdoc/2019-01-sample.log", hubdoc_sample_month);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  check_file_conserved(fx, "hubdoc/2019-01-sample.log", hubdoc_sample_month);

  auto plans = fx.db().exec(
      "select plan, signups, share_pct::text from reports.hubdoc_signup_plans where year = 2019 order by plan");
  REQUIRE(plans.rows() == 2);
  CHECK(plans.text(0, 0) == "PLAN_BRONZE");
  CHECK(plans.int64(0, 1) == 1);
  CHECK(plans.text(0, 2) == "50.00");
  CHECK(plans.text(1, 0) == "PLAN_GOLD");
  CHECK(plans.int64(1, 1) == 1);
  CHECK(plans.text(1, 2) == "50.00");

  // 502 signed up 2019-01-02T04:48:46-05:00 on GOLD, changed to SILVER at
  // 2019-03-03T10:00:00-05:00: 60 days + 18674 s = 60.2161 days.
  auto changes = fx.db().exec(
      "select from_plan, to_plan, customers, round(avg_days_to_change, 4)::text from reports.hubdoc_plan_changes");
  REQUIRE(changes.rows() == 1);
  CHECK(changes.text(0, 0) == "PLAN_GOLD");
  CHECK(changes.text(0, 1) == "PLAN_SILVER");
  CHECK(changes.int64(0, 2) == 1);
  CHECK(changes.text(0, 3) == "60.2161");
}

}  // namespace sluice::testing

namespace sluice::testing {

// Regression: a line cut off after a complete value (a writer killed mid-line:
// `{"date": ..., "account": 501`) was rejected with simdjson's "improper
// structure" message instead of being called truncated (fixed in f8bf657).
TEST_CASE("a line cut off after a complete value is rejected as truncated JSON",
          "[integration][rejects]") {
  sluice_fixture fx;
  const std::string cut =
      R"({"date": "2019-01-05T08:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501)";
  const std::string content = login_line(1) + "\n" + cut + "\n" + login_line(2) + "\n";
  fx.write_file("hubdoc/cut.log", content);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  check_file_conserved(fx, "hubdoc/cut.log", content);
  auto reason = fx.text("select reason from sluice.rejects where record = 2");
  CHECK_THAT(reason, Catch::Contains("truncated"));
}

TEST_CASE("a pretty-printed JSON document and a top-level array of objects load like NDJSON",
          "[integration][conservation]") {
  sluice_fixture fx;
  const std::string pretty =
      "{\n  \"date\": \"2019-01-05T08:00:00-05:00\",\n  \"log_type\": \"LOGIN\",\n  \"level\": \"INFO\",\n"
      "  \"account\": 801,\n  \"details\": \"web login\"\n}\n";
  const std::string array = "[\n  " + login_line(802) + ",\n  " + login_line(803, "a, b ] c") + ",\n  42,\n  " +
                            login_line(804) + "\n]\n";
  fx.write_file("hubdoc/one-event.json.log", pretty);
  fx.write_file("hubdoc/events-array.ndjson", array);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(fx.staging_rows(fx.file_id("hubdoc/one-event.json.log")) == 1);
  auto array_id = fx.file_id("hubdoc/events-array.ndjson");
  CHECK(fx.staging_rows(array_id) == 3);
  CHECK(fx.rejects(array_id) == 1);
  CHECK(fx.scalar("select record from sluice.rejects where file_id = $1", {std::to_string(array_id)}) == 3);
  CHECK(fx.scalar("select line from sluice.rejects where file_id = $1", {std::to_string(array_id)}) == 4);
  CHECK(fx.scalar("select _record from staging.hubdoc_login where account = 804") == 4);
  CHECK(fx.text("select details from staging.hubdoc_login where account = 803") == "a, b ] c");
  CHECK(fx.text("select string_agg(state, ',') from sluice.files") == "loaded,loaded");
  CHECK(fx.duplicate_staging_keys() == 0);
}

// Regression: in a top-level JSON array, a string element with spaces
// ("not an object") was split at the spaces into three records (`"not`, `an`,
// `object"`), so records_done counted 5 for 3 records (fixed in f8bf657).
TEST_CASE("a string element of a top-level array is one reject",
          "[integration][rejects]") {
  sluice_fixture fx;
  const std::string array = "[\n  " + login_line(802) + ",\n  \"not an object\",\n  " + login_line(804) + "\n]\n";
  fx.write_file("hubdoc/events-array.log", array);
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  auto id = fx.file_id("hubdoc/events-array.log");
  CHECK(fx.staging_rows(id) == 2);
  CHECK(fx.rejects(id) == 1);
  CHECK(fx.scalar("select records_done from sluice.files where id = $1", {std::to_string(id)}) == 3);
  CHECK(fx.scalar("select _record from staging.hubdoc_login where account = 804") == 3);
  CHECK_THAT(fx.text("select reason from sluice.rejects where file_id = $1", {std::to_string(id)}),
             Catch::Contains("got a string"));
}

}  // namespace sluice::testing

// .gz files with `sluice run`: every format loads as its content with positions
// in the content; concatenated members; a damaged member loads no row and is one
// reject naming its bytes, the members after it load; a truncated file ends in
// one reject saying why; a .gz still being written waits for the rest; a refused
// row's raw text comes from the content; a copy is a duplicate; kill -9 mid-load.
#include <catch2/catch.hpp>

#include <signal.h>

#include <random>
#include <thread>

#include "support/gzip.h"
#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"
#include "support/sales_input.h"

namespace sluice::testing {

TEST_CASE("a .csv.gz and a .log.gz load as their content, with positions in the content",
          "[integration][gzip]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 20'000, 51, 101);
  fx.write_file("test-sales/2024-02.csv.gz", gzip_of(made.content));
  auto generated = fx.generate_hubdoc(5'000, 52, "hubdoc/generated.tmp");
  auto events = read_file(generated);
  std::filesystem::remove(generated);
  // Two members, as `cat a.gz b.gz` or a log compressed in pieces makes.
  auto cut = events.find('\n', events.size() / 2) + 1;
  fx.write_file("hubdoc/2019-01.log.gz", gzip_of(events.substr(0, cut)) + gzip_of(events.substr(cut), 9));
  auto run = fx.run_once({"--batch-mb", "1"});
  INFO(run.describe());
  REQUIRE(run.ok());
  check_conserved(fx, "test-sales/2024-02.csv.gz", 20'000, static_cast<std::int64_t>(made.content.size()));
  check_file_conserved(fx, "hubdoc/2019-01.log.gz", events);
  auto id = std::to_string(fx.file_id("test-sales/2024-02.csv.gz"));
  CHECK(fx.rejects(std::stoll(id)) == made.traps.at("bad_price"));
  // A reject's offset and line point into the decompressed content.
  auto first = fx.db().exec_params("select byte_offset, line, raw from sluice.rejects where file_id = $1"
                                   " order by record limit 1", {id});
  REQUIRE(first.rows() == 1);
  auto offset = static_cast<std::size_t>(first.int64(0, 0));
  auto raw = std::string(first.text(0, 2));
  CHECK(made.content.compare(offset, raw.size(), raw) == 0);
  CHECK(first.int64(0, 1) == 1 + std::count(made.content.begin(), made.content.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

TEST_CASE("a corrupt, truncated or not-gzip .gz loads what is intact and has one reject saying why",
          "[integration][gzip][rejects]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 30'000, 53, 0);
  auto compressed = gzip_of(made.content);
  // Two members, the second damaged in its middle: such damage often inflates
  // to garbage that only the member's CRC reveals, so none of it may load.
  auto cut = made.content.find('\n', made.content.size() / 3) + 1;
  auto first_rows = std::count(made.content.begin(), made.content.begin() + static_cast<std::ptrdiff_t>(cut), '\n') - 1;
  auto second = gzip_of(made.content.substr(cut));
  for (std::size_t at = second.size() / 2; at < second.size() / 2 + 64; ++at) second[at] = static_cast<char>(second[at] ^ 0x5a);
  fx.write_file("test-sales/corrupt.csv.gz", gzip_of(made.content.substr(0, cut)) + second);
  fx.write_file("test-sales/truncated.csv.gz", compressed.substr(0, compressed.size() * 2 / 3));
  fx.write_file("test-sales/not-gzip.csv.gz", made.content.substr(0, 5000));
  auto run = fx.run_once();
  INFO(run.describe());
  // The damaged member and the bytes that are not gzip are lost parts: those
  // files are not loaded completely (the truncated one ends as it always did).
  CHECK(run.exited);
  CHECK(run.code == 1);
  CHECK(run.output.find("2 not loaded completely") != std::string::npos);
  for (const char* path : {"test-sales/corrupt.csv.gz", "test-sales/truncated.csv.gz", "test-sales/not-gzip.csv.gz"}) {
    INFO(path);
    auto id = std::to_string(fx.file_id(path));
    auto ledger = fx.db().exec_params(
        "select state, records_done, rows_loaded, rows_rejected, bytes_done from sluice.files where id = $1", {id});
    REQUIRE(ledger.rows() == 1);
    CHECK(ledger.text(0, 0) == "loaded");
    auto records = ledger.int64(0, 1);
    CHECK(ledger.int64(0, 2) + ledger.int64(0, 3) == records);
    CHECK(fx.staging_rows(std::stoll(id)) == ledger.int64(0, 2));
    CHECK(fx.rejects(std::stoll(id)) == 1);
    // What loaded is the file's first rows, in order, exactly.
    CHECK(fx.scalar("select count(*) from staging.test_sales where _file_id = $1 and sale_id <> _record", {id}) == 0);
    auto reject = fx.db().exec_params("select record, reason, byte_offset from sluice.rejects where file_id = $1", {id});
    CHECK(reject.int64(0, 0) == records);
    std::string reason(reject.text(0, 1));
    if (std::string(path) == "test-sales/corrupt.csv.gz") {
      CHECK(reason.find("gzip member 2 (compressed bytes") != std::string::npos);
      CHECK(ledger.int64(0, 2) == first_rows);
    } else if (std::string(path) == "test-sales/truncated.csv.gz") {
      CHECK(reason.find("without its end marker") != std::string::npos);
      CHECK(ledger.int64(0, 2) > 10'000);
      CHECK(ledger.int64(0, 2) < 30'000);
    } else {
      CHECK(reason.find("not gzip data") != std::string::npos);
      CHECK(ledger.int64(0, 2) == 0);
    }
  }
  CHECK(run.output.find("the rest of the file after record") != std::string::npos);
}

TEST_CASE("a .gz still being written is read as far as it goes, and the rest when it comes",
          "[integration][gzip][daemon]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 20'000, 55, 0);
  auto compressed = gzip_of(made.content);
  const std::string path = "test-sales/writing.csv.gz";
  // Written in place, without a rename: the daemon sees it grow.
  std::filesystem::create_directories(fx.inbox() / "test-sales");
  fx.append_file(path, compressed.substr(0, compressed.size() / 2));
  auto daemon = fx.start_sluice({"--settle-ms", "100"}, "gz-daemon.log");
  auto rows_in = [&] { return fx.scalar("select count(*) from staging.test_sales"); };
  REQUIRE(wait_until([&] { return rows_in() > 1000; }, 30s));
  std::this_thread::sleep_for(500ms);
  auto partial = rows_in();
  CHECK(partial < 20'000);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);  // a cut stream is not an error
  fx.append_file(path, compressed.substr(compressed.size() / 2));
  REQUIRE(wait_until([&] { return rows_in() == 20'000; }, 60s));
  daemon->signal(SIGTERM);
  auto ended = daemon->wait_for(30s);
  REQUIRE(ended.has_value());
  INFO(ended->describe());
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  CHECK(fx.duplicate_staging_keys() == 0);
  CHECK(fx.scalar("select max(_record) from staging.test_sales") == 20'000);
}

TEST_CASE("a row the warehouse refuses in a .gz file becomes a reject with its raw text",
          "[integration][gzip][rejects]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  fx.db().exec(R"sql(
    create function staging.refuse_sale_13() returns trigger language plpgsql as $$
    begin
      if new.sale_id = 13 then raise exception 'sale 13 is not welcome'; end if;
      return new;
    end $$;
    create trigger refuse_13 before insert on staging.test_sales for each row execute function staging.refuse_sale_13();
  )sql");
  auto made = generate_sales(fx, 5'000, 57, 0);
  fx.write_file("test-sales/refused.csv.gz", gzip_of(made.content));
  auto run = fx.run_once();
  INFO(run.describe());
  REQUIRE(run.ok());
  check_conserved(fx, "test-sales/refused.csv.gz", 5'000, static_cast<std::int64_t>(made.content.size()));
  auto reject = fx.db().exec("select raw, reason from sluice.rejects");
  REQUIRE(reject.rows() == 1);
  auto line_start = made.content.find("\n13,") + 1;
  auto line = made.content.substr(line_start, made.content.find('\n', line_start) - line_start);
  CHECK(reject.text(0, 0) == line);
  CHECK(std::string(reject.text(0, 1)).find("sale 13 is not welcome") != std::string::npos);
}

TEST_CASE("a .gz dropped again under another name is a duplicate", "[integration][gzip][exactly-once]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 3'000, 59, 0);
  auto compressed = gzip_of(made.content);
  fx.write_file("test-sales/a.csv.gz", compressed);
  REQUIRE(fx.run_once().ok());
  fx.write_file("test-sales/b.csv.gz", compressed);
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(fx.staging_rows() == 3'000);
  CHECK(fx.text("select state from sluice.files where path = 'test-sales/b.csv.gz'") == "duplicate");
  // And a restart reads nothing of either.
  auto third = fx.run_once();
  REQUIRE(third.ok());
  CHECK(fx.staging_rows() == 3'000);
  CHECK(fx.scalar("select count(*) from sluice.files") == 2);
}

TEST_CASE("kill -9 during a gzip load, then --once: nothing lost, nothing doubled",
          "[integration][gzip][exactly-once][slow]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto made = generate_sales(fx, 1'000'000, 61, 499);
  check_killed_load_is_exactly_once(fx, "test-sales/big.csv.gz", gzip_of(made.content, 1), made, 1'000'000);
}

}  // namespace sluice::testing

namespace sluice::testing {

namespace {

// staging.test_events and feed test_events: test-events/*.ndjson(.gz), one
// object per line {"id": N, "v": "..."}.
void declare_events_feed(sluice_fixture& fx) {
  fx.db().exec(R"sql(
    create table staging.test_events (
      _file_id bigint not null,
      _record  bigint not null,
      id       integer not null,
      v        text not null
    );
    insert into sluice.feeds (name, file_globs, format)
      values ('test_events', '{test-events/*.ndjson,test-events/*.ndjson.gz}', 'ndjson');
    insert into sluice.feed_targets (feed, target_table) values ('test_events', 'staging.test_events');
    insert into sluice.feed_columns (feed, target_table, column_name, json_pointer) values
      ('test_events', 'staging.test_events', 'id', '/id'),
      ('test_events', 'staging.test_events', 'v',  '/v');
  )sql");
}

std::string event_lines(std::int64_t first, std::int64_t count) {
  std::string out;
  std::mt19937 rng(static_cast<unsigned>(first));
  for (auto id = first; id < first + count; ++id) {
    out += "{\"id\":" + std::to_string(id) + ",\"v\":\"row " + std::to_string(id) + " " + std::to_string(rng()) + "\"}\n";
  }
  return out;
}

enum class damage { crc, deflate_data };

// A gzip member damaged the way a bad disk or a bad copy does: its CRC flipped
// (the data inflates fine, only the check fails), or a few bytes of its deflate
// data flipped.
std::string damaged(std::string member, damage how) {
  if (how == damage::crc) {
    member[member.size() - 8] = static_cast<char>(member[member.size() - 8] ^ 0xff);
  } else {
    for (std::size_t at = member.size() / 2; at < member.size() / 2 + 4; ++at) {
      member[at] = static_cast<char>(member[at] ^ 0x5a);
    }
  }
  return member;
}

// What `sluice run --once` says and the ledger holds for a file with a lost
// part: one reject naming the compressed bytes, not loaded completely, rc 1.
void check_lost_part(sluice_fixture& fx, const exit_status& run, const std::string& path, std::int64_t loaded,
                     const std::string& lost_bytes, const std::string& member, int damaged_files = 1) {
  INFO(run.describe());
  CHECK(run.exited);
  CHECK(run.code == 1);
  CHECK(run.output.find(std::to_string(damaged_files) + " not loaded completely") != std::string::npos);
  CHECK(run.output.find(path + ": not loaded completely: " + member) != std::string::npos);
  auto id = fx.file_id(path);
  auto ledger = fx.db().exec_params(
      "select records_done, rows_loaded, rows_rejected, coalesce(reason, '') from sluice.files where id = $1",
      {std::to_string(id)});
  REQUIRE(ledger.rows() == 1);
  CHECK(ledger.int64(0, 1) == loaded);
  CHECK(ledger.int64(0, 1) + ledger.int64(0, 2) == ledger.int64(0, 0));
  CHECK(fx.staging_rows(id) == loaded);
  CHECK(std::string(ledger.text(0, 3)).find(member) != std::string::npos);
  auto rejects = fx.db().exec_params("select reason from sluice.rejects where file_id = $1", {std::to_string(id)});
  REQUIRE(rejects.rows() == 1);
  std::string reason(rejects.text(0, 0));
  INFO(reason);
  CHECK(reason.find(member) != std::string::npos);
  CHECK(reason.find(lost_bytes) != std::string::npos);
}

}  // namespace

TEST_CASE("a gzip member that fails its CRC or has bad deflate data loads no row, and the members after it load",
          "[integration][gzip][rejects]") {
  sluice_fixture fx;
  declare_events_feed(fx);
  declare_sales_feed(fx);
  auto how = GENERATE(damage::crc, damage::deflate_data);
  INFO((how == damage::crc ? "CRC flipped" : "deflate data flipped"));
  // NDJSON: 3 members of 10,000 rows, ids 1..30,000.
  auto m1 = gzip_of(event_lines(1, 10'000));
  auto m2 = damaged(gzip_of(event_lines(10'001, 10'000)), how);
  auto m3 = gzip_of(event_lines(20'001, 10'000));
  fx.write_file("test-events/three.ndjson.gz", m1 + m2 + m3);
  // CSV: the same cut of a sales export (the header in the first member).
  auto made = generate_sales(fx, 30'000, 71, 0);
  auto row_end = [&](std::size_t rows) {  // content offset after the header and `rows` rows
    std::size_t at = made.content.find('\n') + 1;
    for (std::size_t i = 0; i < rows; ++i) at = made.content.find('\n', at) + 1;
    return at;
  };
  auto c1 = gzip_of(made.content.substr(0, row_end(10'000)));
  auto c2 = damaged(gzip_of(made.content.substr(row_end(10'000), row_end(20'000) - row_end(10'000))), how);
  auto c3 = gzip_of(made.content.substr(row_end(20'000)));
  fx.write_file("test-sales/three.csv.gz", c1 + c2 + c3);
  auto run = fx.run_once({"--batch-mb", "1"});
  auto bytes = [](std::size_t from, std::size_t to) { return std::to_string(from) + ".." + std::to_string(to); };
  {
    INFO("ndjson");
    check_lost_part(fx, run, "test-events/three.ndjson.gz", 20'000, bytes(m1.size(), m1.size() + m2.size()), "gzip member 2", 2);
    CHECK(fx.scalar("select count(*) from staging.test_events where id between 10001 and 20000") == 0);
    CHECK(fx.scalar("select count(distinct id) from staging.test_events where id between 1 and 10000 or id between 20001 and 30000") == 20'000);
    // Each row carries its own value: nothing glued, nothing shifted.
    CHECK(fx.scalar("select count(*) from staging.test_events where v not like 'row ' || id || ' %'") == 0);
  }
  {
    INFO("csv");
    check_lost_part(fx, run, "test-sales/three.csv.gz", 20'000, bytes(c1.size(), c1.size() + c2.size()), "gzip member 2", 2);
    CHECK(fx.scalar("select count(*) from staging.test_sales where sale_id between 10001 and 20000") == 0);
    CHECK(fx.scalar("select count(distinct sale_id) from staging.test_sales where sale_id between 1 and 10000 or sale_id between 20001 and 30000") == 20'000);
  }
  // Not loaded completely, and a restart reads nothing of it again.
  auto again = fx.run_once();
  INFO(again.describe());
  CHECK(fx.staging_rows() == 40'000);
  CHECK(fx.duplicate_staging_keys() == 0);
}

TEST_CASE("a single-member .gz whose CRC fails loads no row and says why, rc 1", "[integration][gzip][rejects]") {
  sluice_fixture fx;
  declare_events_feed(fx);
  auto member = damaged(gzip_of(event_lines(1, 5'000)), damage::crc);
  fx.write_file("test-events/one.ndjson.gz", member);
  auto run = fx.run_once();
  check_lost_part(fx, run, "test-events/one.ndjson.gz", 0, "0.." + std::to_string(member.size()), "gzip member 1");
  CHECK(fx.scalar("select count(*) from staging.test_events") == 0);
}

TEST_CASE("the daemon loads no row of a settled .gz member that fails its CRC, and the members after it",
          "[integration][gzip][daemon]") {
  sluice_fixture fx;
  declare_events_feed(fx);
  auto daemon = fx.start_sluice({"--settle-ms", "100"}, "gz-damaged-daemon.log");
  auto m1 = gzip_of(event_lines(1, 10'000));
  auto m2 = damaged(gzip_of(event_lines(10'001, 10'000)), damage::crc);
  auto m3 = gzip_of(event_lines(20'001, 10'000));
  fx.write_file("test-events/three.ndjson.gz", m1 + m2 + m3);
  REQUIRE(wait_until([&] {
    return fx.scalar("select count(*) from sluice.files where path = 'test-events/three.ndjson.gz' and state = 'loaded'") == 1;
  }, 60s));
  daemon->signal(SIGTERM);
  auto ended = daemon->wait_for(30s);
  REQUIRE(ended.has_value());
  INFO(ended->describe());
  CHECK(fx.scalar("select count(*) from staging.test_events") == 20'000);
  CHECK(fx.scalar("select count(*) from staging.test_events where id between 10001 and 20000") == 0);
  auto id = std::to_string(fx.file_id("test-events/three.ndjson.gz"));
  CHECK(fx.scalar("select count(*) from sluice.rejects where file_id = $1 and reason like '%member 2%'", {id}) == 1);
  CHECK(fx.scalar("select count(*) from sluice.rejects where file_id = $1", {id}) == 1);
  CHECK(fx.text("select coalesce(reason, '') from sluice.files where id = $1", {id}).find("member 2") != std::string::npos);
}

}  // namespace sluice::testing

namespace sluice::testing {

namespace {

// `content` as gzip members cut at line breaks, `members` of them.
std::string gzip_in_members(const std::string& content, int members) {
  std::string out;
  std::size_t at = 0;
  for (int i = 1; i <= members; ++i) {
    auto end = i == members ? content.size() : content.find('\n', content.size() * static_cast<std::size_t>(i) / static_cast<std::size_t>(members)) + 1;
    out += gzip_of(content.substr(at, end - at));
    at = end;
  }
  return out;
}

}  // namespace

TEST_CASE("a .csv.gz whose content equals a loaded .csv is a duplicate, however it is split into members",
          "[integration][gzip][identity][exactly-once]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto members = GENERATE(1, 3);
  auto rows = GENERATE(500, 60'000);  // hashed whole before the lookup, or only once its content size is known
  INFO(members << " members, " << rows << " rows");
  auto made = generate_sales(fx, static_cast<std::uint64_t>(rows), 81, 0);
  fx.write_file("test-sales/export.csv", made.content);
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  fx.write_file("test-sales/export.csv.gz", gzip_in_members(made.content, members));
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());
  CHECK(fx.staging_rows() == rows);
  CHECK(fx.duplicate_staging_keys() == 0);
  CHECK(fx.text("select state from sluice.files where path = 'test-sales/export.csv.gz'") == "duplicate");
  CHECK(fx.scalar("select count(*) from staging.test_sales where _file_id = $1",
                  {std::to_string(fx.file_id("test-sales/export.csv.gz"))}) == 0);
}

TEST_CASE("a plain .csv whose content equals a loaded .csv.gz is a duplicate", "[integration][gzip][identity][exactly-once]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto rows = GENERATE(500, 60'000);
  INFO(rows << " rows");
  auto made = generate_sales(fx, static_cast<std::uint64_t>(rows), 83, 0);
  fx.write_file("test-sales/export.csv.gz", gzip_in_members(made.content, 3));
  auto first = fx.run_once();
  INFO(first.describe());
  REQUIRE(first.ok());
  fx.write_file("test-sales/export.csv", made.content);
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());
  CHECK(fx.staging_rows() == rows);
  CHECK(fx.text("select state from sluice.files where path = 'test-sales/export.csv'") == "duplicate");
}

}  // namespace sluice::testing

// Assertions shared by the integration tests (Catch2 CHECKs, so that one test
// reports every broken invariant, not just the first).
#pragma once

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "support/fixture.h"

namespace sluice::testing {

// Whether the memory bounds of the tests hold in this build: not under a
// sanitizer (ASan's quarantine and shadow memory alone hold hundreds of MB);
// the plain suite checks them.
#ifdef SLUICE_SANITIZED
inline constexpr bool memory_bounds_hold = false;
#else
inline constexpr bool memory_bounds_hold = true;
#endif

// Peak resident set size of a running process in kB (VmHWM), 0 once it is gone.
inline std::int64_t peak_rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

// Hubdoc LOGIN lines (login_line()) of accounts [first, first + count) that
// are not exactly once in staging.hubdoc_login: 0 when each is there once.
inline std::int64_t accounts_not_once(sluice_fixture& fx, int first, int count) {
  return fx.scalar(
      "select count(*) from generate_series($1::int, $2::int) a(account)"
      " left join (select account, count(*) n from staging.hubdoc_login group by 1) s using (account)"
      " where coalesce(s.n, 0) <> 1",
      {std::to_string(first), std::to_string(first + count - 1)});
}

// Invariant 1 (conservation) for one file of the inbox, loaded to its end:
// every record is exactly one staging row or one reject, the ledger's counters
// agree with the tables, and the records are numbered 1..N without gap or repeat
// across staging and rejects.
//
// `records` and `content_bytes`: what the file holds (for a .gz file, its
// content: the ledger counts decompressed bytes).
inline void check_conserved(sluice_fixture& fx, const std::string& relative_path, std::int64_t records,
                            std::int64_t content_bytes) {
  INFO("file " << relative_path);
  auto id = fx.file_id(relative_path);
  REQUIRE(id > 0);
  auto loaded = fx.staging_rows(id);
  auto rejected = fx.rejects(id);
  INFO("records in input " << records << ", staging rows " << loaded << ", rejects " << rejected);
  CHECK(loaded + rejected == records);

  auto ledger = fx.db().exec_params(
      "select state, bytes_done, records_done, rows_loaded, rows_rejected from sluice.files where id = $1",
      {std::to_string(id)});
  REQUIRE(ledger.rows() == 1);
  CHECK(ledger.text(0, 0) == "loaded");
  CHECK(ledger.int64(0, 1) == content_bytes);
  CHECK(ledger.int64(0, 2) == records);
  CHECK(ledger.int64(0, 3) == loaded);
  CHECK(ledger.int64(0, 4) == rejected);

  auto ordinals = fx.db().exec_params(
      "select count(*), count(distinct r), coalesce(min(r), 0), coalesce(max(r), 0) from ("
      " select _record as r from (" + fx.staging_union() + ") s where _file_id = $1"
      " union all select record from sluice.rejects where file_id = $1) o",
      {std::to_string(id)});
  INFO("records numbered: count, distinct, min, max");
  CHECK(ordinals.int64(0, 0) == records);
  CHECK(ordinals.int64(0, 1) == records);
  CHECK(ordinals.int64(0, 2) == (records > 0 ? 1 : 0));
  CHECK(ordinals.int64(0, 3) == records);
}

// An NDJSON file: every non-blank line is a record.
inline void check_file_conserved(sluice_fixture& fx, const std::string& relative_path,
                                 std::string_view content) {
  check_conserved(fx, relative_path, static_cast<std::int64_t>(count_records(content)),
                  static_cast<std::int64_t>(content.size()));
}

// Starts `sluice run` (the daemon) on fx's inbox with a short settle time and
// waits until it watches.
inline std::unique_ptr<child_process> start_daemon(sluice_fixture& fx, const std::string& log_name = "daemon.log",
                                                   const std::string& settle_ms = "200") {
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  auto daemon = fx.start_sluice({"--settle-ms", settle_ms}, log_name);
  bool watching = wait_until(
      [&] { return daemon->output().find("watching") != std::string::npos || !daemon->running(); }, 20s);
  INFO(daemon->output());
  REQUIRE(watching);
  REQUIRE(daemon->running());
  return daemon;
}

// SIGTERM, then the daemon must exit 0 within `bound`.
inline void stop_daemon(child_process& daemon, std::chrono::milliseconds bound = 20s) {
  daemon.signal(SIGTERM);
  auto ended = daemon.wait_for(bound);
  INFO(daemon.output());
  REQUIRE(ended.has_value());
  INFO(ended->describe());
  CHECK(ended->ok());
}

// Kills `sluice run --once` with SIGKILL up to `attempts` times, each a random
// 0..max_delay after it committed more of `path`, checking that nothing is
// doubled (and `after_kill`) after each kill. Transactions end every 2 MB
// (--stream-mb 2) so that kills land between and inside streamed ones.
// Returns how many kills landed before the file's `records` were all done:
// the run is stopped (SIGSTOP) before that is looked at, so that what is
// counted is where the kill landed, not where it was aimed. The first
// attempt waits no extra delay: a machine that loads the whole file within
// max_delay of its first commit (it did, a .csv.gz in 0.1 s) still gets one
// kill mid-load.
inline int kill_loads_midway(sluice_fixture& fx, const std::string& path, std::int64_t records, int attempts,
                             std::chrono::milliseconds max_delay, const std::string& log_prefix,
                             const std::function<void()>& after_kill = {}) {
  auto records_done = [&] { return fx.scalar("select max(records_done) from sluice.files where path = $1", {path}); };
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<std::int64_t> delay_ms(0, max_delay.count());
  int kills_mid_load = 0;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto before = records_done();
    if (before >= records) break;
    auto run = fx.start_sluice({"--once", "--batch-mb", "1", "--stream-mb", "2"},
                               log_prefix + "-" + std::to_string(attempt) + ".log");
    REQUIRE(wait_until([&] { return records_done() > before || !run->running(); }, 90s, 5ms));
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    run->signal(SIGSTOP);
    bool midway = run->running() && records_done() < records;
    auto killed = run->kill();
    if (killed.signal == SIGKILL && midway) ++kills_mid_load;
    CHECK(fx.duplicate_staging_keys() == 0);
    if (after_kill) after_kill();
  }
  return kills_mid_load;
}

inline std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Rows in `actual` but not `expected`, plus the other way round (0: equal as multisets).
inline std::int64_t difference(sluice_fixture& fx, const std::string& actual, const std::string& expected) {
  return fx.scalar("select (select count(*) from ((" + actual + ") except all (" + expected + ")) a)"
                   " + (select count(*) from ((" + expected + ") except all (" + actual + ")) b)");
}

// One text value: every row of `query` (ordered), joined, with the row count
// (to compare the same query's answer on two databases).
inline std::string rows_of(warehouse::connection& db, const std::string& query) {
  return std::string(db.exec("select count(*) || ': ' || coalesce(string_agg(q::text, ' ' order by q::text), '')"
                             " from (" + query + ") q").text(0, 0));
}

}  // namespace sluice::testing

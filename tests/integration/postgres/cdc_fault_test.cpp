// Change data capture under faults: sluice killed during the snapshot, the
// servers crashed while the daemon copies or streams, a source transaction too
// large to hold, two daemons at once, a claim lost with its session, the
// warehouse's disk full. Each fault is checked to land mid-work; the
// invariants are the ones of cdc_test.cpp: every mirror equals its source
// table, and the change log holds each source change exactly once. Slots
// lost or held: cdc_slot_test.cpp; tables changing shape: cdc_columns_test.cpp.
#include <catch2/catch.hpp>

#include <signal.h>

#include <array>
#include <atomic>
#include <thread>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"
#include "support/small_disk.h"

namespace sluice::testing {

TEST_CASE("kill -9 of sluice during the initial snapshot commits none of it, and the next run copies each row once",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  constexpr std::int64_t rows = 2'000'000;
  src.db().exec(
      "create table big (id bigint primary key, payload text);"
      "insert into big select i, md5(i::text) from generate_series(1, " + std::to_string(rows) + ") i;"
      "create publication big_pub for table big;");
  add_source(fx, "app", src, "big_pub");

  auto first = fx.start_sluice({"--once"}, "snapshot-killed.log");
  // Kill once the warehouse is receiving the copy.
  std::int64_t copied_when_killed = 0;
  bool copying = wait_until(
      [&] {
        copied_when_killed = copy_progress(fx, "core.app_big").second;
        return copied_when_killed > 0 || !first->running();
      },
      120s, 5ms);
  first->kill();
  INFO(first->output());
  REQUIRE(copying);
  INFO("rows copied into the mirror when killed: " << copied_when_killed);
  CHECK(copied_when_killed > 0);
  CHECK(copied_when_killed < rows);  // the kill landed mid-copy
  // Nothing of the snapshot committed.
  CHECK(source_state(fx, "app") == "new");
  CHECK(fx.scalar("select count(*) from staging.app_big") == 0);
  CHECK(fx.scalar("select count(*) from core.app_big") == 0);

  src.db().exec("insert into big values (0, 'after the kill'); update big set payload = 'changed' where id = 7");
  auto second = fx.run_once();
  INFO(second.describe());
  REQUIRE(second.ok());
  CHECK(source_db::digest(fx.db(), "core.app_big") == source_db::digest(src.db(), "public.big"));
  // The copy is the mirror's alone (the insert and update made before it
  // are in it); the change log holds its marker only.
  CHECK(fx.scalar("select count(*) from core.app_big where id = 0") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_big where _op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_big where _op <> 's'") == 0);
  CHECK(doubled_changes(fx, "staging.app_big") == 0);
  CHECK(source_state(fx, "app") == "streaming");
  // One slot, sluice's, and it is not held by anyone.
  CHECK(src.db().exec("select string_agg(slot_name || ':' || active, ',') from pg_replication_slots"
                      " where database = current_database()").text(0, 0) == slot_of(fx, "app") + ":false");
}

TEST_CASE("the source and then the warehouse crashed (pg_ctl restart -m immediate) during the daemon's initial copy:"
          " it copies again by itself, each row once",
          "[integration][cdc][exclusive]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  constexpr std::int64_t rows = 600'000;
  src.db().exec(
      "create table big (id bigint primary key, payload text);"
      "insert into big select i, md5(i::text) from generate_series(1, " + std::to_string(rows) + ") i;"
      "create publication big_pub for table big;");
  add_source(fx, "app", src, "big_pub");
  auto daemon = start_daemon(fx);
  std::int64_t copier = 0;  // the warehouse backend of the copy the last crash cut
  for (int round = 0; round < 2; ++round) {
    // Crash once the warehouse is receiving a new copy.
    std::int64_t copied = 0;
    bool copying = fx.wait_until_reconnecting(
        [&] {
          auto [pid, rows_in] = copy_progress(fx, "core.app_big", copier);
          if (pid == 0) return false;
          copier = pid;
          copied = rows_in;
          return true;
        },
        120s, 5ms);
    INFO("round " << round << ": rows copied into the mirror when the server crashed: " << copied);
    REQUIRE(copying);
    auto restarted = crash_restart_server(fx, round == 0 ? source_admin_dsn() : admin_dsn());
    INFO(restarted.describe());
    REQUIRE(restarted.ok());
    fx.reconnect();
    src.reconnect();
    CHECK(copied < rows);  // mid-copy
    CHECK(source_state(fx, "app") == "new");  // none of it committed
  }
  src.db().exec("insert into big values (0, 'after the crashes')");
  INFO(daemon->output());
  CHECK(mirror_catches_up(fx, src, "core.app_big", "public.big", 180s));
  CHECK(source_state(fx, "app") == "streaming");
  // The copy is the mirror's alone; the change log holds its marker, and
  // the insert when the copy was taken before it.
  CHECK(fx.scalar("select count(*) from staging.app_big where _op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_big where _op <> 's' and (_op, id) <> ('i', 0)") == 0);
  CHECK(doubled_changes(fx, "staging.app_big") == 0);
  CHECK(daemon->running());
  stop_daemon(*daemon, 60s);
  // One slot, sluice's, and no other left behind.
  CHECK(src.db().exec("select string_agg(slot_name, ',') from pg_replication_slots"
                      " where database = current_database()").text(0, 0) == slot_of(fx, "app"));
}

TEST_CASE("the warehouse and then the source crashed (pg_ctl restart -m immediate) while the daemon streams: it"
          " recovers by itself, losing and doubling no change",
          "[integration][cdc][exclusive]") {
  // When the source lives on the warehouse's cluster, both rounds crash both.
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table items (id int primary key, n int not null);"
      "create table events (id bigserial primary key, item int, at timestamptz default clock_timestamp());"
      "insert into items select i, 0 from generate_series(1, 100) i;"
      "create publication shop_pub for table items, events;");
  add_source(fx, "app", src, "shop_pub");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));

  // Small source transactions, on and on; through the crash the workload
  // reconnects (a transaction whose commit it never heard of may or may not
  // be there: the checks compare with what the source holds).
  std::atomic<int> committed{0};
  workload_thread workload([&](const std::atomic<bool>& running) {
    int step = 0;
    while (running) {
      try {
        warehouse::connection w(src.dsn());
        while (running) {
          ++step;
          w.exec("begin; insert into events (item) values (" + std::to_string(step % 100 + 1) +
                 "); update items set n = n + 1 where id = " + std::to_string(step % 100 + 1) + "; commit");
          ++committed;
          std::this_thread::sleep_for(1ms);
        }
      } catch (const std::exception&) {
        std::this_thread::sleep_for(200ms);
      }
    }
  });
  for (int round = 0; round < 2; ++round) {
    // Changes are flowing; crash the server in the middle of them.
    auto target = committed.load() + 300;
    REQUIRE(wait_until([&] { return committed.load() >= target; }, 60s));
    std::int64_t streamed_before = 0;
    REQUIRE(fx.wait_until_reconnecting(
        [&] { return (streamed_before = fx.scalar("select count(*) from staging.app_events where _op = 'i'")) > 0; }, 60s, 20ms));
    auto restarted = crash_restart_server(fx, round == 0 ? admin_dsn() : source_admin_dsn());
    INFO(restarted.describe());
    REQUIRE(restarted.ok());
    fx.reconnect();
    src.reconnect();
    INFO("round " << round << ": changes in the warehouse just before the crash: " << streamed_before);
    CHECK(streamed_before < src.db().exec("select count(*) from events").int64(0, 0));  // mid-stream
  }
  // The workload goes on after the last crash for a while, then stops.
  auto target = committed.load() + 300;
  REQUIRE(wait_until([&] { return committed.load() >= target; }, 60s));
  workload.stop();

  src.reconnect();
  auto want_events = source_db::digest(src.db(), "public.events");
  auto want_items = source_db::digest(src.db(), "public.items");
  bool caught_up = fx.wait_until_reconnecting(
      [&] {
        return source_db::digest(fx.db(), "core.app_events") == want_events &&
               source_db::digest(fx.db(), "core.app_items") == want_items;
      },
      180s, 500ms);
  INFO(daemon->output());
  CHECK(caught_up);
  CHECK(daemon->running());
  auto events = src.db().exec("select count(*) from events").int64(0, 0);
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 'i'") == events);
  CHECK(fx.scalar("select count(distinct id) from staging.app_events where _op = 'i'") == events);
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'u'") ==
        src.db().exec("select sum(n) from items").int64(0, 0));
  CHECK(doubled_changes(fx, "staging.app_items") == 0);
  CHECK(doubled_changes(fx, "staging.app_events") == 0);
  CHECK(source_state(fx, "app") == "streaming");
  stop_daemon(*daemon, 60s);
}

TEST_CASE("a source transaction of 1M rows streams with flat memory and answered keepalives, also resumed mid-transaction"
          " after kill -9",
          "[integration][cdc][exclusive][slow]") {
  // The walsender gives up on a receiver silent for 5 s.
  server_setting timeout("wal_sender_timeout", "5s");
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec(
      "create table events (id bigint primary key, payload text);"
      "create publication ev_pub for table events;");
  add_source(fx, "app", src, "ev_pub");
  REQUIRE(fx.run_once().ok());  // the snapshot (empty)
  constexpr std::int64_t rows = 1'000'000;
  // One transaction: 1M rows with a 200-byte payload (~260 MB of change rows).
  src.db().exec("insert into events select i, repeat(md5(i::text), 7) || left(md5(i::text), 4)"
                " from generate_series(1, " + std::to_string(rows) + ") i");
  src.db().exec("insert into events values (0, 'a small transaction after it')");

  // Killed in the middle of the transaction's changes.
  auto first = fx.start_sluice({"--once"}, "killed-mid-transaction.log");
  std::int64_t applied_when_killed = 0;
  std::int64_t first_peak_kb = 0;
  bool some = wait_until(
      [&] {
        first_peak_kb = std::max(first_peak_kb, peak_rss_kb(first->pid()));
        applied_when_killed = fx.scalar("select count(*) from staging.app_events where _op = 'i'");
        return applied_when_killed > 0 || !first->running();
      },
      180s, 50ms);
  first->kill();
  WARN("sluice's peak RSS until the first changes of the 1M-row transaction committed: " << first_peak_kb / 1024
                                                                                         << " MB");
  if (memory_bounds_hold) CHECK(first_peak_kb < 120 * 1024);
  applied_when_killed = fx.scalar("select count(*) from staging.app_events where _op = 'i'");
  INFO("changes of the large transaction committed when killed: " << applied_when_killed);
  auto first_output = first->output();
  auto log_end = first_output.substr(first_output.size() - std::min<std::size_t>(first_output.size(), 3000));
  INFO("the killed run's log ends: ..." << log_end);
  CHECK(some);
  CHECK(applied_when_killed > 0);
  CHECK(applied_when_killed < rows);  // the kill landed mid-transaction

  // The rest, with sluice's peak RSS watched.
  auto started = std::chrono::steady_clock::now();
  auto second = fx.start_sluice({"--once"}, "rest.log");
  std::int64_t peak_kb = 0;
  std::optional<exit_status> ended;
  while (!(ended = second->wait_for(20ms))) peak_kb = std::max(peak_kb, peak_rss_kb(second->pid()));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(ended->describe());
  WARN("sluice's peak RSS over the rest of the 1M-row transaction: " << peak_kb / 1024 << " MB in " << seconds << " s");
  REQUIRE(ended->ok());
  CHECK(peak_kb > 0);
  // A whole-transaction buffer would hold ~260 MB of change rows.
  if (memory_bounds_hold) CHECK(peak_kb < 120 * 1024);
  CHECK(seconds > 5);  // long enough for a silent receiver to time out
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 'i'") == rows + 1);
  CHECK(fx.scalar("select count(distinct id) from staging.app_events where _op = 'i'") == rows + 1);
  CHECK(doubled_changes(fx, "staging.app_events") == 0);
  CHECK(source_db::digest(fx.db(), "core.app_events") == source_db::digest(src.db(), "public.events"));
}

TEST_CASE("two daemons started at once on one new source: one copies and streams it, the other takes over after"
          " a kill -9, and no change is lost or doubled",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  constexpr int rows = 20'000;
  src.db().exec(
      "create table items (id int primary key, n int not null);"
      "create table events (id bigserial primary key, item int);"
      "insert into items select i, 0 from generate_series(1, " + std::to_string(rows) + ") i;"
      "create publication shop_pub for table items, events;");
  // Both change logs keep every change, the snapshot's rows too (as a pack
  // that reads them asks): what was copied is counted there.
  fx.db().exec("insert into sluice.change_retention (change_log, keep, pack, reason) values"
               " ('staging.app_items', null, 'test', 'counts the copy'),"
               " ('staging.app_events', null, 'test', 'counts the copy')");
  add_source(fx, "app", src, "shop_pub");
  std::array<std::unique_ptr<child_process>, 2> daemons{fx.start_sluice({"--settle-ms", "200"}, "first.log"),
                                                        fx.start_sluice({"--settle-ms", "200"}, "second.log")};
  std::atomic<int> committed{0};
  workload_thread workload([&](const std::atomic<bool>& running) {
    warehouse::connection w(src.dsn());
    for (int step = 1; running; ++step) {
      auto item = std::to_string(step % rows + 1);
      w.exec("begin; insert into events (item) values (" + item + "); update items set n = n + 1 where id = " + item +
             "; commit");
      ++committed;
      std::this_thread::sleep_for(2ms);
    }
  });
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 90s));
  auto target = committed.load() + 300;
  REQUIRE(wait_until([&] { return committed.load() >= target; }, 60s));
  REQUIRE(fx.wait_until_reconnecting([&] { return fx.scalar("select count(*) from staging.app_events where _op = 'i'") > 0; }, 60s,
                                     50ms));

  // The one that copied the snapshot is killed mid-stream; the other goes on.
  auto copier = daemons[0]->output().find("snapshot of") != std::string::npos ? 0 : 1;
  INFO("first: " << daemons[0]->output());
  INFO("second: " << daemons[1]->output());
  daemons[copier]->kill();
  auto& survivor = *daemons[1 - copier];
  target = committed.load() + 300;
  REQUIRE(wait_until([&] { return committed.load() >= target; }, 60s));
  workload.stop();

  CHECK(mirror_catches_up(fx, src, "core.app_events", "public.events", 120s));
  CHECK(mirror_catches_up(fx, src, "core.app_items", "public.items", 60s));
  CHECK(survivor.running());
  CHECK(survivor.output().find("waiting to take over") != std::string::npos);
  CHECK(survivor.output().find("taken over") != std::string::npos);
  auto events = src.db().exec("select count(*) from events").int64(0, 0);
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'r'") == rows);  // one snapshot
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_events where _op in ('r', 'i')") == events);
  CHECK(fx.scalar("select count(distinct id) from staging.app_events") == events);
  // Each update after the snapshot once (the snapshot holds those before it).
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'u'") ==
        src.db().exec("select sum(n) from items").int64(0, 0) -
            fx.scalar("select sum(n) from staging.app_items where _op = 'r'"));
  CHECK(doubled_changes(fx, "staging.app_items") == 0);
  CHECK(doubled_changes(fx, "staging.app_events") == 0);
  CHECK(source_state(fx, "app") == "streaming");
  stop_daemon(survivor, 60s);
}

TEST_CASE("run --once beside a daemon that replicates the source waits --give-up-after-s for it, then says so and exits"
          " non-zero,"
          " leaving sluice.sources to the daemon",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec("create table items (id int primary key); create publication pub for table items;");
  add_source(fx, "app", src, "pub");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  auto started = std::chrono::steady_clock::now();
  // 5 s, not the 30 s it waits by default.
  auto once = fx.run_once({"--give-up-after-s", "5"}, 90s);
  auto took = std::chrono::steady_clock::now() - started;
  INFO(once.describe());
  CHECK(once.exited);
  CHECK(once.code == 1);
  CHECK(took >= 5s);
  CHECK(took < 25s);
  CHECK(once.output.find("another sluice replicates it") != std::string::npos);
  CHECK(source_error(fx, "app").empty());
  // The daemon still streams it.
  src.db().exec("insert into items values (1)");
  CHECK(wait_for_text(fx, "select count(*) from core.app_items", "1", 30s));
  stop_daemon(*daemon, 60s);
}

TEST_CASE("a daemon whose claim on a source ended with its session (backend terminated) stops streaming it and"
          " claims it again, doubling nothing",
          "[integration][cdc][exclusive]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec("create table events (id bigserial primary key, item int); create publication pub for table events;");
  add_source(fx, "app", src, "pub");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  std::atomic<int> committed{0};
  workload_thread workload([&](const std::atomic<bool>& running) {
    warehouse::connection w(src.dsn());
    while (running) {
      w.exec("insert into events (item) values (1)");
      ++committed;
      std::this_thread::sleep_for(2ms);
    }
  });
  REQUIRE(wait_until([&] { return committed.load() >= 200; }, 60s));
  // The session that holds the claim (warehouse::claim_source's advisory
  // lock) is ended; the batches go on other connections, which reconnect by
  // themselves.
  auto holder = [&] {
    return fx.scalar("select coalesce(max(l.pid), 0) from pg_locks l,"
                     " (select hashtextextended('sluice.source:app', 0) k) h where l.locktype = 'advisory'"
                     " and l.granted and l.objsubid = 1 and l.classid::bigint = (h.k >> 32) & 4294967295"
                     " and l.objid::bigint = h.k & 4294967295");
  };
  auto first = holder();
  REQUIRE(first != 0);
  fx.db().exec("select pg_terminate_backend(" + std::to_string(first) + ")");
  // Within the check interval (10 s) the run ends and a new one claims it.
  bool claimed_again = wait_until(
      [&] {
        auto now = holder();
        return now != 0 && now != first;
      },
      30s, 200ms);
  auto target = committed.load() + 300;
  REQUIRE(wait_until([&] { return committed.load() >= target; }, 60s));
  workload.stop();
  INFO(daemon->output());
  CHECK(claimed_again);
  CHECK(mirror_catches_up(fx, src, "core.app_events", "public.events", 60s));
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 'i'") ==
        src.db().exec("select count(*) from events").int64(0, 0));
  CHECK(doubled_changes(fx, "staging.app_events") == 0);
  stop_daemon(*daemon, 60s);
}

TEST_CASE("the warehouse's disk full while the daemon streams holds the source with the reason shown, and with room"
          " again it goes on, losing and doubling no change",
          "[integration][cdc][exclusive]") {
  // The change log on a 3 MB tmpfs (a tablespace): it fills mid-stream.
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec("create table events (id bigserial primary key, payload text); create publication pub for table events;");
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());  // the snapshot (empty): the tables exist
  small_disk disk(fx, "staging.app_events", "3M");

  auto daemon = start_daemon(fx);
  // ~20,000 changes of ~330 bytes: about 7 MB, more than the disk holds.
  src.db().exec("insert into events (payload) select repeat('p', 300) from generate_series(1, 2000)");
  for (int i = 0; i < 9; ++i) {
    src.db().exec("insert into events (payload) select repeat('q', 300) from generate_series(1, 2000)");
  }
  bool held = wait_for_text(fx, "select coalesce(last_error, '') like '%No space left on device%' from sluice.sources"
                                " where name = 'app'", "t", 60s);
  auto streamed = fx.scalar("select count(*) from staging.app_events");
  INFO(daemon->output());
  INFO("changes in the warehouse while the disk was full: " << streamed);
  REQUIRE(held);
  CHECK(streamed < 20'000);  // the disk filled mid-stream
  CHECK(daemon->running());

  // Room again: the daemon's next retry goes on from the applied position.
  disk.grow("64M");
  CHECK(mirror_catches_up(fx, src, "core.app_events", "public.events", 120s));
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 'i'") == 20'000);
  CHECK(doubled_changes(fx, "staging.app_events") == 0);
  CHECK(wait_for_text(fx, "select coalesce(last_error, '') from sluice.sources where name = 'app'", "", 30s));
  stop_daemon(*daemon, 60s);
}

// --give-up-after-s reaches a source as it reaches files: a --once run whose
// commits keep failing gives up after it, not after the default minute.
TEST_CASE("the warehouse's disk full under run --once makes it give up on the source after --give-up-after-s, and a"
          " later run goes on from the applied position, losing and doubling no change",
          "[integration][cdc][exclusive]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec("create table events (id bigserial primary key, payload text); create publication pub for table events;");
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());  // the snapshot (empty): the tables exist
  small_disk disk(fx, "staging.app_events", "3M");
  // ~20,000 changes of ~330 bytes in 10 transactions: about 7 MB.
  for (int i = 0; i < 10; ++i) {
    src.db().exec("insert into events (payload) select repeat('q', 300) from generate_series(1, 2000)");
  }

  auto started = std::chrono::steady_clock::now();
  auto once = fx.run_once({"--give-up-after-s", "3", "--batch-mb", "1"}, 120s);
  auto took = std::chrono::steady_clock::now() - started;
  INFO(once.describe());
  REQUIRE(once.exited);
  CHECK(once.code == 1);
  CHECK(took < 30s);
  CHECK(once.output.find("No space left on device") != std::string::npos);
  CHECK(once.output.find("source app") != std::string::npos);
  auto streamed = fx.scalar("select count(*) from staging.app_events");
  INFO("changes in the warehouse when it gave up: " << streamed);
  CHECK(streamed < 20'000);  // the disk filled mid-stream

  disk.grow("64M");
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(source_db::digest(fx.db(), "core.app_events") == source_db::digest(src.db(), "public.events"));
  CHECK(fx.scalar("select count(*) from staging.app_events where _op = 'i'") == 20'000);
  CHECK(doubled_changes(fx, "staging.app_events") == 0);
}

}  // namespace sluice::testing

// Change data capture when a source's replication slot is not as sluice left
// it: still held by another process, dropped, or dropped and made again under
// the same name. sluice waits, or stops that source with a clear error, and
// nothing else stops with it.
#include <catch2/catch.hpp>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"
#include "loader/sources/postgres/replication.h"

namespace sluice::testing {

TEST_CASE("a slot another process still holds (a killed run's walsender) is waited for, and --once then loads what"
          " waited",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  add_items_source(fx, src);
  REQUIRE(fx.run_once().ok());  // the snapshot (empty), and the slot
  const auto slot = slot_of(fx, "app");
  src.db().exec("insert into items select i, 'after the snapshot' from generate_series(1, 100) i");

  // Someone else streams from the slot, as the walsender of a run killed a
  // moment ago does until it notices.
  std::optional<loader::replication_connection> holder;
  holder.emplace(src.dsn(), "holder");
  holder->start(slot, 0, "pub", 0ms);
  auto run = fx.start_sluice({"--once"}, "waits.log");
  bool waiting = wait_until([&] { return run->output().find("held by another process") != std::string::npos; }, 30s);
  INFO(run->output());
  REQUIRE(waiting);
  std::this_thread::sleep_for(1s);
  CHECK(run->running());  // still waiting, not failed
  holder.reset();         // lets go of the slot

  auto ended = run->wait_for(60s);
  REQUIRE(ended);
  INFO(ended->describe());
  CHECK(ended->ok());
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 'i'") == 100);
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));

  // A daemon told to stop while it waits stops at once, not after the wait.
  holder.emplace(src.dsn(), "holder");
  holder->start(slot, 0, "pub", 0ms);
  auto daemon = start_daemon(fx, "waiting-daemon.log");
  REQUIRE(wait_until([&] { return daemon->output().find("held by another process") != std::string::npos; }, 30s));
  auto asked = std::chrono::steady_clock::now();
  stop_daemon(*daemon, 25s);
  CHECK(std::chrono::steady_clock::now() - asked < 10s);
}

TEST_CASE("a streaming source's slot is confirmed within a second of its changes' commit in the warehouse",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  add_items_source(fx, src);
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  const auto slot = slot_of(fx, "app");
  auto confirmed_past = [&](const std::string& lsn) {
    return src.db().exec("select coalesce(confirmed_flush_lsn > '" + lsn + "'::pg_lsn, false) from pg_replication_slots"
                         " where slot_name = '" + slot + "'").text(0, 0) == "t";
  };
  // Several transactions, each waited for: the status timer (10 s) must not
  // be what confirms them, nor the idle heartbeat.
  std::chrono::steady_clock::duration slowest{};
  for (int i = 1; i <= 5; ++i) {
    src.db().exec("begin");
    src.db().exec("insert into items values (" + std::to_string(i) + ", 'confirmed soon')");
    // Before the commit record: confirmed_flush_lsn passes it once the commit is confirmed.
    auto lsn = std::string(src.db().exec("select pg_current_wal_insert_lsn()::text").text(0, 0));
    src.db().exec("commit");
    REQUIRE(wait_for_text(fx, "select count(*) from core.app_items where id = " + std::to_string(i), "1", 30s));
    auto in_warehouse = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] { return confirmed_past(lsn); }, 20s, 10ms));
    slowest = std::max(slowest, std::chrono::steady_clock::now() - in_warehouse);
    std::this_thread::sleep_for(300ms);
  }
  INFO("slowest confirmation after the warehouse had the row: "
       << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms");
  CHECK(slowest < 1s);
  stop_daemon(*daemon, 60s);
}

TEST_CASE("sluice source drop removes a source a daemon streams and drops its slot: the source keeps no WAL for it",
          "[integration][cdc][lifecycle]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  add_items_source(fx, src);
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_source_state(fx, "app", "streaming", 60s));
  src.db().exec("insert into items values (1, 'kept in the warehouse')");
  REQUIRE(wait_for_text(fx, "select count(*) from core.app_items", "1", 30s));
  const auto slot = slot_of(fx, "app");
  REQUIRE(src.db().exec("select count(*) from pg_replication_slots where slot_name = '" + slot + "'").int64(0, 0) == 1);

  auto dropped = fx.command({"source", "drop", "app", "--dsn", fx.dsn()});
  INFO(dropped.describe());
  CHECK(dropped.ok());
  CHECK_THAT(dropped.output, Catch::Contains("dropped its replication slot " + slot));
  CHECK(src.db().exec("select count(*) from pg_replication_slots where slot_name = '" + slot + "'").int64(0, 0) == 0);
  CHECK(fx.scalar("select count(*) from sluice.sources") == 0);
  CHECK(fx.scalar("select count(*) from core.app_items") == 1);  // the data stays
  CHECK(daemon->running());
  stop_daemon(*daemon, 60s);

  // A source that cannot be reached: the row goes, and the SQL for its slot is printed.
  fx.db().exec("insert into sluice.sources (name, conninfo, publication, slot_name)"
               " values ('gone', 'host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2', 'pub', 'sluice_gone_0000')");
  auto unreachable = fx.command({"source", "drop", "gone", "--dsn", fx.dsn()});
  INFO(unreachable.describe());
  CHECK(unreachable.code == 1);
  CHECK_THAT(unreachable.output, Catch::Contains("select pg_drop_replication_slot('sluice_gone_0000');"));
  CHECK(fx.scalar("select count(*) from sluice.sources") == 0);
  CHECK(fx.command({"source", "drop", "nosuch", "--dsn", fx.dsn()}).code == 1);
}

TEST_CASE("a slot dropped behind sluice's back stops that source with a clear error, while other sources and the inbox go on",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db lost(source_name(fx, "lost_"));
  source_db kept(source_name(fx, "kept_"));
  for (auto* src : {&lost, &kept}) {
    src->db().exec("create table items (id int primary key, note text); create publication pub for table items;");
  }
  add_source(fx, "lost", lost, "pub");
  add_source(fx, "kept", kept, "pub");
  auto daemon = start_daemon(fx);
  REQUIRE(wait_for_text(fx, "select string_agg(state, ',' order by name) from sluice.sources", "streaming,streaming",
                        60s));
  lost.db().exec("insert into items values (1, 'before')");
  REQUIRE(wait_for_text(fx, "select count(*) from core.lost_items", "1", 30s));

  // Dropped while sluice streams from it: its walsender is ended first.
  const auto lost_slot = slot_of(fx, "lost");
  bool dropped = wait_until(
      [&] {
        try {
          lost.db().exec("select pg_terminate_backend(active_pid) from pg_replication_slots"
                         " where slot_name = '" + lost_slot + "' and active_pid is not null;"
                         "select pg_drop_replication_slot('" + lost_slot + "')");
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      20s, 50ms);
  REQUIRE(dropped);
  lost.db().exec("insert into items values (2, 'after the drop')");
  kept.db().exec("insert into items values (1, 'still flowing')");
  fx.write_file("hubdoc/after-drop.log", login_line(1) + "\n");

  CHECK(wait_for_source_state(fx, "lost", "stopped", 30s));
  auto error = source_error(fx, "lost");
  INFO("last_error: " << error);
  CHECK(error.find("sluice_lost") != std::string::npos);
  CHECK(error.find("gone") != std::string::npos);
  CHECK(wait_for_text(fx, "select count(*) from core.kept_items", "1", 30s));
  CHECK(wait_for_text(fx, "select count(*) from sluice.files where state = 'loaded'", "1", 30s));
  CHECK(source_state(fx, "kept") == "streaming");
  CHECK(fx.scalar("select count(*) from core.lost_items") == 1);
  // Stopped means stopped: no retry loop recreating anything on the source.
  std::this_thread::sleep_for(3s);
  CHECK(lost.db().exec("select count(*) from pg_replication_slots where slot_name = '" + lost_slot + "'").int64(0, 0) ==
        0);
  INFO(daemon->output());
  CHECK(daemon->output().find("sluice_lost") != std::string::npos);
  CHECK(daemon->running());
  stop_daemon(*daemon, 60s);

  // --once says so too, and exits non-zero.
  auto once = fx.run_once();
  INFO(once.describe());
  CHECK_FALSE(once.ok());
  CHECK(once.output.find("sluice_lost") != std::string::npos);
}

TEST_CASE("a slot dropped and recreated under the same name is detected, not streamed from as if nothing happened",
          "[integration][cdc]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  add_items_source(fx, src);
  REQUIRE(fx.run_once().ok());
  src.db().exec("insert into items values (1, 'streamed')");
  REQUIRE(fx.run_once().ok());
  // Behind sluice's back: dropped, a change nobody will send, then recreated.
  const auto slot = slot_of(fx, "app");
  src.db().exec("select pg_drop_replication_slot('" + slot + "')");
  src.db().exec("insert into items values (2, 'lost with the old slot')");
  src.db().exec("select pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
  src.db().exec("insert into items values (3, 'after the new slot')");

  auto run = fx.run_once();
  INFO(run.describe());
  CHECK_FALSE(run.ok());
  CHECK(source_state(fx, "app") == "stopped");
  auto error = source_error(fx, "app");
  INFO("last_error: " << error);
  CHECK(error.find("sluice_app") != std::string::npos);
  CHECK(error.find("recreated") != std::string::npos);
  // Nothing of the new slot's stream was taken for the old one's.
  CHECK(fx.scalar("select count(*) from staging.app_items where id = 3") == 0);

  // Copying afresh, as the message says, brings it back in step.
  fx.db().exec("update sluice.sources set state = 'new', last_error = null where name = 'app'");
  auto again = fx.run_once();
  INFO(again.describe());
  REQUIRE(again.ok());
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
}

}  // namespace sluice::testing

namespace sluice::testing {

TEST_CASE("changes past their source's keep_changes are pruned from the change log in batches, the mirror untouched,"
          " and a change log a pack keeps is left whole",
          "[integration][cdc][retention]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  src.db().exec("create table items (id int primary key, note text); create table notes (id int primary key);"
                " create publication pub for table items, notes;");
  src.db().exec("insert into items select i, 'first' from generate_series(1, 300) i");
  add_source(fx, "app", src, "pub");
  REQUIRE(fx.run_once().ok());  // the snapshot
  src.db().exec("update items set note = 'second'");
  src.db().exec("insert into notes select generate_series(1, 50)");
  REQUIRE(fx.run_once().ok());
  // The copy's marker and 300 updates (the copy itself is in the mirror).
  REQUIRE(fx.scalar("select count(*) from staging.app_items") == 301);
  CHECK(fx.text("select string_agg(source_table || '=' || change_log || '/' || mirror, ',' order by source_table)"
                " from sluice.source_tables") == "public.items=staging.\"app_items\"/core.\"app_items\","
                                                 "public.notes=staging.\"app_notes\"/core.\"app_notes\"");
  // Within keep_changes nothing goes.
  fx.db().exec("call sluice.prune_changes(100)");
  CHECK(fx.scalar("select count(*) from staging.app_items") == 301);

  // Kept for a moment only: every change older goes, 100 per transaction.
  fx.db().exec("update sluice.sources set keep_changes = '1 millisecond'");
  fx.db().exec("insert into sluice.change_retention (change_log, keep, pack, reason)"
               " values ('staging.app_notes', null, 'test', 'a test reads them all')");
  std::this_thread::sleep_for(50ms);
  fx.db().exec("call sluice.prune_changes(100)");
  // A copy's marker stays: it says where the change log begins.
  CHECK(fx.scalar("select count(*) from staging.app_items") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_items where _op = 's'") == 1);
  CHECK(fx.scalar("select count(*) from staging.app_notes") == 51);  // the pack's keep wins
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));

  // The daemon prunes when it starts (then every 10 minutes).
  src.db().exec("update items set note = 'third' where id <= 10");
  REQUIRE(fx.run_once().ok());
  REQUIRE(fx.scalar("select count(*) from staging.app_items") == 11);
  std::this_thread::sleep_for(50ms);
  auto daemon = start_daemon(fx);
  CHECK(wait_until([&] { return fx.scalar("select count(*) from staging.app_items") == 1; }, 20s));
  CHECK(source_db::digest(fx.db(), "core.app_items") == source_db::digest(src.db(), "public.items"));
  stop_daemon(*daemon, 60s);
}

}  // namespace sluice::testing

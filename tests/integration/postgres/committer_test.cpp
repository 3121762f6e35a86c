// The committer knows checkpoint_set, not files: a replication source's LSN
// checkpoint (warehouse/source_ledger.h) commits through it unchanged. These
// drive the committer directly against a real PostgreSQL.
#include <catch2/catch.hpp>

#include <mutex>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"
#include "loader/pipeline/batch.h"
#include "loader/pipeline/committer.h"
#include "warehouse/source_ledger.h"

namespace sluice::testing {
namespace {

// A replication source's checkpoints: commit LSNs, not file offsets.
class lsn_checkpoints final : public loader::checkpoint_set {
 public:
  std::vector<warehouse::source_advance> advances;

  loader::advance_result advance(warehouse::connection& conn,
                                 const std::map<std::int64_t, std::uint64_t>& /*refused*/) override {
    auto outcomes = warehouse::advance_sources(conn, advances);
    bool all_advanced = true;
    bool all_applied = true;
    for (auto o : outcomes) {
      all_advanced = all_advanced && o == warehouse::advance_outcome::advanced;
      all_applied = all_applied && o == warehouse::advance_outcome::already_applied;
    }
    if (all_advanced) return loader::advance_result::advanced;
    if (all_applied) return loader::advance_result::already_applied;
    return loader::advance_result::elsewhere;
  }
  std::string describe() const override { return "source " + advances.front().name; }
};

loader::batch items_batch(std::uint64_t seq, std::uint64_t from, std::uint64_t to, int first_id, int count) {
  loader::batch b;
  auto& table = b.table("copy staging.app_items (id, name) from stdin (format binary)");
  for (int id = first_id; id < first_id + count; ++id) {
    table.rows.begin_row(2);
    table.rows.put_int4(id);
    table.rows.put_text("item " + std::to_string(id));
    table.rows.end_row();
    table.origins.push_back(0);
  }
  b.loaded = static_cast<std::uint64_t>(count);
  auto checkpoints = std::make_unique<lsn_checkpoints>();
  checkpoints->advances.push_back({"app", {.applied_lsn = from}, {.applied_lsn = to}});
  b.checkpoints.push_back(std::move(checkpoints));
  b.turns.push_back({"source:app", seq});
  return b;
}

struct outcomes {
  std::mutex mutex;
  std::vector<loader::batch_outcome> seen;
  std::vector<std::string> errors;
};

}  // namespace

TEST_CASE("an LSN checkpoint commits through the committer with its rows exactly once",
          "[integration][committer]") {
  sluice_fixture fx;
  fx.db().exec("create table staging.app_items (id integer not null, name text)");
  add_source(fx, "app", "host=localhost dbname=shop", "shop_pub");
  outcomes done;
  {
    loader::committer committer(fx.dsn(), {1, 4, std::chrono::milliseconds(0)},
                                [&](const loader::batch&, loader::batch_outcome outcome, const std::string& error) {
                                  std::lock_guard lock(done.mutex);
                                  done.seen.push_back(outcome);
                                  done.errors.push_back(error);
                                });
    committer.submit(items_batch(0, 0, 0x100, 1, 3));
    committer.wait_idle();
    // The same batch again, as after a lost acknowledgement: recognised, not doubled.
    committer.forget("source:app");
    committer.submit(items_batch(0, 0, 0x100, 1, 3));
    committer.wait_idle();
    // The next transaction of the source.
    committer.forget("source:app");
    committer.submit(items_batch(0, 0x100, 0x200, 4, 2));
    committer.wait_idle();
    // A batch that does not start where the source is: refused, nothing written.
    committer.forget("source:app");
    committer.submit(items_batch(0, 0x150, 0x300, 100, 5));
    committer.wait_idle();
  }
  REQUIRE(done.seen.size() == 4);
  CHECK(done.seen[0] == loader::batch_outcome::committed);
  CHECK(done.seen[1] == loader::batch_outcome::already_applied);
  CHECK(done.seen[2] == loader::batch_outcome::committed);
  CHECK(done.seen[3] == loader::batch_outcome::failed);
  CHECK(done.errors[3].find("not where this batch starts") != std::string::npos);
  CHECK(fx.scalar("select count(*) from staging.app_items") == 5);
  CHECK(fx.text("select applied_lsn::text from sluice.sources where name = 'app'") == "0/200");
  CHECK(warehouse::applied_lsn(fx.db(), "app") == 0x200);
}

TEST_CASE("a source whose conninfo holds a password is refused with where to put it instead",
          "[integration][committer]") {
  sluice_fixture fx;
  for (const char* conninfo : {"host=db user=app password=secret dbname=shop", "postgresql://app:secret@db/shop"}) {
    INFO(conninfo);
    try {
      fx.db().exec_params("insert into sluice.sources (name, conninfo, publication) values ('app', $1, 'pub')",
                          {conninfo});
      FAIL("the insert was accepted");
    } catch (const warehouse::db_error& e) {
      CHECK(std::string(e.what()).find("holds a password") != std::string::npos);
      CHECK(std::string(e.what()).find(".pgpass") != std::string::npos);
    }
  }
  CHECK(fx.scalar("select count(*) from sluice.sources") == 0);
}

}  // namespace sluice::testing

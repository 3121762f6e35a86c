#include "loader/sources/postgres/source_run.h"

#include <memory>
#include <thread>

#include "loader/log.h"
#include "loader/sources/postgres/snapshot_copy.h"
#include "warehouse/log.h"
#include "warehouse/source_ledger.h"

namespace sluice::loader {

namespace {

namespace pg = sluice::loader::pgoutput;
using warehouse::connection;


}  // namespace

source_run::source_run(const std::string& dsn_in, const source_config& source_in, warehouse::connection& wh_in,
                       bool once, std::chrono::steady_clock::time_point claim_by, const std::atomic<bool>& stop_in)
    : dsn(dsn_in), source(source_in), wh(wh_in), stop(stop_in) {
// The claim below lives as long as this session: a host that died with
// the session open lets go after about a minute, not the system's hours.
wh.exec("set tcp_keepalives_idle = 30; set tcp_keepalives_interval = 10; set tcp_keepalives_count = 3");
// One sluice at a time: a second daemon (or a --once beside a daemon)
// waits here, and takes over once the first one's session ends.
if (!warehouse::claim_source(wh, source.name)) {
  postgres_log()->info("source {}: another sluice replicates it; waiting to take over", source.name);
  auto give_up = claim_by != std::chrono::steady_clock::time_point{}
                     ? claim_by
                     : std::chrono::steady_clock::now() + replicator::claim_patience;
  while (!warehouse::claim_source(wh, source.name)) {
    if (stop) throw source_busy("source " + source.name + ": stopped while another sluice replicates it");
    if (once && std::chrono::steady_clock::now() >= give_up) {
      throw source_busy("source " + source.name +
                        ": another sluice replicates it (a daemon?); this run did not replicate it");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  postgres_log()->info("source {}: taken over", source.name);
}
auto source_row = wh.exec_params("select state, coalesce(last_error, '') from sluice.sources where name = $1", {source.name});
if (source_row.rows() == 0) throw sluice::loader::replication_error("source " + source.name + ": no longer in sluice.sources");
state = std::string(source_row.text(0, 0));
if (state == "stopped") {
  throw source_stopped(std::string(source_row.text(0, 1)).empty()
                           ? "source " + source.name + " is stopped (state 'stopped' in sluice.sources)"
                           : std::string(source_row.text(0, 1)));
}
}

void source_run::prepare(replication_connection& repl) {
{
  connection src(source.conninfo);
  published_at_start = published_tables(src, source.publication);
}
refuse_shared_names(source.name, source.publication, published_at_start);

// The slot is the one this warehouse recorded making: another warehouse
// may replicate the same source database under the same source name, and
// its slot is never ours to drop or stream from. (Sources added before
// slot names carried the warehouse's id keep theirs, sluice_<name>.)
slot = warehouse::recorded_slot(wh, source.name).value_or("");
  if (state == "new") {
    take_snapshot(repl);
  } else {
    check_slot(repl);
  }
  copies = warehouse::table_copies(wh, source.name);
  if (state != "new") copy_uncopied(published_at_start);
}

// The source's first run: a slot made with an exported snapshot, every
// published table copied in it, and the source's first position, committed
// together.
void source_run::take_snapshot(replication_connection& repl) {
  if (!slot.empty()) {
    // Ours: left by a first run that died before its snapshot committed,
    // or the one of a source copied afresh. Its walsender may still hold
    // it for a moment.
    if (repl.slot_confirmed(slot)) repl.drop_slot(slot, held_slot_patience, [this] { return stop.load(); });
  } else {
    slot = warehouse::record_new_slot(wh, source.name);
    auto unnamed = "sluice_" + source.name;
    if (repl.slot_confirmed(unnamed)) {
      postgres_log()->warn("source {}: the source has a slot {} that this warehouse did not record making (another"
                           " warehouse's, or one an older sluice made before a source was copied afresh); left alone,"
                           " using {}. If no warehouse streams from it, drop it on the source (select"
                           " pg_drop_replication_slot('{}')): it retains WAL",
                           source.name, unnamed, slot, unnamed);
    }
  }
  auto created = repl.create_slot(slot);
  connection src(source.conninfo);
  src.exec("begin isolation level repeatable read");
  src.exec("set transaction snapshot " + literal(created.snapshot));
  auto published = src.exec_params(
      "select c.oid::text, n.nspname, c.relname from pg_publication_tables p"
      " join pg_namespace n on n.nspname = p.schemaname"
      " join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename"
      " where p.pubname = $1 order by 2, 3",
      {source.publication});
  {
    std::vector<source_table> in_snapshot;
    for (int row = 0; row < published.rows(); ++row) {
      in_snapshot.push_back({std::string(published.text(row, 1)), std::string(published.text(row, 2))});
    }
    refuse_shared_names(source.name, source.publication, in_snapshot);
  }
  for (int row = 0; row < published.rows(); ++row) {
    table_info t;
    t.schema = published.text(row, 1);
    t.name = published.text(row, 2);
    t.columns = source_columns(src, std::string(published.text(row, 0)),
                               t.schema + "." + t.name + " on source " + source.name);
    ensure_tables(wh, source.name, t);  // DDL first, in its own transaction
    tables[t.schema + "." + t.name] = std::move(t);
  }
  copy_snapshot(src, created);
}

void source_run::copy_snapshot(connection& src, const replication_connection::created_slot& created) {
  // The copy of every table and the source's first applied LSN: one
  // transaction. Each table is read once from the exported snapshot and
  // written once, into its mirror, on a second connection, by a thread of its
  // own while this one reads; its change log gets one marker row ('s') at the
  // consistent point, where its changes begin. A change log a pack reads from
  // the table's first state (sluice.change_retention keeps it for ever) gets
  // each row too, as an 'r' row, written on this connection at the same time
  // (its trigger, which would insert every row into the mirror again, is off
  // meanwhile). The mirrors' transaction commits just before this one;
  // should this one not commit, the state stays 'new' and the next run
  // empties the mirrors and copies again. A source copied afresh (state set
  // back to 'new') so starts its mirror again; its change log keeps the
  // history.
  auto snapshot_at = snapshot_time(src);
  std::map<std::string, bool> logged;  // by table: its change log gets 'r' rows
  for (auto& [name, t] : tables) logged[name] = warehouse::keeps_every_change(wh, t.staging);
  auto filled = std::make_unique<connection>(dsn);
  try {
    filled->exec("begin");
    wh.exec("begin");
    for (auto& [name, t] : tables) {
      filled->exec("delete from " + t.core);
      copy_feeder mirror(*filled, mirror_copy_in(t));
      if (logged[name]) {
        auto [prefix, prefix_fields] = copy_prefix(t, created.consistent_point, snapshot_at);
        wh.exec("alter table " + t.staging + " disable trigger apply_to_mirror");
        copy_feeder change_log(wh, t.copy_statement);
        tee_copy(src, snapshot_copy_out(t), change_log, prefix, prefix_fields, mirror);
        change_log.finish();
        mirror.finish();
        wh.exec("alter table " + t.staging + " enable trigger apply_to_mirror");
      } else {
        copy_through(src, snapshot_copy_out(t), mirror);
        mirror.finish();
      }
      warehouse::mark_copy(wh, t.staging, created.consistent_point, snapshot_at);
    }
  } catch (const warehouse::db_error& e) {
    if (e.kind() != warehouse::error_kind::data || !wh.is_open()) throw;
    // A row the warehouse refuses (a constraint or trigger on the change
    // log or the mirror): copied again, the careful way, in the same
    // snapshot, so that it becomes a reject instead of failing the source.
    postgres_log()->warn("source {}: the warehouse refused a row of the initial copy ({}); copying again in chunks to set"
                         " refused rows aside as rejects", source.name, e.what());
    filled.reset();
    wh.exec("rollback");
    wh.exec("begin");
    std::uint64_t refused = 0;
    for (auto& [name, t] : tables) {
      wh.exec("delete from " + t.core);
      refused += careful_copy(src, wh, t, logged[name], created.consistent_point, snapshot_at, source.name);
      warehouse::mark_copy(wh, t.staging, created.consistent_point, snapshot_at);
    }
    postgres_log()->warn("source {}: {} rows of the initial copy were refused; they are in sluice.rejects (source {})",
                         source.name, refused, source.name);
  }
  warehouse::forget_copies(wh, source.name);  // every table is copied anew
  wh.exec_params(
      "update sluice.sources set applied_lsn = $2::pg_lsn, applied_end_lsn = $2::pg_lsn, snapshot_lsn = $2::pg_lsn,"
      " partial_lsn = null, partial_seq = null, state = 'streaming', last_error = null, updated_at = now()"
      " where name = $1",
      {source.name, pg::format_lsn(created.consistent_point)});
  if (filled) filled->exec("commit");
  wh.exec("commit");
  src.exec("commit");
  postgres_log()->info("source {}: snapshot of {} tables committed at {}", source.name, tables.size(),
                       pg::format_lsn(created.consistent_point));
}

void source_run::check_slot(replication_connection& repl) {
  if (slot.empty()) {
    throw source_stopped("source " + source.name + ": sluice.sources records no slot for it (slot_name), though"
                         " its state is " + state + ". Set state = 'new' in sluice.sources to copy it afresh.");
  }
  auto slot_at = repl.slot_confirmed(slot);
  auto stored = warehouse::stored_position(wh, source.name);
  if (!slot_at) {
    throw source_stopped("source " + source.name + ": its slot " + slot +
                         " is gone from the source (dropped behind sluice's back?); changes since " +
                         pg::format_lsn(stored.applied_lsn) +
                         " may be lost. Set state = 'new' in sluice.sources to copy it afresh.");
  }
  // sluice confirms a slot only up to the end of a transaction it applied,
  // so a slot confirmed further is not the one sluice streamed from: it was
  // dropped and created again (or advanced) and would silently skip what
  // lies between. (Unknown for sources applied before applied_end_lsn was
  // recorded: 0.)
  if (stored.applied_end_lsn != 0 && *slot_at > stored.applied_end_lsn) {
    throw source_stopped("source " + source.name + ": its slot " + slot + " is confirmed up to " +
                         pg::format_lsn(*slot_at) + ", past what sluice applied (" +
                         pg::format_lsn(stored.applied_end_lsn) +
                         "): it was dropped and recreated (or advanced) behind sluice's back, and changes in"
                         " between may be lost. Set state = 'new' in sluice.sources to copy it afresh.");
  }
}

  // Tables that were not in the publication when its initial snapshot was
  // taken (added since: pgoutput streams a table's changes only from the
  // moment it is in it) are copied on their own, each in a snapshot taken
  // at a known LSN of the source through a temporary slot: the copy holds
  // the changes of every transaction that committed before that LSN, and
  // the table's streamed changes are applied only from it on. Found when the
  // stream announces a table that has no mirror, and in the publication (at
  // start, and every publication_every).
bool source_run::needs_copy(const std::string& schema, const std::string& name) {
  auto copied = copies.find(schema + "." + name);
  if (copied != copies.end()) return copied->second == 0;  // begun, not committed
  return wh.exec("select to_regclass(" + literal("core." + quote(warehouse_name(source.name, schema, name))) +
                 ") is null").text(0, 0) == "t";
}

void source_run::copy_added(const std::string& schema, const std::string& name) {
  const auto qualified = schema + "." + name;
  postgres_log()->info("source {}: {} is in the publication but was not copied (added since the source's snapshot):"
                       " copying it", source.name, qualified);
  warehouse::note_copy_begun(wh, source.name, qualified);
  sluice::loader::replication_connection at_lsn(source.conninfo, source.name);
  auto created = at_lsn.create_slot(slot.substr(0, 58) + "_copy", true);
  connection src(source.conninfo);
  src.exec("begin isolation level repeatable read");
  src.exec("set transaction snapshot " + literal(created.snapshot));
  auto& t = tables[qualified];
  t.schema = schema;
  t.name = name;
  auto oid = src.exec_params("select coalesce(to_regclass(format('%I.%I', $1::text, $2::text))::oid::text, '')",
                             {schema, name});
  std::uint64_t rows = 0;
  std::uint64_t refused = 0;
  if (std::string(oid.text(0, 0)).empty()) {
    // Dropped on the source since: nothing to copy; its changes from before
    // are skipped like any copied table's.
    postgres_log()->warn("source {}: {} is no longer on the source; nothing to copy", source.name, qualified);
    warehouse::record_copy(wh, source.name, qualified, created.consistent_point);
  } else {
    t.columns = source_columns(src, std::string(oid.text(0, 0)), qualified + " on source " + source.name);
    ensure_tables(wh, source.name, t);
    auto snapshot_at = snapshot_time(src);
    // Into the mirror, or, for a change log a pack reads from the table's
    // first state, into the change log, whose trigger fills the mirror as
    // for streamed changes; a row the warehouse refuses is a reject at the
    // copy's LSN.
    bool logged = warehouse::keeps_every_change(wh, t.staging);
    warehouse::transaction tx(wh);
    wh.exec("delete from " + t.core);
    refused = careful_copy(src, wh, t, logged, created.consistent_point, snapshot_at, source.name);
    rows = static_cast<std::uint64_t>(wh.exec("select count(*) from " + t.core).int64(0, 0));
    warehouse::mark_copy(wh, t.staging, created.consistent_point, snapshot_at);
    warehouse::record_copy(wh, source.name, qualified, created.consistent_point);
    tx.commit();
  }
  src.exec("commit");
  t.copied_from = created.consistent_point;
  copies[qualified] = created.consistent_point;
  outcome.changes += rows;
  postgres_log()->info("source {}: {} copied at {} ({} rows{}); its changes from there on are streamed", source.name,
                       qualified, pg::format_lsn(created.consistent_point), rows,
                       refused == 0 ? std::string() : ", " + std::to_string(refused) + " refused: see sluice.rejects");
}

void source_run::copy_uncopied(const std::vector<source_table>& published) {
  for (const auto& st : published) {
    if (tables.count(st.qualified()) == 0 && needs_copy(st.schema, st.name)) copy_added(st.schema, st.name);
  }
}

std::vector<source_table> source_run::with_tables(std::vector<source_table> base) const {
  for (const auto& [qualified, other] : tables) base.push_back({other.schema, other.name});
  return base;
}

}  // namespace sluice::loader

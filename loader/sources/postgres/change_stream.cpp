#include "loader/sources/postgres/change_stream.h"

#include <algorithm>
#include <set>
#include <variant>
#include <vector>

#include "loader/log.h"
#include "loader/sources/postgres/source_checkpoints.h"
#include "warehouse/log.h"

namespace sluice::loader {

namespace {

namespace pg = sluice::loader::pgoutput;
using warehouse::connection;

// A batch ends at a source commit when the committer has nothing to do, so a
// change waits for no one, or when it holds options_.batch_bytes. While the
// committer is busy a batch grows instead: handed over, it would only wait in
// the queue, and one large batch commits faster than several small ones.
constexpr auto status_every = std::chrono::seconds(10);      // unasked standby status updates with nothing new
constexpr auto heartbeat_every = std::chrono::seconds(1);    // an idle source's slot moves at most this often
constexpr auto publication_every = std::chrono::seconds(30);  // the publication is looked at for tables added
constexpr auto progress_every = std::chrono::seconds(2);      // WAL end and lag recorded in sluice.sources


}  // namespace

change_stream::change_stream(source_run& run, replication_connection& repl, bool once,
                             const replicator_options& options)
    : run_(run),
      repl_(repl),
      once_(once),
      options_(options),
      key_("source:" + run.source.name),
      resumed_(warehouse::stored_position(run.wh, run.source.name)),
      confirmed_(resumed_.applied_lsn),
      whole_(resumed_),
      batch_from_(resumed_) {
  if (once_) {
    // Everything committed before now: the walsender's position counts only
    // flushed WAL, and a source with asynchronous commits acknowledges some
    // that are not flushed yet (its WAL writer flushes them within moments).
    until_ = repl_.current_wal_end();
    connection source_sql(run_.source.conninfo);
    auto inserted = pg::parse_lsn(source_sql.exec("select pg_current_wal_insert_lsn()::text").text(0, 0));
    if (inserted && *inserted > *until_) until_ = *inserted;
  }
  // After a kill -9 the old run's walsender holds the slot until it notices.
  repl_.start(run_.slot, resumed_.applied_lsn, run_.source.publication, held_slot_patience,
              [this] { return run_.stop.load(); });
  commits_.emplace(run_.dsn,
                   committer_options{1, 4, once_ ? options_.give_up_after : std::chrono::milliseconds(0),
                                     committer_options{}.stream_bytes, options_.on_commit},
                   [this](const batch& b, batch_outcome result, const std::string& error) {
                     on_batch_done(b, result, error);
                   });
  last_status_ = std::chrono::steady_clock::now();
  last_heartbeat_ = last_status_ - heartbeat_every;
  last_publication_check_ = last_status_;
}

void change_stream::on_batch_done(const batch& b, batch_outcome result, const std::string& error) {
  const auto& cp = static_cast<const source_checkpoints&>(*b.checkpoints.front());
  if (result == batch_outcome::committed && b.refused > 0) {
    postgres_log()->warn("source {}: the warehouse refused {} changes of {}; they are in sluice.rejects (source {}, with"
                         " their LSN)", run_.source.name, b.refused, cp.describe(), run_.source.name);
  }
  {
    std::lock_guard lock(confirmed_mutex_);
    for (const auto& turn : b.turns) {
      if (turn.key == key_) unconfirmed_.erase(turn.seq);
    }
  }
  if (result == batch_outcome::committed || result == batch_outcome::already_applied) {
    std::lock_guard lock(confirmed_mutex_);
    confirmed_ = std::max(confirmed_, cp.end_lsn);
    committed_transactions_ += cp.transactions;
  } else if (result == batch_outcome::failed || result == batch_outcome::failed_permanently) {
    std::lock_guard lock(confirmed_mutex_);
    if (failure_.empty()) failure_ = cp.describe() + ": not committed: " + error;
  }
  --in_flight_;
}

// A batch that failed stops the source (the ones after it are abandoned, so
// carrying on would only read the stream without applying it); the caller
// retries from the stored applied LSN.
void change_stream::stop_if_failed() {
  std::lock_guard lock(confirmed_mutex_);
  if (!failure_.empty()) throw sluice::loader::replication_error("source " + run_.source.name + ": " + failure_);
}

// The committer may keep us waiting (a slow batch, a warehouse that is
// restarting). Meanwhile the source must still hear from us, or its
// walsender ends the connection after wal_sender_timeout; a stop gives up
// on what is not committed yet (it is sent again next time).
template <typename Wait>
void change_stream::keep_source_waiting(const Wait& done_within) {
  while (!done_within(std::chrono::milliseconds(500))) {
    if (run_.stop) commits_->request_stop();
    send_status(false, std::chrono::steady_clock::now());
  }
}

void change_stream::wait_idle() {
  keep_source_waiting([this](auto patience) { return commits_->wait_idle_for(patience); });
}

// Where the rows in hand take the source: past the last whole transaction,
// and into the open one when some of its changes are in hand.
warehouse::source_position change_stream::position_now() const {
  auto at = whole_;
  if (in_transaction_ && !skipping_ && change_seq_ > skip_through_) {
    at.partial_lsn = begin_.final_lsn;
    at.partial_seq = change_seq_;
  }
  return at;
}

void change_stream::hand_over() {
  auto to = position_now();
  if (to.same_changes(batch_from_)) return;
  auto cp = std::make_unique<source_checkpoints>();
  cp->advance_ = {run_.source.name, batch_from_, to, to.applied_lsn == batch_from_.applied_lsn ? 0 : whole_commit_time_};
  cp->end_lsn = to.applied_end_lsn;
  cp->transactions = transactions_in_batch_;
  current_.checkpoints.push_back(std::move(cp));
  current_.turns.push_back({key_, seq_++});
  current_.from = std::make_shared<change_provenance>(run_.source.name);
  keep_source_waiting([this](auto patience) { return commits_->wait_for_room(patience); });
  if (batch_first_commit_ != 0) {
    std::lock_guard lock(confirmed_mutex_);
    unconfirmed_[seq_ - 1] = batch_first_commit_;
  }
  // (A batch cut inside a transaction is followed by more of it: the next
  // batch holds that transaction from its start.)
  batch_first_commit_ = in_transaction_ && !skipping_ ? begin_.commit_time : 0;
  ++in_flight_;
  commits_->submit(std::move(current_));
  current_ = batch{};
  current_tables_.clear();
  current_bytes_ = 0;
  batch_from_ = to;
  transactions_in_batch_ = 0;
}

// A table's shape as its latest Relation message announced it, made the
// warehouse's: columns added on the source are added; a column dropped or
// retyped stops the run with a message saying what to fix (check_columns).
void change_stream::take_shape(table_info& t) {
  auto columns = std::move(*t.announced);
  t.announced.reset();
  if (auto renamed = find_rename(run_.wh, run_.source.conninfo, run_.source.name, t, columns)) {
    // Batches in hand name the column as it was: committed first.
    hand_over();
    wait_idle();
    rename_column(run_.wh, run_.source.name, t, *renamed);
  }
  if (t.columns.size() < columns.size() && !t.columns.empty()) {
    // Batches in hand were built for the old columns: committed
    // before the tables change (ensure_tables adds the columns).
    hand_over();
    wait_idle();
  }
  // Columns the mirror lacks (added on the source since): what its rows
  // from before hold there.
  t.added_defaults.clear();
  auto mirror = warehouse_columns(run_.wh, "core." + quote(warehouse_name(run_.source.name, t.schema, t.name)));
  if (!mirror.empty()) {
    std::set<std::string> added;
    for (const auto& c : columns) {
      bool there = std::any_of(mirror.begin(), mirror.end(), [&](const auto& m) { return m.first == c.name; });
      if (!there) added.insert(c.name);
    }
    if (!added.empty()) {
      t.added_defaults =
          added_defaults(run_.source.conninfo, run_.source.name, t.schema + "." + t.name, t.oid, added);
    }
  }
  t.columns = std::move(columns);
  ensure_tables(run_.wh, run_.source.name, t);
}

namespace {

// One column's value as pgoutput sent it (binary), in the form of the
// warehouse's type: an array whose element type the warehouse keeps as
// another (an enum's as text, a domain's as its base) names that one in its
// header (ndim, flags, element oid, ...); the elements' bytes are the same.
void put_value(copy_encoder& out, const column_info& column, std::span<const char> bytes) {
  if (column.element_oid == 0 || bytes.size() < 12) {
    out.put_bytea(bytes);
    return;
  }
  std::string patched(bytes.begin(), bytes.end());
  for (int i = 0; i < 4; ++i) patched[8 + i] = static_cast<char>((column.element_oid >> (8 * (3 - i))) & 0xff);
  out.put_bytea(patched);
}

}  // namespace

table_rows& change_stream::rows_for(table_info& t) {
  auto [it, fresh] = current_tables_.try_emplace(t.copy_statement, current_.tables.size());
  if (fresh) current_.tables.push_back({t.copy_statement, {}, {}});
  return current_.tables[it->second];
}

void change_stream::put_change(table_info& t, char op, const pg::tuple& row, const pg::tuple* old_key,
                               change_row part) {
  if (part != change_row::second) ++change_seq_;
  if (change_seq_ <= skip_through_) return;
  if (begin_.final_lsn < t.copied_from) return;  // in the table's copy
  auto& target = rows_for(t);
  auto& out = target.rows;
  auto before = out.size();
  std::size_t keys = 0;
  for (const auto& c : t.columns) keys += c.key ? 1 : 0;
  out.begin_row(static_cast<std::int16_t>(5 + keys + t.columns.size()));
  out.put_text(std::string(1, op));
  out.put_int8(static_cast<std::int64_t>(begin_.final_lsn));
  out.put_int4(change_seq_);
  out.put_timestamp(begin_.commit_time);
  std::string unchanged;
  for (std::size_t i = 0; i < row.size() && i < t.columns.size(); ++i) {
    if (row[i].what == pg::column_value::kind::unchanged_toast) {
      unchanged += (unchanged.empty() ? "" : ",") + t.columns[i].name;
    }
  }
  if (unchanged.empty()) out.put_null();
  else out.put_text(unchanged);
  bool key_changed = false;
  if (old_key != nullptr) {
    for (std::size_t i = 0; i < t.columns.size() && i < old_key->size() && i < row.size(); ++i) {
      if (t.columns[i].key && (*old_key)[i].bytes != row[i].bytes) key_changed = true;
    }
  }
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (!t.columns[i].key) continue;
    if (key_changed && (*old_key)[i].what == pg::column_value::kind::binary) put_value(out, t.columns[i], (*old_key)[i].bytes);
    else out.put_null();
  }
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (i < row.size() && row[i].what == pg::column_value::kind::binary) {
      put_value(out, t.columns[i], row[i].bytes);
    } else {
      out.put_null();
    }
  }
  out.end_row();
  // Where it came from, should the warehouse refuse it (a reject at its LSN).
  // (change_provenance reads it.)
  row_origin origin;
  origin.offset = begin_.final_lsn;
  origin.record = static_cast<std::uint64_t>(change_seq_);
  origin.feed = current_.feed_index(t.staging_name);
  ++current_.feed_tallies[origin.feed].loaded;
  target.origins.push_back(static_cast<std::uint32_t>(current_.origins.size()));
  current_.origins.push_back(origin);
  current_bytes_ += out.size() - before;
  ++run_.outcome.changes;
  // A large transaction goes in several batches: memory stays flat.
  if (current_bytes_ >= options_.batch_bytes && part != change_row::first) hand_over();
}

void change_stream::run() {
  while (!run_.stop && step()) {
  }
  hand_over();
  wait_idle();
  stop_if_failed();
  if (commits_->failed(key_)) {
    throw sluice::loader::replication_error("source " + run_.source.name + ": a batch could not be committed (see above)");
  }
  run_.outcome.transactions = committed_transactions_;
  run_.outcome.applied_lsn = warehouse::applied_lsn(run_.wh, run_.source.name);
}

bool change_stream::step() {
  // A batch the committer gave up on leaves a gap after it: start again
  // from the stored position (the caller retries) rather than stream on.
  if (commits_->failed(key_)) {
    throw sluice::loader::replication_error("source " + run_.source.name +
                                     ": a batch could not be committed (see above); resuming from the stored"
                                     " position");
  }
  auto message = repl_.next(std::chrono::milliseconds(100));
  auto now = std::chrono::steady_clock::now();
  if (!message) {
    on_idle();
  } else {
    auto copy = pg::decode_copy_data(*message);
    if (auto* error = std::get_if<pg::decode_error>(&copy)) {
      throw sluice::loader::replication_error("source " + run_.source.name + ": " + error->reason);
    }
    if (auto* alive = std::get_if<pg::keepalive>(&copy)) {
      on_keepalive(*alive, now);
    } else {
      on_message(std::get<pg::xlog_data>(copy));
    }
  }
  stop_if_failed();
  keep_up(now);
  if (once_ && !in_transaction_ && server_end_ >= *until_) {
    hand_over();
    wait_idle();
    send_status(false, std::chrono::steady_clock::now());
    return false;
  }
  return true;
}

void change_stream::on_idle() {
  if (in_transaction_) return;
  hand_over();
  // Ask where the server is: its keepalive answers at once, so --once
  // need not wait for one.
  if (once_) send_status(true, std::chrono::steady_clock::now());
}

void change_stream::on_keepalive(const pg::keepalive& alive, std::chrono::steady_clock::time_point now) {
  server_end_ = std::max(server_end_, alive.wal_end);
  // A heartbeat: everything before the keepalive's position was sent
  // and is applied, and none of it is ours to apply (an idle
  // publication while the source writes elsewhere). The slot may then
  // move there, or it keeps that WAL on the source's disk forever; the
  // position is stored first, as where sluice's own commits end
  // (applied_end_lsn), so that a restart knows the slot's place.
  bool beat = false;
  if (!in_transaction_ && current_bytes_ == 0 && current_.checkpoints.empty() && in_flight_ == 0 &&
      alive.wal_end > whole_.applied_lsn && now - last_heartbeat_ >= heartbeat_every) {
    bool idle_since;
    {
      std::lock_guard lock(confirmed_mutex_);
      idle_since = alive.wal_end > confirmed_;
    }
    if (idle_since) {
      warehouse::note_heartbeat(run_.wh, run_.source.name, alive.wal_end);
      std::lock_guard lock(confirmed_mutex_);
      confirmed_ = std::max(confirmed_, alive.wal_end);
      beat = true;
    }
    last_heartbeat_ = now;
  }
  if (alive.reply_requested || beat) send_status(false, now);
}

void change_stream::on_message(const pg::xlog_data& data) {
  server_end_ = std::max(server_end_, data.wal_end);
  auto decoded = pg::decode(data.payload);
  if (auto* error = std::get_if<pg::decode_error>(&decoded)) {
    throw sluice::loader::replication_error("source " + run_.source.name + ": undecodable message at " +
                                     pg::format_lsn(data.start) + ": " + error->reason);
  }
  const auto& m = std::get<pg::message>(decoded);
  if (const auto* b = std::get_if<pg::begin_message>(&m)) {
    begin_ = *b;
    in_transaction_ = true;
    skipping_ = b->final_lsn <= whole_.applied_lsn;
    if (!skipping_ && batch_first_commit_ == 0) batch_first_commit_ = b->commit_time;
    change_seq_ = 0;
    skip_through_ = b->final_lsn == whole_.partial_lsn ? whole_.partial_seq : 0;
  } else if (const auto* c = std::get_if<pg::commit_message>(&m)) {
    in_transaction_ = false;
    if (!skipping_) {
      whole_ = {c->commit_lsn, c->end_lsn, 0, 0};
      whole_commit_time_ = c->commit_time;
      ++transactions_in_batch_;
    }
    if (in_flight_ == 0 || current_bytes_ >= options_.batch_bytes) hand_over();
  } else if (const auto* r = std::get_if<pg::relation_message>(&m)) {
    on_relation(*r);
  } else if (!skipping_) {
    on_change(m);
  }
}

void change_stream::on_relation(const pg::relation_message& r) {
  auto schema = r.schema.empty() ? std::string("pg_catalog") : r.schema;
  auto& tables = run_.tables;
  if (tables.count(schema + "." + r.name) == 0) {
    auto known = run_.with_tables(run_.published_at_start);
    known.push_back({schema, r.name});
    refuse_shared_names(run_.source.name, run_.source.publication, known);
    if (run_.needs_copy(schema, r.name)) {
      run_.copy_added(schema, r.name);
    } else if (auto copied = run_.copies.find(schema + "." + r.name); copied != run_.copies.end()) {
      tables[copied->first].copied_from = copied->second;
    }
  }
  auto& t = tables[schema + "." + r.name];
  std::vector<column_info> columns;
  // The source's, for types it made (enums, domains) and a FULL identity's key.
  std::unique_ptr<warehouse::connection> catalog;
  // Under REPLICA IDENTITY FULL the message flags every column as the key:
  // the table's primary key, if it has one now, is asked of the source (a
  // key added since the mirror was made then keys it, as under DEFAULT).
  std::set<std::string> full_key;
  if (r.replica_identity == 'f') {
    catalog = std::make_unique<warehouse::connection>(run_.source.conninfo);
    auto key = catalog->exec_params(
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
        " where i.indrelid = $1::oid and i.indisprimary",
        {std::to_string(r.oid)});
    for (int row = 0; row < key.rows(); ++row) full_key.emplace(key.text(row, 0));
  }
  auto is_key = [&](const pg::relation_column& column) {
    return r.replica_identity == 'f' ? full_key.count(column.name) > 0 : column.key;
  };
  for (const auto& column : r.columns) {
    if (column.type_oid < first_user_oid) {
      auto type = run_.wh.exec_params("select format_type($1::oid, $2::int)",
                                      {std::to_string(column.type_oid), std::to_string(column.type_modifier)});
      columns.push_back({column.name, std::string(type.text(0, 0)), is_key(column), {}, 0, {}});
      continue;
    }
    auto key = std::pair{column.type_oid, static_cast<int>(column.type_modifier)};
    auto known = source_types_.find(key);
    if (known == source_types_.end()) {
      if (!catalog) catalog = std::make_unique<warehouse::connection>(run_.source.conninfo);
      known = source_types_.emplace(key, warehouse_type(*catalog, key.first, key.second)).first;
    }
    auto kept = known->second;
    kept.name = column.name;
    kept.key = is_key(column);
    columns.push_back(std::move(kept));
  }
  name_columns(columns, schema + "." + r.name + " on source " + run_.source.name);
  t.schema = schema;
  t.name = r.name;
  t.announced = std::move(columns);
  t.identity = r.replica_identity;
  t.oid = r.oid;
  relations_[r.oid] = &t;
}

table_info& change_stream::table_of(std::uint32_t oid) {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    throw sluice::loader::replication_error("source " + run_.source.name + ": a change for relation " + std::to_string(oid) +
                                     " came before its Relation message");
  }
  // Not for a change put_change will skip (applied before a restart): it
  // may come with a shape the tables have left.
  auto& t = *it->second;
  if (t.announced && change_seq_ + 1 > skip_through_ && begin_.final_lsn >= t.copied_from) take_shape(t);
  return t;
}

void change_stream::on_change(const pg::message& m) {
  if (const auto* ins = std::get_if<pg::insert_message>(&m)) {
    put_change(table_of(ins->relation), 'i', ins->row, nullptr);
  } else if (const auto* upd = std::get_if<pg::update_message>(&m)) {
    auto& t = table_of(upd->relation);
    if (upd->old_kind == 'O' && !t.has_key) {
      // A table without a key (REPLICA IDENTITY FULL): the mirror finds the
      // row an update changed by its whole old row, an 'o' row of the same
      // change; the new row has in full what the update did not send (a
      // TOASTed value unchanged: the old row has it).
      put_change(t, 'o', upd->old_row, nullptr, change_row::first);
      auto row = upd->row;
      for (std::size_t i = 0; i < row.size() && i < upd->old_row.size(); ++i) {
        if (row[i].what == pg::column_value::kind::unchanged_toast) row[i] = upd->old_row[i];
      }
      put_change(t, 'u', row, nullptr, change_row::second);
      return;
    }
    put_change(t, 'u', upd->row, upd->old_kind != 0 ? &upd->old_row : nullptr);
  } else if (const auto* del = std::get_if<pg::delete_message>(&m)) {
    put_change(table_of(del->relation), 'd', del->old_row, nullptr);
  } else if (const auto* tr = std::get_if<pg::truncate_message>(&m)) {
    for (auto oid : tr->relations) put_change(table_of(oid), 't', {}, nullptr);
  }
}

void change_stream::send_status(bool reply, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(confirmed_mutex_);
  repl_.send_status(confirmed_, confirmed_, reply);
  sent_confirmed_ = confirmed_;
  last_status_ = now;
}

bool change_stream::confirmed_news() {
  std::lock_guard lock(confirmed_mutex_);
  return confirmed_ > sent_confirmed_;
}

double change_stream::lag_seconds() {
  pgoutput::pg_timestamp oldest = batch_first_commit_;
  {
    std::lock_guard lock(confirmed_mutex_);
    if (!unconfirmed_.empty()) oldest = unconfirmed_.begin()->second;
  }
  if (oldest == 0) return 0;
  return std::max(0.0, static_cast<double>(pg_now() - oldest) / 1e6);
}

void change_stream::keep_up(std::chrono::steady_clock::time_point now) {
  if (now - last_status_ > status_every) {
    // The claim holds while wh's session does: one that ended (a server
    // restart, a terminated backend) ends this run, or another sluice may
    // take the source over while this one streams on.
    run_.wh.exec("select 1");
    // Idle, the server's answer is the next heartbeat's position.
    send_status(!in_transaction_, now);
  } else if (confirmed_news()) {
    // Committed in the warehouse: the source may let go of that WAL now,
    // and whoever watches its slot sees no lag that is not there.
    send_status(false, now);
  }
  if (now - last_progress_ >= progress_every) {
    warehouse::note_source_progress(run_.wh, run_.source.name, server_end_, lag_seconds());
    last_progress_ = now;
  }
  if (!in_transaction_ && now - last_publication_check_ > publication_every) {
    // A table added to the publication whose changes are not streamed yet
    // (none since it was added) is copied all the same.
    connection src(run_.source.conninfo);
    auto published = published_tables(src, run_.source.publication);
    refuse_shared_names(run_.source.name, run_.source.publication, run_.with_tables(published));
    run_.copy_uncopied(published);
    last_publication_check_ = std::chrono::steady_clock::now();
  }
}

}  // namespace sluice::loader

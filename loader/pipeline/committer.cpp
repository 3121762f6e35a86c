// The committer (committer.h). About 550 lines, kept in one file: lanes,
// streamed runs, retries and the split that finds the rows the server
// refuses are one protocol over the same batch state, and each step hands
// the batch to the next. What is apart from it is apart: the commit order
// (order_book.h), the rows (copy_encoder.h), a batch's checkpoints
// (checkpoint_set, batch.h).
#include "loader/pipeline/committer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "loader/log.h"
#include "loader/pipeline/order_book.h"
#include "warehouse/copy_stream.h"
#include "warehouse/log.h"

namespace sluice::loader {

namespace {

using warehouse::connection;
using warehouse::db_error;
using warehouse::error_kind;


// Thrown inside a commit attempt when the batch cannot take its turn. Not a
// fault (nothing failed: the batch is abandoned), so no catch of
// sluice::fault takes it for one.
struct lost_turn {};

// Thrown when the checkpoints are neither where the batch starts nor where it
// ends although it is the batch's turn: another process moved them. Not
// retryable: the batch fails, and its source looks at its checkpoint again.
struct moved_elsewhere : sluice::fault {
  using sluice::fault::fault;
  [[nodiscard]] bool is_retryable() const noexcept override { return false; }
};

}  // namespace

struct committer::impl {
  std::string dsn;
  committer_options options;
  done_handler on_done;
  std::atomic<bool> stop{false};
  order_book order;

  std::mutex queue_mutex;
  std::condition_variable queue_changed;
  std::deque<batch> queue;
  // Per source key, the batch a lane streaming that source waits for: no
  // other lane takes it, nor any later batch of the source.
  std::map<std::string, std::uint64_t> awaited;
  bool closing = false;
  std::size_t in_flight = 0;  // submitted and not done

  std::vector<std::thread> lanes;

  impl(std::string dsn_in, committer_options opts, done_handler handler)
      : dsn(std::move(dsn_in)), options(opts), on_done(std::move(handler)) {
    // Connected at once, not one after another: each connection costs the
    // server a backend start, which is a visible part of a short --once run.
    std::vector<std::future<connection>> opening;
    for (std::size_t i = 0; i < std::max<std::size_t>(1, options.connections); ++i) {
      opening.push_back(std::async(std::launch::async, [this] { return open_lane(); }));
    }
    std::vector<connection> conns;
    for (auto& f : opening) conns.push_back(f.get());
    for (auto& conn : conns) {
      lanes.emplace_back([this, c = std::move(conn)]() mutable { lane(c); });
    }
  }

  // A commit acknowledged to us must survive a crash of the server, whatever
  // the server's default: a replication source cannot be read again, and a
  // file's loader would otherwise trust an offset the server lost.
  connection open_lane() {
    connection conn(dsn);
    conn.exec("set synchronous_commit = on");
    return conn;
  }

  ~impl() {
    {
      std::lock_guard lock(queue_mutex);
      closing = true;
    }
    queue_changed.notify_all();
    order.wake();
    for (auto& t : lanes) t.join();
  }

  void submit(batch b) {
    std::unique_lock lock(queue_mutex);
    queue_changed.wait(lock, [&] { return queue.size() < options.queue_capacity; });
    queue.push_back(std::move(b));
    ++in_flight;
    queue_changed.notify_all();
  }

  void wait_idle() {
    std::unique_lock lock(queue_mutex);
    queue_changed.wait(lock, [&] { return in_flight == 0; });
  }

  bool wait_for_room(std::chrono::milliseconds patience) {
    std::unique_lock lock(queue_mutex);
    return queue_changed.wait_for(lock, patience, [&] { return queue.size() < options.queue_capacity; });
  }

  bool wait_idle_for(std::chrono::milliseconds patience) {
    std::unique_lock lock(queue_mutex);
    return queue_changed.wait_for(lock, patience, [&] { return in_flight == 0; });
  }

  bool is_awaited(const batch& b) const {
    for (const auto& t : b.turns) {
      auto it = awaited.find(t.key);
      if (it != awaited.end() && t.seq >= it->second) return true;
    }
    return false;
  }

  // The first queued batch that no streaming lane waits for.
  std::optional<batch> next() {
    std::unique_lock lock(queue_mutex);
    std::deque<batch>::iterator found;
    queue_changed.wait(lock, [&] {
      found = std::find_if(queue.begin(), queue.end(), [&](const batch& b) { return !is_awaited(b); });
      return found != queue.end() || (closing && queue.empty());
    });
    if (found == queue.end()) return std::nullopt;
    batch b = std::move(*found);
    queue.erase(found);
    if (streams(b)) await_next(b);
    queue_changed.notify_all();
    return b;
  }

  // The source's next batch after `b` (which continues) is for this lane's
  // run: from now on, under queue_mutex, no other lane takes it.
  void await_next(const batch& b) {
    for (const auto& t : b.turns) {
      if (t.key == b.continues) awaited[t.key] = t.seq + 1;
    }
  }

  // Undoes await_next(b), unless another lane's run awaits the source now.
  void stop_awaiting(const batch& b) {
    std::lock_guard lock(queue_mutex);
    for (const auto& t : b.turns) {
      auto it = awaited.find(t.key);
      if (t.key == b.continues && it != awaited.end() && it->second == t.seq + 1) awaited.erase(it);
    }
    queue_changed.notify_all();
  }

  void lane(connection& conn) {
    while (auto b = next()) {
      if (streams(*b)) {
        stream(conn, std::move(*b));
      } else {
        process(conn, *b);
      }
    }
  }

  // Commits one batch (retrying as committer.h says), then reports it.
  void process(connection& conn, batch& b) {
    batch_outcome outcome = batch_outcome::abandoned;
    std::string error;
    auto started = std::chrono::steady_clock::now();
    if (!order.any_failed(b.turns)) {
      try {
        outcome = commit_with_retry(conn, b);
      } catch (const db_error& e) {
        outcome = e.kind() == error_kind::schema ? batch_outcome::failed_permanently : batch_outcome::failed;
        error = e.what();
      } catch (const std::exception& e) {
        outcome = batch_outcome::failed;
        error = e.what();
      }
    }
    done(b, outcome, error, seconds_since(started));
  }

  static double seconds_since(std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  void tell_committed(const batch& b, std::optional<double> transaction_seconds) const {
    if (!options.on_commit) return;
    commit_note note;
    // (A streamed batch's rows are freed by now; its tables are still named.)
    for (const auto& t : b.tables) note.tables.push_back(copied_table(t.copy_statement));
    for (std::size_t i = 0; i < b.feed_names.size() && i < b.feed_tallies.size(); ++i) {
      note.feeds.emplace_back(b.feed_names[i], b.feed_tallies[i]);
    }
    note.transaction_seconds = transaction_seconds;
    options.on_commit(note);
  }

  void done(const batch& b, batch_outcome outcome, const std::string& error,
            std::optional<double> transaction_seconds) {
    if (outcome == batch_outcome::committed || outcome == batch_outcome::already_applied) {
      order.committed(b.turns);
    } else {
      order.failed(b.turns);
    }
    try {
      if (outcome == batch_outcome::committed) tell_committed(b, transaction_seconds);
      on_done(b, outcome, error);
    } catch (const std::exception& e) {
      pipeline_log()->error("after a batch: {}", e.what());
    }
    std::lock_guard lock(queue_mutex);
    --in_flight;
    queue_changed.notify_all();
  }

  // ------------------------------------------------------------ streaming

  // The COPY statement of a batch's rows when they all go to one table ("" if
  // there are none or several).
  static std::string single_table(const batch& b) {
    std::string statement;
    for (const auto& t : b.tables) {
      if (t.rows.empty()) continue;
      if (!statement.empty() && statement != t.copy_statement) return {};
      statement = t.copy_statement;
    }
    return statement;
  }

  bool streams(const batch& b) const {
    return options.stream_bytes > 0 && !b.continues.empty() && !single_table(b).empty();
  }

  // A run: batches of one source streamed through one COPY and committed in
  // one transaction. Each batch's rows are freed once sent, so memory holds a
  // few batches however long the run; in exchange a run that does not commit
  // cannot be sent again: its batches fail and their loader reads the source
  // again from its checkpoint, without streaming (loader.cpp), so that a row
  // the server refuses is then found by splitting.
  void stream(connection& conn, batch first) {
    std::vector<batch> run;
    run.push_back(std::move(first));
    struct stop_awaiting_on_exit {
      impl& self;
      const std::vector<batch>& run;
      ~stop_awaiting_on_exit() { self.stop_awaiting(run.back()); }
    } release{*this, run};
    batch_outcome outcome = batch_outcome::abandoned;
    std::string error;
    auto started = std::chrono::steady_clock::now();
    if (!order.any_failed(run.front().turns)) {
      try {
        outcome = commit_run(conn, run);
      } catch (const lost_turn&) {
        outcome = batch_outcome::abandoned;
      } catch (const std::exception& e) {
        // Not `failed`: nothing is wrong with the source until it fails unstreamed.
        outcome = batch_outcome::abandoned;
        error = std::string("its streamed transaction did not commit: ") + e.what();
        pipeline_log()->warn("{}: a streamed transaction of {} batches did not commit ({}); read again from the ledger"
                             " without streaming",
                             describe(run.front()), run.size(), e.what());
        if (!conn.is_open()) {
          try {
            conn = open_lane();
          } catch (const db_error&) {
            // the next batch reconnects
          }
        }
      }
    }
    auto seconds = seconds_since(started);
    for (std::size_t i = 0; i < run.size(); ++i) {
      done(run[i], outcome, error, i + 1 == run.size() ? std::optional<double>(seconds) : std::nullopt);
    }
  }

  batch_outcome commit_run(connection& conn, std::vector<batch>& run) {
    if (!conn.is_open()) conn = open_lane();
    // Nothing is sent before the run's turn: its rows cannot be sent twice.
    if (!order.wait_for_turn(run.front().turns, stop)) throw lost_turn{};
    std::vector<source_turn> turns;  // of every batch in the run
    struct unstream_on_exit {
      order_book& order;
      const std::vector<source_turn>& turns;
      ~unstream_on_exit() { order.unstreamed(turns); }
    } unstream{order, turns};
    warehouse::transaction tx(conn);
    send_run(conn, run);
    for (const auto& b : run) turns.insert(turns.end(), b.turns.begin(), b.turns.end());
    order.streamed(turns);
    log_load(conn, run, {});
    for (auto& b : run) {
      for (auto& c : b.checkpoints) {
        if (c->advance(conn, {}) != advance_result::advanced) {
          throw moved_elsewhere(c->describe() + ": the ledger is not where this batch starts");
        }
      }
    }
    tx.commit();
    order.committed(turns);
    return batch_outcome::committed;
  }

  // Rows of sluice.load_log, one per feed, for what `batches` load: the
  // rows the server `refused` (origins of a single batch) count as rejects.
  static void log_load(connection& conn, std::span<const batch> batches, const std::vector<std::uint32_t>& refused) {
    std::map<std::string, feed_tally> sums;
    for (const auto& b : batches) {
      for (std::size_t i = 0; i < b.feed_names.size() && i < b.feed_tallies.size(); ++i) {
        auto& sum = sums[b.feed_names[i]];
        sum.loaded += b.feed_tallies[i].loaded;
        sum.rejected += b.feed_tallies[i].rejected;
      }
    }
    for (auto origin : refused) {
      const auto& b = batches.front();
      auto& sum = sums[b.feed_names.at(b.origins[origin].feed)];
      --sum.loaded;
      ++sum.rejected;
    }
    if (sums.empty()) return;
    std::vector<std::string> feeds;
    std::string rows = "{";
    std::string rejects = "{";
    for (const auto& [feed, sum] : sums) {
      if (!feeds.empty()) {
        rows += ',';
        rejects += ',';
      }
      feeds.push_back(feed);
      rows += std::to_string(sum.loaded);
      rejects += std::to_string(sum.rejected);
    }
    conn.exec_params("insert into sluice.load_log (feed, rows, rejects)"
                     " select * from unnest($1::text[], $2::bigint[], $3::bigint[])",
                     {warehouse::text_array(feeds), rows + "}", rejects + "}"});
  }

  // Sends the run's rows (one COPY) and then its rejects (one COPY). The
  // batches that continue the run join as they arrive, until stream_bytes
  // were sent or stream_bytes / 8 of rejects wait.
  void send_run(connection& conn, std::vector<batch>& run) {
    const std::string statement = single_table(run.front());
    warehouse::copy_in rows(conn, statement, "sluice: the streamed batch could not be sent");
    rows.write(copy_encoder::stream_header());
    std::size_t sent = 0;
    std::size_t rejects = 0;
    for (std::size_t i = 0;; ++i) {
      if (i == run.size()) {
        // A COPY the server already refused says so before its end: stop
        // joining batches that would only be read again.
        if (run.back().continues.empty() || sent >= options.stream_bytes ||
            rejects >= options.stream_bytes / 8 || stop || conn.has_pending_input()) {
          break;
        }
        auto more = continuation(run.back(), statement);
        if (!more) break;
        run.push_back(std::move(*more));
      }
      auto& b = run[i];
      for (auto& t : b.tables) {
        if (t.rows.empty()) continue;
        rows.write(t.rows.row_bytes());
        sent += t.rows.size();
        t.rows = copy_encoder();
        t.origins = std::vector<std::uint32_t>();  // (= {} would keep the capacity)
      }
      b.origins = std::vector<row_origin>();
      rejects += b.rejects.size();
    }
    rows.write(copy_encoder::stream_trailer());
    rows.finish();
    if (std::none_of(run.begin(), run.end(), [](const batch& b) { return !b.rejects.empty(); })) return;
    warehouse::copy_in refused(conn, rejects_copy_statement());
    refused.write(copy_encoder::stream_header());
    for (const auto& b : run) {
      if (!b.rejects.empty()) refused.write(b.rejects.row_bytes());
    }
    refused.write(copy_encoder::stream_trailer());
    refused.finish();
  }

  // Waits for the batch that continues `previous` (awaited since `previous`
  // was taken), for about as long as a producer takes to fill one. None when
  // it does not come, has rows for another table, or is also the turn of a
  // source whose earlier batch has not committed (it is then left to the
  // lanes: a run never waits with rows sent).
  std::optional<batch> continuation(const batch& previous, const std::string& statement) {
    auto turn = std::find_if(previous.turns.begin(), previous.turns.end(),
                             [&](const source_turn& t) { return t.key == previous.continues; });
    if (turn == previous.turns.end()) return std::nullopt;
    source_turn wanted{turn->key, turn->seq + 1};
    auto is_wanted = [&](const source_turn& t) { return t.key == wanted.key && t.seq == wanted.seq; };
    std::unique_lock lock(queue_mutex);
    std::deque<batch>::iterator found;
    bool arrived = queue_changed.wait_for(lock, std::chrono::seconds(1), [&] {
      found = std::find_if(queue.begin(), queue.end(),
                           [&](const batch& b) { return std::any_of(b.turns.begin(), b.turns.end(), is_wanted); });
      return found != queue.end() || stop || closing;
    });
    bool joins = arrived && found != queue.end() && !stop;
    if (joins) {
      // No rows, or rows for the run's table alone (single_table() is also ""
      // for rows of several tables).
      bool rows = std::any_of(found->tables.begin(), found->tables.end(),
                              [](const table_rows& t) { return !t.rows.empty(); });
      joins = !rows || single_table(*found) == statement;
      for (const auto& t : found->turns) {
        joins = joins && (is_wanted(t) || order.is_turn({t}));
      }
    }
    awaited.erase(wanted.key);
    queue_changed.notify_all();
    if (!joins) return std::nullopt;
    batch b = std::move(*found);
    queue.erase(found);
    if (!b.continues.empty()) await_next(b);
    return b;
  }

  // Retries infrastructure faults with backoff; abandoned when stopped, when a
  // source failed meanwhile, or past give_up_after.
  batch_outcome commit_with_retry(connection& conn, batch& b) {
    auto delay = std::chrono::milliseconds(200);
    auto started = std::chrono::steady_clock::now();
    bool noted = false;
    while (true) {
      try {
        if (!conn.is_open()) conn = open_lane();
        return commit(conn, b);
      } catch (const lost_turn&) {
        return batch_outcome::abandoned;
      } catch (const db_error& e) {
        if (!e.is_retryable()) throw;
        if (options.give_up_after.count() > 0 &&
            std::chrono::steady_clock::now() - started + delay > options.give_up_after) {
          throw db_error(e.kind(), e.sqlstate(),
                         std::string(e.what()) + " (gave up after retrying for " +
                             std::to_string(options.give_up_after.count() / 1000) + " s)");
        }
        pipeline_log()->warn("{}: {} ({}); retrying in {} ms", b.checkpoints.empty() ? "batch" : b.checkpoints.front()->describe(),
                             e.what(), warehouse::to_string(e.kind()), delay.count());
        if (!noted) note_retry(b, e.what());
        noted = true;
      }
      auto until = std::chrono::steady_clock::now() + delay;
      while (std::chrono::steady_clock::now() < until) {
        if (stop || order.any_failed(b.turns)) return batch_outcome::abandoned;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      delay = std::min(delay * 2, std::chrono::milliseconds(10'000));
      try {
        conn = open_lane();
      } catch (const db_error& e) {
        pipeline_log()->warn("still cannot connect: {}", e.what());
      }
    }
  }

  // On a connection of its own: the lane's may be what failed. A server that
  // cannot take it (down, its disk full too) leaves it to the log line.
  void note_retry(const batch& b, const std::string& error) {
    try {
      connection side(dsn);
      for (const auto& cp : b.checkpoints) cp->note_retry(side, error);
    } catch (const std::exception& not_noted) {
      pipeline_log()->debug("could not record why a batch is retried: {}", not_noted.what());
    }
  }

  batch_outcome commit(connection& conn, batch& b) {
    bool split = false;
    while (true) {
      try {
        return attempt(conn, b, split);
      } catch (const db_error& e) {
        if (e.kind() != error_kind::data || split || !conn.is_open()) throw;
        pipeline_log()->info("{}: the server refused a row ({}); finding which", describe(b), e.server_message());
        split = true;
      }
    }
  }

  static std::string describe(const batch& b) {
    std::string out;
    for (const auto& c : b.checkpoints) {
      if (!out.empty()) out += "; ";
      out += c->describe();
    }
    return out;
  }

  batch_outcome attempt(connection& conn, batch& b, bool split) {
    // Whatever ends an attempt without its commit, its rows are no longer streamed.
    struct unstream_on_exit {
      order_book& order;
      const std::vector<source_turn>& turns;
      ~unstream_on_exit() { order.unstreamed(turns); }
    } unstream{order, b.turns};
    while (true) {
      warehouse::transaction tx(conn);
      copy_encoder refused_rejects;
      std::vector<std::uint32_t> refused;
      for (auto& t : b.tables) {
        if (t.rows.empty()) continue;
        if (split) copy_splitting(conn, t, b, refused_rejects, refused);
        else copy_stream(conn, t.copy_statement, t.rows.finish());
      }
      if (!b.rejects.empty()) copy_stream(conn, rejects_copy_statement(), b.rejects.finish());
      if (!refused_rejects.empty()) {
        copy_stream(conn, rejects_copy_statement(), refused_rejects.finish());
      }
      order.streamed(b.turns);
      // Not our turn yet: when every predecessor has streamed, waiting for
      // their commits with this transaction open is safe and saves streaming
      // again; else (they may wait on a lock this batch holds) roll back.
      if (!order.is_turn(b.turns) &&
          order.wait_for_predecessors_streamed(b.turns, std::chrono::milliseconds(100))) {
        int turn = order.wait_for_turn_while_streamed(b.turns, stop);
        if (turn < 0) {
          order.unstreamed(b.turns);
          throw lost_turn{};
        }
      }
      // Counts move with the refused rows before the checkpoints record them.
      std::map<std::int64_t, std::uint64_t> refused_per_source;
      for (auto origin : refused) ++refused_per_source[b.origins[origin].source_id];
      log_load(conn, std::span<const batch>(&b, 1), refused);
      advance_result overall = advance_result::advanced;
      bool mixed = false;
      for (std::size_t i = 0; i < b.checkpoints.size(); ++i) {
        auto r = b.checkpoints[i]->advance(conn, refused_per_source);
        if (i == 0) overall = r;
        else if (r != overall) mixed = true;
      }
      if (!mixed && overall == advance_result::advanced) {
        tx.commit();
        order.committed(b.turns);  // before the guard unmarks the rows as streamed
        b.refused = refused.size();
        for (auto origin : refused) {
          auto feed = b.origins[origin].feed;
          if (feed >= b.feed_tallies.size()) continue;
          --b.feed_tallies[feed].loaded;
          ++b.feed_tallies[feed].rejected;
        }
        return batch_outcome::committed;
      }
      if (!mixed && overall == advance_result::already_applied) {
        tx.rollback();
        return batch_outcome::already_applied;
      }
      tx.rollback();
      order.unstreamed(b.turns);
      if (order.is_turn(b.turns)) {
        throw moved_elsewhere(describe(b) +
                              ": the ledger is not where this batch starts (another sluice may"
                              " have loaded it); it is looked at again from the ledger");
      }
      if (!order.wait_for_turn(b.turns, stop)) throw lost_turn{};
    }
  }

  // COPYs the table's rows, splitting around every row the server refuses.
  static void copy_splitting(connection& conn, table_rows& t, batch& b, copy_encoder& refused_rejects,
                             std::vector<std::uint32_t>& refused) {
    if (t.origins.size() != t.rows.rows()) {
      // No origin to make a reject of (not a source that keeps them): the
      // server's refusal fails the batch as it is.
      copy_stream(conn, t.copy_statement, t.rows.finish());
      return;
    }
    std::vector<std::size_t> offsets;
    copy_around_refused(conn, t.copy_statement, t.rows, [&](std::size_t row, const db_error& e) {
      if (offsets.empty()) offsets = t.rows.row_offsets();
      auto origin_index = t.origins[row];
      const auto& origin = b.origins[origin_index];
      reject_place place;
      std::string raw;
      if (b.from) {
        place = b.from->place(origin);
        raw = b.from->raw_text(origin, t.copy_statement, t.rows.stream_of(offsets, row, row + 1));
      }
      append_reject(refused_rejects, place, origin, b.feed_names[origin.feed], "", refusal_reason(e), raw);
      refused.push_back(origin_index);
    });
  }
};

committer::committer(std::string dsn, committer_options options, done_handler on_done)
    : impl_(std::make_unique<impl>(std::move(dsn), options, std::move(on_done))) {}
committer::~committer() = default;
void committer::submit(batch b) { impl_->submit(std::move(b)); }
void committer::wait_idle() { impl_->wait_idle(); }
bool committer::wait_for_room(std::chrono::milliseconds patience) { return impl_->wait_for_room(patience); }
bool committer::wait_idle_for(std::chrono::milliseconds patience) { return impl_->wait_idle_for(patience); }
void committer::forget(const std::string& source_key) { impl_->order.forget(source_key); }
bool committer::failed(const std::string& source_key) { return impl_->order.failed(source_key); }
void committer::request_stop() noexcept {
  impl_->stop = true;
  impl_->order.wake();
  {
    std::lock_guard lock(impl_->queue_mutex);  // so that no waiter misses it
  }
  impl_->queue_changed.notify_all();
}

}  // namespace sluice::loader

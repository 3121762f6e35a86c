#include "loader/sources/files/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <system_error>
#include <utility>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <future>
#include <vector>

#include "loader/pipeline/batch.h"
#include "loader/bytes/byte_source.h"
#include "loader/pipeline/committer.h"
#include "loader/bytes/content_hash.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "loader/formats/record_reader.h"
#include "loader/sources/files/file_access.h"
#include "loader/sources/files/file_batch.h"
#include "loader/sources/files/file_checkpoints.h"
#include "loader/sources/files/identity.h"
#include "loader/sources/files/parked_files.h"
#include "loader/sources/files/retry_book.h"
#include "warehouse/connection.h"
#include "warehouse/file_ledger.h"
#include "warehouse/log.h"

namespace sluice::loader {

namespace {

using warehouse::connection;
using warehouse::db_error;
using warehouse::file_stat;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t head_bytes = 4096;           // what tells a file's framing
constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
constexpr std::size_t first_streamed_batch_bytes = 256 << 10;
constexpr std::size_t lookup_group = 512;  // files looked up in the ledger together

std::shared_ptr<spdlog::logger> log() {
  static auto instance = warehouse::named_logger("loader");
  return instance;
}

// What the committer reports back about one file of a batch.
struct file_done {
  std::int64_t id = 0;
  std::string key;
  batch_outcome outcome = batch_outcome::committed;
  std::string error;
  bool complete = false;
  std::int64_t loaded = 0;
  std::int64_t rejected = 0;
};

}  // namespace

struct loader::impl {
  std::string dsn;
  loader_options options;
  unique_fd inbox_fd;
  // The committer, made on another thread while `ledger` connects: each
  // connection costs the server a backend start, a visible part of a short run.
  std::future<std::unique_ptr<committer>> committing;
  connection ledger;
  std::vector<feed_plan> feeds;
  // Declared feeds that cannot work (compile_feeds): their files are not
  // loaded, and --once says so.
  std::vector<skipped_feed> skipped;
  clock_type::time_point feeds_loaded_at;
  // Paths that more than one feed takes, already told in a WARN.
  std::set<std::string> overlap_logged;
  // Paths whose batch the server refused for good (a missing table or
  // column, a privilege: error_kind::schema), with why: not read again until
  // the declarations are read again.
  std::map<std::string, std::string> permanent;
  std::map<std::string, std::unique_ptr<record_decoder>> decoders;  // by feed name
  std::set<std::string> unmatched_logged;
  std::atomic<bool> stop{false};
  std::uint64_t generation = 0;  // makes committer keys unique per tracking

  std::map<std::int64_t, tracked_file> tracked;  // by ledger id
  std::map<std::string, std::int64_t> by_path;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> by_inode;
  // Files whose ledger row went on in a copy (copytruncate) while they were
  // outside their feed's globs (a rotated name): what they hold after the
  // truncation is still their feed's, by inode -> feed name.
  std::map<std::pair<std::int64_t, std::int64_t>, std::string> truncated_outside;

  // Paths handed to load() and not looked at yet, each with `settled`.
  std::vector<std::pair<std::string, bool>> pending;
  retry_book retries;
  std::map<std::string, std::string> failures;  // path -> why it is not loaded (for finish())


  std::mutex done_mutex;
  std::vector<file_done> done;

  load_totals counts;
  std::atomic<std::uint64_t> committed_loaded{0};
  std::atomic<std::uint64_t> committed_rejected{0};

  std::unique_ptr<committer> commits;
  file_batch current{options.batch_bytes, [this](batch&& b) { commits->submit(std::move(b)); }};
  std::unique_ptr<identity_ledger> ledger_view;  // on `ledger` (which a lost connection replaces in place)
  std::unique_ptr<identity> ident;

  impl(std::string dsn_in, loader_options opts)
      : dsn(std::move(dsn_in)),
        options(std::move(opts)),
        committing(std::async(std::launch::async,
                              [this] {
                                return std::make_unique<committer>(
                                    dsn, committer_options{options.copy_streams, 4, options.give_up_after, options.stream_bytes},
                                    [this](const batch& b, batch_outcome outcome, const std::string& error) {
                                      on_batch_done(b, outcome, error);
                                    });
                              })),
        ledger(dsn) {
    commits = committing.get();
    inbox_fd = unique_fd(::open(options.inbox.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!inbox_fd.valid()) {
      throw std::system_error(errno, std::generic_category(), "cannot open the inbox " + options.inbox.string());
    }
    ledger_view = ledger_identity(ledger);
    ident = std::make_unique<identity>(inbox_fd.get(), options.inbox, [this](std::int64_t id) {
      auto held = tracked.find(id);
      return held == tracked.end() ? -1 : held->second.fd->get();
    });
    reload_feeds();
  }

  ~impl() {
    commits.reset();  // joins the committer threads before the rest goes
  }

  void reload_feeds() {
    use_feeds(read_feeds());
    feeds_loaded_at = clock_type::now();
  }

  // The declarations, compiled; each feed that cannot work and each overlap
  // is said once per reading (WARN). The other feeds load.
  feed_set read_feeds() {
    warehouse::transaction tx(ledger);  // compile_feeds takes a savepoint per feed
    auto fresh = compile_feeds(ledger);
    tx.commit();
    for (const auto& s : fresh.skipped) {
      log()->warn("{}; feed {} is skipped: none of its files is loaded until its declaration is fixed"
                  " (the other feeds load)", s.reason, s.name);
    }
    for (const auto& o : fresh.overlaps) {
      log()->warn("{}; until then a file stays in the feed of its ledger row", o.describe());
    }
    return fresh;
  }

  void use_feeds(feed_set fresh) {
    feeds = std::move(fresh.feeds);
    skipped = std::move(fresh.skipped);
    permanent.clear();
    decoders.clear();
    for (const auto& f : feeds) decoders[f.name] = std::make_unique<record_decoder>(f);
  }

  const feed_plan* feed_named(const std::string& name) {
    for (const auto& f : feeds) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  // A feed declared since start-up is picked up within seconds: when a path
  // of this pass matches no feed, the declarations are read again, before
  // the pass takes any `const feed_plan*`. (Reading them again in the middle
  // of a pass, as it once did, freed the plans that the sightings gathered
  // so far pointed to: the daemon then copied freed memory as feed names,
  // sent garbage to the server and crashed.) A failed re-read keeps the
  // declarations in use.
  void refresh_feeds_for(const std::vector<std::string>& paths) {
    if (clock_type::now() - feeds_loaded_at <= std::chrono::seconds(5) || !tracked.empty() ||
        current.files() != 0) {
      return;
    }
    bool unmatched = std::any_of(paths.begin(), paths.end(),
                                 [&](const std::string& path) { return match_feed(feeds, path) == nullptr; });
    if (!unmatched) return;
    try {
      auto fresh = read_feeds();
      commits->wait_idle();
      take_done();
      use_feeds(std::move(fresh));
    } catch (const std::exception& e) {
      log()->warn("could not re-read the feed declarations ({}); keeping the ones in use", e.what());
    }
    feeds_loaded_at = clock_type::now();
  }

  // The feed of a file that several feeds take (declared before `sluice
  // migrate` refused overlaps): the feed of its ledger row, so that a file
  // never changes feed (a feed declared later would otherwise load it again
  // and leave the old rows `replaced`); the first by name for a new file.
  const feed_plan* settle_overlap(const std::string& path, const std::vector<const feed_plan*>& candidates,
                                  const file_stat& st) {
    std::vector<std::string> names;
    for (const auto* c : candidates) names.push_back(c->name);
    auto owner = warehouse::feed_of_file(ledger, path, st, names);
    const feed_plan* chosen = candidates.front();
    for (const auto* c : candidates) {
      if (owner && c->name == *owner) chosen = c;
    }
    if (overlap_logged.insert(path).second) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : " and ") + n;
      log()->warn("{}: feeds {} both take this path (their file_globs overlap); it stays in feed {}{}", path,
                  list, chosen->name,
                  owner ? " (its ledger row's): a file never changes feed" : " (the first by name: no ledger row yet)");
    }
    return chosen;
  }

  // ----------------------------------------------------------------- intake

  void load(const std::string& path, bool settled) {
    pending.emplace_back(path, settled);
    if (pending.size() >= lookup_group) process_pending();
  }

  void process_pending() {
    if (pending.empty()) return;
    auto work = std::move(pending);
    pending.clear();
    take_done();
    try {
      look_at(work);
    } catch (const db_error& e) {
      if (!e.is_retryable()) log()->error("{}", e.what());
      else log()->warn("the ledger is unreachable ({}); retrying", e.what());
      for (auto& [path, settled] : work) schedule_retry(path, settled, e.what());
      if (!ledger.is_open()) lost_ledger();
    }
  }

  // The ledger connection broke: every claim went with it, and what this
  // process remembers may describe commits the server lost. Forget it all and
  // look at every file again from what the database says.
  void lost_ledger() {
    log()->warn("lost the ledger connection: claims are gone; every open file is looked at again");
    current.hand_over();
    commits->wait_idle();
    take_done();
    for (auto& [id, t] : tracked) {
      schedule_retry(t.path, t.settled, "the ledger connection was lost");
      commits->forget(t.key);
    }
    tracked.clear();
    by_path.clear();
    by_inode.clear();
    try {
      ledger = connection(dsn);
    } catch (const db_error& e) {
      log()->warn("still cannot reach the ledger: {}", e.what());
    }
  }

  void schedule_retry(const std::string& path, bool settled, const std::string& reason) {
    retries.schedule(path, settled, reason);
  }

  void look_at(std::vector<std::pair<std::string, bool>>& work) {
    // A path handed in twice is looked at once (settled if either said so):
    // two sightings of one new file in one lookup would make two rows.
    std::map<std::string, bool> wanted;
    std::vector<std::string> order;
    for (auto& [path, settled] : work) {
      auto [it, fresh] = wanted.try_emplace(path, settled);
      if (fresh) order.push_back(path);
      else it->second = it->second || settled;
    }
    refresh_feeds_for(order);  // before any sighting points to a feed
    std::vector<sighting> unknown;
    std::set<std::pair<std::int64_t, std::int64_t>> unknown_inodes;
    for (const auto& path : order) {
      bool settled = wanted[path];
      if (stop) return;
      retries.forget(path);
      auto candidates = feeds_matching(feeds, path);
      const feed_plan* feed = candidates.empty() ? nullptr : candidates.front();
      auto opened = open_beneath(inbox_fd.get(), path);
      auto deleted = parked.deleted(
          path, opened, [this](const std::string& name) { return feed_named(name); },
          [this](const parked_files::inode& key) { return by_inode.count(key) > 0; });
      for (auto& held : deleted) {
        if (unknown_inodes.insert({held.stat.device, held.stat.inode}).second) unknown.push_back(std::move(held));
      }
      if (opened.gone) {
        file_vanished(path);
        continue;
      }
      if (opened.busy) {
        log()->warn("{}: {}; looked at again later", path, opened.refusal);
        schedule_retry(path, settled, opened.refusal);
        continue;
      }
      if (feed == nullptr) {
        if (!opened.refusal.empty()) continue;
        if (const auto* s = match_skipped(skipped, path)) {
          failures[path] = "feed " + s->name + " is skipped: " + s->reason;
          continue;
        }
        follow_unmatched(path, settled, std::move(opened));
        continue;
      }
      if (permanent.count(path) > 0) continue;  // failures[path] says why
      failures.erase(path);
      if (!opened.refusal.empty()) {
        refuse(*feed, path, opened.refusal);
        continue;
      }
      auto st = stat_of(opened.st);
      if (auto it = by_inode.find({st.device, st.inode}); it != by_inode.end()) {
        continue_tracked(tracked.at(it->second), path, settled, std::move(opened), st);
        continue;
      }
      if (candidates.size() > 1) feed = settle_overlap(path, candidates, st);
      if (auto it = by_path.find(path); it != by_path.end()) {
        // The path holds another file now: the one we held was renamed away
        // or deleted. What it still had was read when we last looked; it is
        // let go once its batches are done.
        detach_path(it->second);
      }
      if (st.size == 0) continue;  // nothing to read, nothing to remember
      if (!unknown_inodes.insert({st.device, st.inode}).second) continue;  // a hard link seen twice
      unknown.push_back({path, settled, feed, std::move(opened), st});
    }
    if (!unknown.empty()) {
      resolve(unknown);
      parked.forget(unknown);
    }
  }

  // A path no feed takes: a file we follow may have been renamed there (a log
  // rotated to app.log.1). Else it is left alone, said once.
  void follow_unmatched(const std::string& path, bool settled, opened_file opened) {
    auto st = stat_of(opened.st);
    if (auto it = by_inode.find({st.device, st.inode}); it != by_inode.end()) {
      continue_tracked(tracked.at(it->second), path, settled, std::move(opened), st);
      return;
    }
    std::string feed_name;
    if (auto kept = truncated_outside.find({st.device, st.inode}); kept != truncated_outside.end()) {
      feed_name = kept->second;
    } else if (auto row = warehouse::find_by_inode(ledger, st)) {
      feed_name = row->feed;
    }
    if (const feed_plan* feed = feed_name.empty() ? nullptr : feed_named(feed_name)) {
      std::vector<sighting> one;
      one.push_back({path, settled, feed, std::move(opened), st});
      resolve(one);
      return;
    }
    if (unmatched_logged.insert(path).second) {
      log()->info("{}: no feed takes this file (see sluice.feeds.file_globs); left alone", path);
    }
  }

  // Continues ledger row `row` in `copy` (claimed by the caller): reads it to its end.
  void continue_in_copy(sighting& copy, const warehouse::file_row& row, const std::string& was) {
    log()->info("{} {}: {} was copied here and truncated (copytruncate); continuing file {} at byte {}",
                copy.feed->name, copy.path, was, row.id, row.done.bytes);
    warehouse::move_file(ledger, row.id, copy.path, copy.stat);
    auto moved = row;
    moved.path = copy.path;
    moved.state = "loading";
    start_tracking(copy, row.id, moved);
  }

  void refuse(const feed_plan& feed, const std::string& path, const std::string& reason) {
    failures[path] = reason;
    auto id = warehouse::insert_refused(ledger, feed.name, path, reason);
    if (id) {
      ++counts.refused;
      log()->warn("{} {}: {} (sluice.files id {}, state refused)", feed.name, path, reason, *id);
    }
  }

  void file_vanished(const std::string& path) {
    auto it = by_path.find(path);
    if (it == by_path.end()) return;
    auto& t = tracked.at(it->second);
    by_path.erase(it);
    struct stat st {};
    if (::fstat(t.fd->get(), &st) == 0) {
      auto now = stat_of(st);
      if (change_under(t, now) != under::same) {
        // Truncated or rewritten since it was read (copytruncate, then renamed
        // away): its bytes from where it was read on are not the ones that
        // followed. Decided as when seen under its name: it goes on in its
        // copy, or its new content is a new file.
        // (Its path by value: continue_tracked may let go of t, and with it t.path.)
        const std::string was = t.path;
        continue_tracked(t, was, false, opened_file{}, now);
        return;
      }
      t.stat = now;
    }
    if (st.st_nlink > 0 && inside_inbox(t.fd->get(), options.inbox)) {
      // Renamed within the inbox (a log rotated to app.log.1): its new name
      // is seen, and a writer may still finish its last line there. Its
      // complete lines are read; it is read to its end once it settles.
      read_file(t, static_cast<std::uint64_t>(t.stat.size), false, false);
      return;
    }
    // Deleted, or moved out of the inbox: still open, so what it holds can be
    // read to its end (a rotated log that was deleted at once is still
    // readable through our descriptor).
    read_file(t, static_cast<std::uint64_t>(t.stat.size), true, true);
  }

  void detach_path(std::int64_t id) {
    auto& t = tracked.at(id);
    by_path.erase(t.path);
    t.path += " (renamed or deleted)";
  }

  enum class under { same, shrank, rewritten };

  // Whether a held file was rewritten in place since it was read: shorter
  // than where it was read up to, or no longer ending there as it did (a
  // truncation followed by more writes than were loaded). A compressed
  // file's offsets count content: its own size is compared with its size
  // when last seen, and its own bytes before that size, which only ever grow,
  // must end as they did (the source inflates on from there: a new stream's
  // bytes fed to the old one's state would break the file in a reject, and
  // the new content before that point would never load).
  static under change_under(tracked_file& t, const file_stat& st) {
    if (t.compressed ? st.size < t.stat.size : static_cast<std::uint64_t>(st.size) < t.at.bytes) {
      return under::shrank;
    }
    bool changed = t.compressed ? !t.raw_guard.empty() && guard_hash_of(t.fd->get(), t.raw_read) != t.raw_guard
                                : !t.guard.empty() && guard_hash_of(t.fd->get(), t.ledger_bytes) != t.guard;
    return changed ? under::rewritten : under::same;
  }

  void continue_tracked(tracked_file& t, const std::string& path, bool settled, opened_file opened,
                        const file_stat& st) {
    if (t.failed) return;  // looked at again from the ledger once its batches are done
    if (t.path != path) {
      log()->info("{} {}: renamed from {} (file {}); continuing at byte {}", t.feed->name, path, t.path,
                  t.id, t.at.bytes);
      by_path.erase(t.path);
      if (auto other = by_path.find(path); other != by_path.end()) detach_path(other->second);
      by_path[path] = t.id;
      t.path = path;
      warehouse::move_file(ledger, t.id, path, st);
    }
    auto change = change_under(t, st);
    // A plain file written past where it was read after a truncation (its
    // bytes before that offset are not the ones read) is a truncated file:
    // its old content may be in a copy (copytruncate), as for a shorter one.
    bool shrank = change == under::shrank || (change == under::rewritten && !t.compressed);
    bool rewritten = change != under::same;
    if (rewritten && !shrank) {
      log()->warn("{} {}: rewritten in place (its bytes before byte {} changed); loading it as new content",
                  t.feed->name, path, t.ledger_bytes);
      t.failed = true;
      schedule_retry(path, settled, "rewritten in place");
      if (t.in_flight == 0) {
        std::vector<std::int64_t> releases;
        let_go(t, releases);
        warehouse::release_files(ledger, releases);
      }
      return;
    }
    if (shrank && t.in_flight > 0 && !t.guard.empty() && !t.compressed) {
      // Truncated while batches of it are in flight: they commit first, so
      // that a copy of it (logrotate's copytruncate) is looked for from where
      // they end, not passed over.
      auto id = t.id;
      commits->wait_idle();
      take_done();
      auto again = tracked.find(id);
      if (again == tracked.end()) {  // let go meanwhile: looked at again from the ledger
        schedule_retry(path, settled, "truncated while its batches were in flight");
        return;
      }
      if (again->second.in_flight == 0) return continue_tracked(again->second, path, settled, std::move(opened), st);
      // (Rows of it still wait in the batch being built: as before, below.)
    }
    if (shrank) {
      if (t.in_flight == 0 && !t.guard.empty() && !t.compressed) {
        if (auto copy = ident->find_copy(*ledger_view, path, st, static_cast<std::int64_t>(t.at.bytes), t.guard,
                                         t.feed)) {
          // The same row goes on in the copy, then this path starts afresh.
          warehouse::file_row row;
          row.id = t.id;
          row.feed = t.feed->name;
          row.path = t.path;
          row.state = "loading";
          row.done = {static_cast<std::int64_t>(t.at.bytes), static_cast<std::int64_t>(t.at.lines),
                      static_cast<std::int64_t>(t.at.records), t.ledger_hash, t.guard};
          std::vector<std::int64_t> releases;
          let_go(t, releases);  // the claim stays ours: the row goes on
          commits->wait_idle();
          take_done();
          continue_in_copy(*copy, row, path);
          // Its new content is a new file of the same feed, also under a name
          // the feed does not take (rotated there after the truncation, with
          // the writer still writing to it).
          truncated_outside[{st.device, st.inode}] = row.feed;
          schedule_retry(path, settled, "truncated: its new content is a new file");
          return;
        }
      }
      if (change == under::shrank) {
        log()->warn("{} {}: shrank from {} to {} bytes (truncated or rewritten in place); loading it as new"
                    " content", t.feed->name, path, t.at.bytes, st.size);
      } else {
        log()->warn("{} {}: rewritten in place (its bytes before byte {} changed: truncated and written again);"
                    " loading it as new content", t.feed->name, path, t.ledger_bytes);
      }
      // Let go of it; the ledger (which sees the shrink too) makes it a new row.
      t.failed = true;
      failures.erase(path);
      schedule_retry(path, settled, "truncated or rewritten in place");
      if (t.in_flight == 0) {
        std::vector<std::int64_t> releases;
        let_go(t, releases);
        warehouse::release_files(ledger, releases);
      }
      return;
    }
    t.stat = st;
    t.settled = t.settled || settled;
    (void)opened;  // the tracked descriptor is the same file
    read_file(t, static_cast<std::uint64_t>(st.size), settled, false);
  }

  // Looks up files the loader does not hold, in the ledger, together, and
  // does what identity decides (identity.h), in one transaction.
  void resolve(std::vector<sighting>& files) {
    warehouse::transaction tx(ledger);
    warehouse::lock_identity(ledger);
    auto decided = ident->decide(files, *ledger_view);
    for (const auto& r : decided.retries) schedule_retry(r.path, r.settled, r.reason);
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      const auto& d = decided.verdicts[i];
      if (d.kind == verdict_kind::retry) schedule_retry(f.path, f.settled, d.reason);
      if (d.kind != verdict_kind::duplicate) continue;
      warehouse::file_sighting as{f.feed->name, f.path, f.stat, false};
      auto id = warehouse::insert_duplicate(ledger, as, *d.row, d.reason);
      ++counts.duplicates;
      log()->warn("{} {}: {} (sluice.files id {}, state duplicate)", f.feed->name, f.path, d.reason, id);
    }
    auto ids = record_decisions(files, decided.verdicts);
    std::vector<std::int64_t> wanted;
    for (auto id : ids) {
      if (id != 0 && !decided.claimed.count(id)) wanted.push_back(id);
    }
    for (const auto& c : decided.continuations) {
      if (!decided.claimed.count(c.row.id)) wanted.push_back(c.row.id);
    }
    auto held = warehouse::claim_files(ledger, wanted);
    tx.commit();
    std::set<std::int64_t> claimed(held.begin(), held.end());
    // Claims taken to judge a row that then was not resumed go back.
    std::vector<std::int64_t> judged_only;
    for (auto id : decided.claimed) {
      bool used = std::find(ids.begin(), ids.end(), id) != ids.end() ||
                  std::any_of(decided.continuations.begin(), decided.continuations.end(),
                              [&](const auto& c) { return c.row.id == id; });
      if (used) claimed.insert(id);
      else judged_only.push_back(id);
    }
    warehouse::release_files(ledger, judged_only);
    for (auto& c : decided.continuations) {
      if (claimed.count(c.row.id)) continue_in_copy(c.copy, c.row, c.row.path);
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      auto& d = decided.verdicts[i];
      if (ids[i] == 0) continue;
      if (!claimed.count(ids[i])) {
        schedule_retry(f.path, f.settled, "another sluice is loading it");
        log()->debug("{} {}: claimed by another sluice; looked at again later", f.feed->name, f.path);
        continue;
      }
      start_tracking(f, ids[i], d.kind == verdict_kind::resume ? d.row : std::nullopt, std::move(d.checked));
    }
  }

  // The ledger rows of resumed (moved, when renamed) and fresh (inserted)
  // files: their ids, 0 for the other verdicts.
  std::vector<std::int64_t> record_decisions(const std::vector<sighting>& files, const std::vector<verdict>& verdicts) {
    std::vector<std::int64_t> ids(files.size(), 0);
    for (std::size_t i = 0; i < files.size(); ++i) {
      const auto& f = files[i];
      const auto& d = verdicts[i];
      if (d.kind == verdict_kind::resume) {
        ids[i] = d.row->id;
        if (d.row->path != f.path) {
          warehouse::move_file(ledger, d.row->id, f.path, f.stat);
          log()->info("{} {}: renamed from {} (file {}); continuing at byte {}", f.feed->name, f.path, d.row->path,
                      d.row->id, d.row->done.bytes);
        }
      } else if (d.kind == verdict_kind::fresh) {
        std::optional<std::int64_t> content_size;
        if (f.settled) content_size = d.checked ? static_cast<std::int64_t>(d.content_size) : f.stat.size;
        warehouse::file_sighting as{f.feed->name, f.path, f.stat, false};
        ids[i] = warehouse::insert_loading(ledger, as, content_size, d.whole_hash, d.lead_hash);
      }
    }
    return ids;
  }

  // `checked`: a .gz's source that resolve() checked already (else one is made).
  void start_tracking(sighting& f, std::int64_t id, const std::optional<warehouse::file_row>& row,
                      std::shared_ptr<byte_source> checked = nullptr) {
    truncated_outside.erase({f.stat.device, f.stat.inode});
    tracked_file t;
    t.id = id;
    t.feed = f.feed;
    t.path = f.path;
    t.fd = std::make_shared<const unique_fd>(std::move(f.file.fd));
    t.stat = f.stat;
    t.settled = f.settled;
    t.key = "file:" + std::to_string(id) + ":" + std::to_string(++generation);
    if (row) {
      t.at = {static_cast<std::uint64_t>(row->done.bytes), static_cast<std::uint64_t>(row->done.lines),
              static_cast<std::uint64_t>(row->done.records)};
      if (row->state == "duplicate") {
        // (A .gz of another size may hold more content, even when smaller:
        // reading it from the offset finds out.)
        bool same_size = is_gzip_path(f.path) ? row->seen && f.stat.size == row->seen->size
                                              : f.stat.size <= row->done.bytes;
        if (same_size) {
          // Still the copy it was: nothing to load, nothing to hold.
          release_now(id);
          return;
        }
        warehouse::reopen_duplicate(ledger, id);
        log()->info("{} {}: a duplicate that grew past its original; loading what is new from byte {}",
                    f.feed->name, f.path, t.at.bytes);
      }
      // A compressed file's offsets count its content: its own size says
      // nothing about them, so it is as it was when its stat is.
      bool compressed = is_gzip_path(f.path);
      bool unchanged = row->seen && row->seen->size == f.stat.size;
      t.complete = row->state == "loaded" && (compressed ? unchanged : f.stat.size == row->done.bytes);
      if (t.complete || (!f.settled && (compressed ? unchanged : static_cast<std::uint64_t>(f.stat.size) == t.at.bytes))) {
        release_now(id);  // nothing new: no need to hold it
        return;
      }
      // done_hash is a chain: what was committed before, then the new bytes. A
      // resumed file continues the chain from the stored digest, reading
      // nothing it loaded before.
      t.hash.update(row->done.hash);
      t.whole = false;
      t.ledger_bytes = t.at.bytes;
      t.ledger_hash = row->done.hash;
      t.guard = row->done.guard_hash;
    }
    t.compressed = is_gzip_path(f.path);
    if (checked) {
      t.source = std::move(checked);
      t.checked_size = static_cast<std::uint64_t>(f.stat.size);
    } else {
      t.source = std::shared_ptr<byte_source>(make_source(f.path, t.fd->get(), static_cast<std::uint64_t>(f.stat.size)));
    }
    if (t.compressed && f.settled && t.checked_size != static_cast<std::uint64_t>(f.stat.size)) {
      // Checked before anything is read, its head included: content of a
      // damaged member read before the check would be given out already.
      t.source->check_integrity();
      t.checked_size = static_cast<std::uint64_t>(f.stat.size);
    }
    auto head = read_content(*t.source, 0, head_bytes);
    if (t.compressed) t.content_head = head;
    std::string_view view = head;
    if (view.starts_with(utf8_bom)) {
      view.remove_prefix(utf8_bom.size());
      if (t.at.bytes == 0) {
        t.at.bytes = utf8_bom.size();
        t.hash.update(utf8_bom);
      }
    }
    if (!f.settled && view.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      // Nothing to tell the framing by yet (a BOM or blank lines so far): wait.
      release_now(id);
      return;
    }
    t.kind = f.feed->framing_for(view);
    t.first_record = t.at.records + 1;
    auto [it, fresh] = tracked.emplace(id, std::move(t));
    auto& held = it->second;
    by_path[held.path] = id;
    by_inode[{held.stat.device, held.stat.inode}] = id;
    read_file(held, static_cast<std::uint64_t>(f.stat.size), f.settled, false);
  }

  void release_now(std::int64_t id) {
    std::array<std::int64_t, 1> one{id};
    warehouse::release_files(ledger, one);
  }

  // ---------------------------------------------------------------- reading

  // Reads [t.at, size) into batches. `settled`: a file read to its end is
  // complete; `force_final`: the end of the file ends the last record whatever
  // the framing (a file that can grow no more).
  void read_file(tracked_file& t, std::uint64_t size, bool settled, bool force_final) {
    if (t.failed || stop) return;
    if (t.kind == framing::json && !settled && !force_final) return;  // a document is read once complete
    bool final = force_final || (settled && (t.kind == framing::json || options.read_unterminated_tail));
    bool nothing_new = t.compressed ? size == t.raw_read : t.at.bytes >= size;
    if (nothing_new && (t.complete || !settled)) return;
    t.source->set_limit(size);
    if (t.compressed && settled && t.checked_size != size) {
      // A settled .gz is checked whole before it is read: damage that only a
      // member's CRC reveals must not become rows.
      t.source->check_integrity();
      t.checked_size = size;
    }
    std::size_t left = t.compressed || size < t.at.bytes ? std::size_t{1} << 20 : static_cast<std::size_t>(size - t.at.bytes);
    record_reader reader(*t.source, t.kind, t.at, t.hash, final,
                         {.initial_buffer_bytes = std::min<std::size_t>(1 << 20, std::max<std::size_t>(left + 64, 4096)),
                          .max_record_bytes = options.max_record_bytes,
                          .raw_keep_bytes = reject_raw_bytes,
                          .padding = 64,
                          // A settled .csv.gz whose stream ended cleanly is complete (its
                          // writer wrote the end marker): its last row counts, also in the
                          // daemon. Not a .log.gz: a log grows by members that may end mid-line
                          // (the next one finishes it), so, as for a plain log, the daemon
                          // waits for a last line's newline.
                          .complete_stream_is_final = t.compressed && settled && t.kind != framing::ndjson},
                         t.feed->csv, t.csv_header);
    auto& decoder = *decoders.at(t.feed->name);
    if (t.kind == framing::csv) {
      if (!t.csv_header) t.csv_header = reader.header();
      auto problem = decoder.bind_csv_header(t.csv_header);
      if (!problem.empty() && (t.csv_header || !t.feed->csv.header) && !t.csv_problem_told) {
        t.csv_problem_told = true;
        log()->warn("{} {}: every row of this file is rejected: {}", t.feed->name, t.path, problem);
      }
    }
    current.open(t);
    bool read_failed = false;
    reject_reason why;
    // A file with more than a batch to read now streams (committer.h), and
    // hands its first batch over small, so that the server starts on it while
    // the next one is parsed. (Not a log that grew by a few lines: its batch
    // is shared with other files, and nothing of it follows at once.)
    std::uint64_t unread = t.compressed ? (size - std::min(size, t.raw_read)) * 4 : size - std::min(size, t.at.bytes);
    bool streams = options.stream_bytes > 0 && !unstreamed.count(t.id) && unread > options.batch_bytes;
    std::size_t cut = streams ? std::min(options.batch_bytes, first_streamed_batch_bytes) : options.batch_bytes;
    try {
      while (true) {
        auto rec = reader.next();
        if (!rec) break;
        if (rec->defect == flaw::lost) {
          log()->warn("{} {}: {}; record {} is a reject for it{}, and what follows it is read on", t.feed->name,
                      t.path, reader.source_problem(), rec->ordinal,
                      rec->size > 0 ? " (with the " + std::to_string(rec->size) + " bytes of the record it cut)" : "");
          why = {"", reader.source_problem() +
                         (rec->size > 0 ? "; this record was cut by it (its first " + std::to_string(rec->size) +
                                              " bytes are here, the rest was lost)"
                                        : "")};
          current.reject(t, *rec, why);
        } else if (rec->defect == flaw::unreadable) {
          log()->warn("{} {}: {}; the rest of the file after record {} is one reject", t.feed->name, t.path,
                      reader.source_problem(), rec->ordinal - 1);
          why = {"", reader.source_problem() + "; nothing after this point can be read (" +
                         std::to_string(rec->size) + " bytes of content after the last complete record)"};
          current.reject(t, *rec, why);
        } else {
          current.add(t, decoder, *rec, why);
        }
        if (current.bytes() >= cut || stop) {
          current.close(t, reader, false);
          // (Its next batch comes at once only while there is more to read.)
          if (!stop && streams && (t.compressed || reader.consumed().bytes < size)) current.continues_with(t.key);
          cut = options.batch_bytes;
          current.hand_over();
          if (stop) return;
          current.open(t);
        }
      }
    } catch (const std::system_error& e) {
      log()->error("{} {}: cannot read the file: {}", t.feed->name, t.path, e.what());
      failures[t.path] = std::string("cannot be read: ") + e.what();
      read_failed = true;
    }
    bool read_all = t.compressed ? reader.exhausted() : reader.consumed().bytes == size;
    bool complete = (settled || force_final) && !read_failed && read_all;
    if (t.compressed && !read_failed) {
      t.raw_read = size;
      t.raw_guard = guard_hash_of(t.fd->get(), size);
    }
    if (complete) t.damage = lost_summary(*t.source, reader.consumed().bytes);
    current.close(t, reader, complete);
    if (read_failed) {
      t.failed = true;
      schedule_retry(t.path, t.settled, "read failed");
    }
    if (current.files() >= options.batch_files) current.hand_over();
  }

  // ---------------------------------------------------------- after commits

  // Files (ledger ids) read without streaming since a batch of theirs failed.
  std::set<std::int64_t> unstreamed;

  parked_files parked;

  void on_batch_done(const batch& b, batch_outcome outcome, const std::string& error) {
    std::vector<file_done> out;
    for (const auto& set : b.checkpoints) {
      const auto* files = dynamic_cast<const file_checkpoints*>(set.get());
      if (files == nullptr) continue;
      const auto& advances = files->applied.empty() ? files->advances : files->applied;
      for (const auto& a : advances) {
        out.push_back({a.id, "", outcome, error, a.complete, a.loaded, a.rejected});
      }
    }
    if (outcome == batch_outcome::committed) {
      committed_loaded += b.loaded - b.refused;
      committed_rejected += b.rejected + b.refused;
    }
    if (outcome == batch_outcome::failed) {
      log()->error("{}: could not be committed: {}; looked at again from the ledger",
                   b.checkpoints.empty() ? "batch" : b.checkpoints.front()->describe(), error);
    }
    if (outcome == batch_outcome::failed_permanently) {
      log()->warn("{}: not loaded: {}; not retried: the server refuses the statement itself (fix the feed's"
                  " declaration or its staging table; sluice looks at the file again when it reads the feed"
                  " declarations again, or restarts)",
                  b.checkpoints.empty() ? "batch" : b.checkpoints.front()->describe(), error);
    }
    std::lock_guard lock(done_mutex);
    for (auto& d : out) done.push_back(std::move(d));
  }

  void take_done() {
    std::vector<file_done> finished;
    {
      std::lock_guard lock(done_mutex);
      finished.swap(done);
    }
    std::vector<std::int64_t> releases;
    for (auto& d : finished) {
      auto it = tracked.find(d.id);
      if (it == tracked.end()) continue;
      auto& t = it->second;
      --t.in_flight;
      bool ok = d.outcome == batch_outcome::committed || d.outcome == batch_outcome::already_applied;
      if (ok) {
        t.loaded += static_cast<std::uint64_t>(d.loaded);
        t.rejected += static_cast<std::uint64_t>(d.rejected);
      } else if (!t.failed) {
        t.failed = true;
        failures[t.path] = d.error.empty() ? "its batch was not committed" : d.error;
        if (d.outcome == batch_outcome::failed_permanently) {
          // Retrying cannot help: the ledger row says why, and the file waits
          // for the declarations to be read again.
          permanent[t.path] = d.error;
          note_failure(t, d.error);
        } else {
          // Read again without streaming: a row the server refuses is then found
          // by splitting a batch the committer still holds (committer.h).
          unstreamed.insert(t.id);
          schedule_retry(t.path, t.settled, failures[t.path]);
        }
      }
      if (t.in_flight > 0) continue;
      report(t);
      if (t.failed && !stop && permanent.count(t.path) == 0) parked.park(t);
      if (t.failed || (t.complete && !in_current(t.id))) {
        if (t.complete && !t.failed) {
          ++counts.files;
          // Read to its end, but a lost part of it loaded nothing.
          if (t.damage.empty()) failures.erase(t.path);
          else failures[t.path] = t.damage;
        }
        let_go(t, releases);
      }
    }
    if (!releases.empty()) {
      try {
        warehouse::release_files(ledger, releases);
      } catch (const db_error& e) {
        log()->warn("could not release claims ({}); they go with the connection", e.what());
      }
    }
  }

  void note_failure(const tracked_file& t, const std::string& error) {
    try {
      warehouse::note_file_failure(ledger, t.id,
                                   error + " (a permanent error: not retried until the feed declarations are read"
                                       " again; fix the feed or its staging table)");
    } catch (const db_error& e) {
      log()->warn("{} {}: could not record why it is not loaded ({})", t.feed->name, t.path, e.what());
    }
  }

  // Forgets a file whose batches are all done; its claim joins `releases`.
  void let_go(tracked_file& t, std::vector<std::int64_t>& releases) {
    releases.push_back(t.id);
    commits->forget(t.key);
    if (auto p = by_path.find(t.path); p != by_path.end() && p->second == t.id) by_path.erase(p);
    if (auto n = by_inode.find({t.stat.device, t.stat.inode}); n != by_inode.end() && n->second == t.id) {
      by_inode.erase(n);
    }
    tracked.erase(t.id);
  }

  bool in_current(std::int64_t id) const { return current.holds(id); }

  void report(tracked_file& t) {
    auto records = t.loaded + t.rejected;
    if (records == t.reported) return;
    auto first = t.first_record + t.reported;
    auto seconds = std::chrono::duration<double>(clock_type::now() - t.since).count();
    log()->info("{} {}: records {}..{} committed: {} loaded, {} rejected in {:.2f} s", t.feed->name, t.path,
                first, t.first_record + records - 1, t.loaded, t.rejected, seconds);
    t.reported = records;
  }

  // ------------------------------------------------------------ heartbeats

  void tick() {
    for (const auto& path : parked.paths()) {
      if (retries.waiting(path) || permanent.count(path) > 0) continue;
      auto why = failures.find(path);
      schedule_retry(path, false, why != failures.end() ? why->second : "its batches were not committed");
    }
    process_pending();
    if (current.files() > 0) current.hand_over();
    take_done();
    auto taken = retries.take_due();
    if (taken.empty()) return;
    std::vector<std::pair<std::string, bool>> due;
    for (const auto& d : taken) due.emplace_back(d.path, d.settled);
    try {
      look_at(due);
    } catch (const db_error& e) {
      for (auto& [path, settled] : due) {
        if (!retries.waiting(path)) schedule_retry(path, settled, e.what());
      }
      if (!ledger.is_open()) lost_ledger();
    }
    retries.back_off(taken);  // what failed again waits longer than it did
    if (current.files() > 0) current.hand_over();
  }

  std::vector<unfinished_file> finish(std::chrono::milliseconds limit) {
    auto deadline = clock_type::now() + limit;
    while (true) {
      tick();
      commits->wait_idle();
      take_done();
      if (retries.empty() && pending.empty() && current.files() == 0) break;
      if (stop || clock_type::now() >= deadline) break;
      auto next = retries.next_due(deadline);
      std::this_thread::sleep_until(std::min(next, clock_type::now() + std::chrono::milliseconds(200)));
    }
    std::vector<unfinished_file> out;
    for (auto& [path, reason] : retries.reasons()) out.push_back({path, reason});
    for (auto& [path, reason] : failures) {
      if (!retries.waiting(path)) out.push_back({path, reason});
    }
    return out;
  }
};

loader::loader(std::string dsn, loader_options options)
    : impl_(std::make_unique<impl>(std::move(dsn), std::move(options))) {}
loader::~loader() = default;

void loader::load(const std::string& relative_path, bool settled) { impl_->load(relative_path, settled); }
void loader::tick() { impl_->tick(); }
std::vector<unfinished_file> loader::finish(std::chrono::milliseconds limit) { return impl_->finish(limit); }

load_totals loader::totals() const {
  auto out = impl_->counts;
  out.loaded = impl_->committed_loaded.load();
  out.rejected = impl_->committed_rejected.load();
  return out;
}

std::vector<std::string> loader::skipped_feeds() const {
  std::vector<std::string> out;
  for (const auto& s : impl_->skipped) out.push_back(s.reason);
  return out;
}

void loader::request_stop() noexcept {
  impl_->stop = true;
  impl_->commits->request_stop();
}

}  // namespace sluice::loader

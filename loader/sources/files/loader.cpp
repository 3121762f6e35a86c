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
#include "loader/sources/files/file_checkpoints.h"
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
constexpr std::size_t reject_raw_bytes = 1 << 20;  // raw text kept per reject
constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
constexpr auto retry_first = std::chrono::milliseconds(500);
constexpr std::size_t first_streamed_batch_bytes = 256 << 10;
constexpr auto retry_max = std::chrono::milliseconds(30'000);
constexpr std::size_t lookup_group = 512;  // files looked up in the ledger together
constexpr std::int64_t small_file_bytes = 256 << 10;  // hashed whole before the lookup

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

// A path waiting to be looked at again.
struct retry_entry {
  bool settled = false;
  clock_type::time_point due;
  std::chrono::milliseconds delay = retry_first;
  std::string reason;
};

}  // namespace

// A file the loader holds: open, claimed, with its batches in flight.
struct tracked_file {
  std::int64_t id = 0;
  const feed_plan* feed = nullptr;
  std::string path;
  std::shared_ptr<const unique_fd> fd;
  // Its content: the file's bytes, or a .gz file's inflated content (kept open
  // while it is tracked, so that a growing .gz is inflated once).
  std::shared_ptr<byte_source> source;
  bool compressed = false;
  std::uint64_t raw_read = 0;  // compressed: the file's size when it was last read
  std::string raw_guard;       // compressed: guard hash of its own bytes before raw_read
  std::uint64_t checked_size = 0;  // compressed: the size check_integrity() last saw
  std::string content_head;  // compressed: the first (at most) 4 KiB of content, for head_hash
  std::string damage;        // read to its end, but parts of it were lost (a damaged .gz): which
  std::optional<csv_header_row> csv_header;  // csv with a header: once read
  bool csv_problem_told = false;
  file_stat stat;
  position at;  // after the last batch handed to the committer
  content_hash hash;
  // What the ledger row says once the batches handed over commit: where the
  // next checkpoint starts ("" and 0 for a new row, before a BOM is skipped).
  std::uint64_t ledger_bytes = 0;
  std::string ledger_hash;
  std::string guard;  // guard hash at ledger_bytes
  framing kind = framing::ndjson;
  bool whole = true;  // `hash` covers the file from byte 0 (not a chain from a resumed digest)
  bool settled = false;
  bool complete = false;  // read to its end once settled (as far as queued batches go)
  bool failed = false;
  std::string key;  // the committer's source key
  std::uint64_t next_seq = 0;
  int in_flight = 0;
  std::uint64_t first_record = 1;  // where this loader started in it (for log lines)
  std::uint64_t loaded = 0;         // committed by this loader since then
  std::uint64_t rejected = 0;
  std::uint64_t reported = 0;       // records already told in a log line
  clock_type::time_point since = clock_type::now();
};

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
  // Settled new files held as the possible copy of a log renamed since its
  // row saw it, by path -> since when (see wait_for_copies).
  std::map<std::string, clock_type::time_point> held_copies;
  static constexpr auto copy_hold = std::chrono::seconds(10);

  // Paths handed to load() and not looked at yet, each with `settled`.
  std::vector<std::pair<std::string, bool>> pending;
  std::map<std::string, retry_entry> retries;
  std::map<std::string, std::string> failures;  // path -> why it is not loaded (for finish())

  batch current;
  std::shared_ptr<file_raw_source> current_raw;
  std::size_t current_bytes = 0;  // COPY bytes of its rows and rejects so far
  std::size_t current_files = 0;
  std::set<std::int64_t> current_ids;
  std::map<std::int64_t, std::size_t> current_index;  // file id -> index in its advances

  std::mutex done_mutex;
  std::vector<file_done> done;

  load_totals counts;
  std::atomic<std::uint64_t> committed_loaded{0};
  std::atomic<std::uint64_t> committed_rejected{0};

  std::unique_ptr<committer> commits;

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
        current_files != 0) {
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
    hand_over();
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
    auto& r = retries[path];
    r.settled = r.settled || settled;
    r.due = clock_type::now() + r.delay;
    r.reason = reason;
  }

  struct sighting {
    std::string path;
    bool settled = false;
    const feed_plan* feed = nullptr;
    opened_file file;
    file_stat stat;
  };

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
      retries.erase(path);
      auto candidates = feeds_matching(feeds, path);
      const feed_plan* feed = candidates.empty() ? nullptr : candidates.front();
      auto opened = open_beneath(inbox_fd.get(), path);
      for (auto& held : deleted_files(path, opened)) {
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
      forget_parked(unknown);
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

  // copytruncate: the log was copied to another name, then truncated in
  // place. The copy holds what was loaded and what was written after sluice's
  // last read: a regular file in the same folder, at least as long as what
  // was loaded, whose bytes before that offset are the loaded ones.
  // Of a row of which nothing was loaded yet, the copy is known by the row's
  // first line (`lead`) and holds at least what the file held when the row
  // saw it (`seen_size`).
  std::optional<sighting> find_copy(const std::string& truncated_path, const file_stat& truncated,
                                    std::int64_t done_bytes, const std::string& guard, const feed_plan* feed,
                                    const std::optional<std::string>& lead = std::nullopt,
                                    std::int64_t seen_size = 0) {
    bool by_lead = (done_bytes == 0 || guard.empty()) && lead && seen_size > 0;
    if ((done_bytes == 0 || guard.empty()) && !by_lead) return std::nullopt;
    auto slash = truncated_path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : truncated_path.substr(0, slash + 1);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options.inbox / dir, ec)) {
      auto name = entry.path().filename().string();
      if (name.empty() || name.front() == '.') continue;
      auto path = dir + name;
      auto opened = open_beneath(inbox_fd.get(), path);
      if (opened.gone || !opened.refusal.empty()) continue;
      auto st = stat_of(opened.st);
      if (st.inode == truncated.inode && st.device == truncated.device) continue;
      if (by_lead) {
        if (st.size < seen_size || is_gzip_path(path)) continue;
        if (lead_hash_of(opened.fd.get(), static_cast<std::uint64_t>(st.size)) != lead) continue;
      } else {
        if (st.size < done_bytes) continue;
        if (guard_hash_of(opened.fd.get(), static_cast<std::uint64_t>(done_bytes)) != guard) continue;
      }
      // A file the ledger knows is a file of its own, not a copy of this one.
      if (warehouse::find_by_inode(ledger, st)) continue;
      return sighting{path, true, feed, std::move(opened), st};
    }
    return std::nullopt;
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
        if (auto copy = find_copy(path, st, static_cast<std::int64_t>(t.at.bytes), t.guard, t.feed)) {
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

  // What resolve() makes of one sighting.
  struct decision {
    std::optional<warehouse::file_row> resume;  // an existing row goes on
    bool fresh = false;                         // a new row
    std::optional<std::string> whole_hash;
    std::optional<std::string> lead_hash;
    // A settled .gz judged by its content: its source, checked already (see
    // byte_source.h), and the content's size.
    std::shared_ptr<byte_source> checked;
    std::uint64_t content_size = 0;
  };

  // Looks up files the loader does not hold, in the ledger, together.
  void resolve(std::vector<sighting>& files) {
    std::vector<warehouse::file_sighting> sightings;
    for (const auto& f : files) {
      // (A .gz asks about its content's size, known only once it is inflated.)
      sightings.push_back({f.feed->name, f.path, f.stat,
                           f.settled && f.stat.size > small_file_bytes && !is_gzip_path(f.path)});
    }
    warehouse::transaction tx(ledger);
    warehouse::lock_identity(ledger);
    auto matches = warehouse::lookup_files(ledger, sightings);

    std::vector<decision> decisions(files.size());
    std::vector<std::pair<sighting, warehouse::file_row>> continuations;  // copytruncate
    std::vector<warehouse::content_key> keys;
    std::vector<std::size_t> keyed;
    std::map<std::pair<std::string, std::int64_t>, int> sizes_in_group;
    for (const auto& f : files) {
      if (f.settled) ++sizes_in_group[{f.feed->name, f.stat.size}];
    }

    // A known file that no longer looks like its row may just be a row another
    // sluice has moved on since this one looked (it commits past the size seen
    // here). Judge only what this process holds: claim first, then look at
    // the file and the row again.
    std::set<std::int64_t> preclaimed;
    std::set<std::size_t> elsewhere;
    {
      std::vector<std::size_t> suspects;
      std::vector<std::int64_t> suspect_ids;
      for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& m = matches[i];
        if (m.by_inode && m.by_inode->state != "replaced" && !same_file(*m.by_inode, files[i])) {
          suspects.push_back(i);
          suspect_ids.push_back(m.by_inode->id);
        }
      }
      auto held = warehouse::claim_files(ledger, suspect_ids);
      std::set<std::int64_t> held_ids(held.begin(), held.end());
      std::vector<warehouse::file_sighting> again;
      std::vector<std::size_t> again_index;
      for (auto i : suspects) {
        auto id = matches[i].by_inode->id;
        if (!held_ids.count(id)) {
          elsewhere.insert(i);
          schedule_retry(files[i].path, files[i].settled, "another sluice is loading it");
          continue;
        }
        preclaimed.insert(id);
        struct stat st {};
        if (::fstat(files[i].file.fd.get(), &st) == 0) files[i].stat = sightings[i].stat = stat_of(st);
        again.push_back(sightings[i]);
        again_index.push_back(i);
      }
      auto fresh = warehouse::lookup_files(ledger, again);
      for (std::size_t k = 0; k < again_index.size(); ++k) matches[again_index[k]] = std::move(fresh[k]);
    }

    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      auto& m = matches[i];
      auto& d = decisions[i];
      if (elsewhere.count(i)) continue;
      if (m.by_inode && same_file(*m.by_inode, f)) {
        const auto& row = *m.by_inode;
        // (A .gz file's offsets count content: its stat alone says it is whole.)
        bool unchanged = row.seen && *row.seen == f.stat && row.path == f.path &&
                         (row.state == "duplicate" ||
                          (row.state == "loaded" && (is_gzip_path(f.path) || row.done.bytes == f.stat.size)));
        // Loaded and untouched since (a restart over a full inbox): nothing
        // to claim, read or write.
        if (!unchanged) d.resume = m.by_inode;
        continue;
      }
      if (m.by_inode && m.by_inode->state != "replaced") {
        if (auto copy = find_copy(f.path, f.stat, m.by_inode->done.bytes, m.by_inode->done.guard_hash, f.feed,
                                  m.by_inode->lead_hash, m.by_inode->seen ? m.by_inode->seen->size : 0)) {
          // The row goes on in the copy; what the path holds now is new content.
          continuations.emplace_back(std::move(*copy), *m.by_inode);
          d.fresh = true;
          continue;
        }
        if (!f.settled && m.by_inode->seen && f.stat.size == m.by_inode->seen->size) {
          // Overwritten in place, not truncated (its size is as it was): the
          // bytes past the writer may still be the old ones, which were loaded.
          // Read once it settles, or has grown past them (all overwritten).
          schedule_retry(f.path, false, "rewritten in place without truncation; read once it settles");
          log()->debug("{} {}: rewritten in place at its old size (file {}): read once it settles", f.feed->name,
                       f.path, m.by_inode->id);
          continue;
        }
        warehouse::retire_file(ledger, m.by_inode->id, "replaced",
                               "rewritten in place: the file no longer starts with what was loaded");
        log()->info("{} {}: rewritten in place (file {}); loading it as new content", f.feed->name, f.path,
                    m.by_inode->id);
      }
      if (m.by_path && !m.by_path->seen) {
        // A row from before inodes were kept: its content decides, once.
        auto prefix = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(m.by_path->done.bytes));
        if (prefix && prefix->hex() == m.by_path->done.hash) {
          d.resume = m.by_path;
          continue;
        }
        warehouse::retire_file(ledger, m.by_path->id, "replaced", "the path now holds other content");
      } else if (m.by_path && m.by_path->state != "loading" &&
                 (!m.by_inode || m.by_inode->id != m.by_path->id)) {
        // The file it was is complete; if it lives on under another name, its
        // inode finds it again. (A row still loading stays as it is: it may be
        // a rotated log whose rest comes under its new name.)
        warehouse::retire_file(ledger, m.by_path->id, "replaced",
                               "the path now holds another file (" + f.path + ", a new row)");
      }
      d.fresh = true;
      if (f.settled && is_gzip_path(f.path)) {
        // Known by its content, as a plain file is (however it was compressed
        // and split into members): inflated once whole (the check it needs
        // before it is read anyway, which tells the content's size), and hashed
        // when it is small or the ledger holds a file of that content size.
        d.checked = std::shared_ptr<byte_source>(
            make_gzip_source(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size)));
        d.content_size = d.checked->check_integrity();
        auto size = static_cast<std::int64_t>(d.content_size);
        if (f.stat.size <= small_file_bytes || warehouse::content_size_known(ledger, f.feed->name, size)) {
          d.whole_hash = content_digest(*d.checked).hex();
          keys.push_back({f.feed->name, size, *d.whole_hash});
          keyed.push_back(i);
        }
        continue;
      }
      // A small settled file is hashed whole (it is about to be read anyway),
      // so its lookup is one exact index probe; a large one only when a file
      // of its size is known, or another of the group has its size.
      if (f.settled && (f.stat.size <= small_file_bytes || m.size_known ||
                        sizes_in_group[{f.feed->name, f.stat.size}] > 1)) {
        auto whole = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
        if (!whole) {
          d.fresh = false;
          schedule_retry(f.path, f.settled, "shrank while it was read");
          continue;
        }
        d.whole_hash = whole->hex();
        keys.push_back({f.feed->name, f.stat.size, *d.whole_hash});
        keyed.push_back(i);
      }
    }

    // A file in which this pass continues a row (copytruncate's copy, found
    // by find_copy) is not also a new file of its own, though it is among
    // the sightings (a daemon that starts after the rotation sees both the
    // truncated log and its copy in one pass).
    std::set<std::pair<std::int64_t, std::int64_t>> continued;
    for (const auto& [copy, row] : continuations) continued.insert({copy.stat.device, copy.stat.inode});
    if (!continued.empty()) {
      for (std::size_t i = 0; i < files.size(); ++i) {
        if (continued.count({files[i].stat.device, files[i].stat.inode})) decisions[i] = decision{};
      }
      std::vector<warehouse::content_key> kept_keys;
      std::vector<std::size_t> kept_index;
      for (std::size_t k = 0; k < keyed.size(); ++k) {
        if (!decisions[keyed[k]].fresh) continue;
        kept_keys.push_back(keys[k]);
        kept_index.push_back(keyed[k]);
      }
      keys = std::move(kept_keys);
      keyed = std::move(kept_index);
    }
    auto contents = warehouse::lookup_contents(ledger, keys);
    std::set<std::tuple<std::string, std::int64_t, std::string>> seen_in_group;
    for (std::size_t k = 0; k < keyed.size(); ++k) {
      auto i = keyed[k];
      auto& f = files[i];
      auto& d = decisions[i];
      if (contents[k].loaded) {
        const auto& original = *contents[k].loaded;
        std::string reason = "same content as " + original.path + " (file " + std::to_string(original.id) +
                             "), which is loaded already; nothing loaded from this copy";
        auto id = warehouse::insert_duplicate(ledger, sightings[i], original, reason);
        ++counts.duplicates;
        log()->warn("{} {}: {} (sluice.files id {}, state duplicate)", f.feed->name, f.path, reason, id);
        d.fresh = false;
        continue;
      }
      bool twin = !seen_in_group.insert({f.feed->name, keys[k].size, *d.whole_hash}).second;
      if (contents[k].in_progress && !twin && orphaned(*contents[k].in_progress, f, preclaimed)) {
        // Its original was deleted before it was loaded to its end (a crash, then
        // the file dropped again under another name): this copy finishes it.
        continuations.emplace_back(std::move(f), *contents[k].in_progress);
        d.fresh = false;
        continue;
      }
      if (contents[k].in_progress || twin) {
        d.fresh = false;
        schedule_retry(f.path, true, "a file with the same content is still loading");
      }
    }

    wait_for_copies(files, decisions);

    std::vector<std::int64_t> ids(files.size(), 0);
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      auto& d = decisions[i];
      if (d.resume) {
        ids[i] = d.resume->id;
        if (d.resume->path != f.path) {
          warehouse::move_file(ledger, d.resume->id, f.path, f.stat);
          log()->info("{} {}: renamed from {} (file {}); continuing at byte {}", f.feed->name, f.path,
                      d.resume->path, d.resume->id, d.resume->done.bytes);
        }
      } else if (d.fresh) {
        std::optional<std::int64_t> content_size;
        if (f.settled) content_size = d.checked ? static_cast<std::int64_t>(d.content_size) : f.stat.size;
        ids[i] = warehouse::insert_loading(ledger, sightings[i], content_size, d.whole_hash, d.lead_hash);
      }
    }
    std::vector<std::int64_t> wanted;
    for (auto id : ids) {
      if (id != 0 && !preclaimed.count(id)) wanted.push_back(id);
    }
    for (auto& [copy, row] : continuations) {
      if (!preclaimed.count(row.id)) wanted.push_back(row.id);
    }
    auto held = warehouse::claim_files(ledger, wanted);
    tx.commit();
    std::set<std::int64_t> claimed(held.begin(), held.end());
    // Claims taken to judge a row that then was not resumed go back.
    std::vector<std::int64_t> judged_only;
    for (auto id : preclaimed) {
      bool used = std::find(ids.begin(), ids.end(), id) != ids.end() ||
                  std::any_of(continuations.begin(), continuations.end(),
                              [&](const auto& c) { return c.second.id == id; });
      if (used) claimed.insert(id);
      else judged_only.push_back(id);
    }
    warehouse::release_files(ledger, judged_only);
    for (auto& [copy, row] : continuations) {
      if (claimed.count(row.id)) continue_in_copy(copy, row, row.path);
    }

    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      auto& d = decisions[i];
      if (ids[i] == 0) continue;
      if (!claimed.count(ids[i])) {
        schedule_retry(f.path, f.settled, "another sluice is loading it");
        log()->debug("{} {}: claimed by another sluice; looked at again later", f.feed->name, f.path);
        continue;
      }
      start_tracking(f, ids[i], d.resume, std::move(d.checked));
    }
  }

  // A new file seen while it is being written (not settled) whose first
  // bytes are those of a file of its feed, loading or loaded, is not read yet:
  // it may be a copy (cp, a service writing in place), and only its whole
  // content, once settled, can tell. It is judged once it settles (the whole
  // content decides: a duplicate, or a file of its own) or has outgrown that
  // file. A new file whose first line is not complete yet waits too: there is
  // nothing to read in it. Clears `fresh` of the files that wait; sets
  // `lead_hash` of every fresh file (kept in its ledger row; a .gz's is its
  // content's).
  void wait_for_copies(std::vector<sighting>& files, std::vector<decision>& decisions) {
    std::vector<std::string> heads(files.size());
    // Fresh files of this pass by (feed, first line): the one each group
    // starts from is settled, or else the longest (the first of equals).
    std::map<std::pair<std::string, std::string>, std::size_t> leaders;
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      auto& d = decisions[i];
      if (!d.fresh) continue;
      // (A .gz is known by its content, as its ledger row's hashes are: a cp
      // of a loaded .gz is seen half written as well.)
      auto size = static_cast<std::uint64_t>(f.stat.size);
      std::string start = is_gzip_path(f.path)
                              ? read_content(*make_gzip_source(f.file.fd.get(), size, guard_bytes), 0, guard_bytes)
                              : read_range(f.file.fd.get(), 0, std::min<std::uint64_t>(size, guard_bytes));
      d.lead_hash = lead_hash_in(start);
      if (start.size() >= guard_bytes) heads[i] = content_hash::of(start);
      if (!d.lead_hash) continue;
      auto [it, first] = leaders.try_emplace({f.feed->name, *d.lead_hash}, i);
      const auto& leader = files[it->second];
      if (!first && !leader.settled && (f.settled || f.stat.size > leader.stat.size)) it->second = i;
    }
    std::vector<warehouse::prefix_key> keys;
    std::vector<std::size_t> keyed;
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& f = files[i];
      auto& d = decisions[i];
      if (!d.fresh) continue;
      if (f.settled) {
        // A settled new file may be copytruncate's copy of a log whose
        // truncation this process has not seen yet (a daemon started after
        // the rotation may meet the copy first): looked up too, see below.
        if (d.lead_hash && !is_gzip_path(f.path)) {
          keys.push_back({f.feed->name, f.stat.size, heads[i], *d.lead_hash});
          keyed.push_back(i);
        }
        continue;
      }
      if (!d.lead_hash) {
        d.fresh = false;
        schedule_retry(f.path, false, "its first line is not complete yet");
        continue;
      }
      auto leader = leaders.at({f.feed->name, *d.lead_hash});
      if (leader != i) {
        // Seen in the same pass as a new file it starts as (its original,
        // renamed in as it was copied): judged once that one has its row.
        d.fresh = false;
        schedule_retry(f.path, false, "it starts as " + files[leader].path + " does; judged once it settles");
        continue;
      }
      keys.push_back({f.feed->name, f.stat.size, heads[i], *d.lead_hash});
      keyed.push_back(i);
    }
    auto matches = warehouse::lookup_prefixes(ledger, keys);
    for (std::size_t k = 0; k < keyed.size(); ++k) {
      if (!matches[k]) continue;
      auto& f = files[keyed[k]];
      if (f.settled) {
        auto where = where_is(*matches[k]);
        if (where == row_file::holds_it) {
          held_copies.erase(f.path);
          continue;  // a file of its own
        }
        if (where == row_file::elsewhere) {
          // Its log was renamed (or deleted) since its row saw it: if it was
          // truncated too, its next sighting finds this copy. Held for a
          // while, then judged as a file of its own. Only a file that starts
          // with the 4 KiB loaded of it (a first line alone is too common).
          if (heads[keyed[k]].empty() || matches[k]->bytes_done < static_cast<std::int64_t>(guard_bytes)) continue;
          auto [since, first] = held_copies.try_emplace(f.path, clock_type::now());
          if (clock_type::now() - since->second > copy_hold) {
            held_copies.erase(since);
            continue;
          }
        } else {
          schedule_retry(matches[k]->path, false, "truncated; " + f.path + " may be its copy");
        }
        // The log is looked at first, and its row goes on in this copy.
        decisions[keyed[k]].fresh = false;
        schedule_retry(f.path, true, "it may be the copy of " + matches[k]->path + ", truncated since it was read");
        log()->info("{} {}: starts as {} (file {}) does, which was {}: looked at as its copy", f.feed->name, f.path,
                    matches[k]->path, matches[k]->id,
                    where == row_file::truncated ? "truncated" : "renamed or deleted since");
        continue;
      }
      decisions[keyed[k]].fresh = false;
      schedule_retry(f.path, false, "it starts as " + matches[k]->path + " does; judged once it settles");
      log()->debug("{} {}: starts as {} (file {}, {} bytes) does: judged once it settles or outgrows it",
                   f.feed->name, f.path, matches[k]->path, matches[k]->id, matches[k]->size);
    }
  }

  // Where a loading row's file is, as far as a copy of it is concerned:
  // still holding what was loaded from it, truncated (fewer bytes, or other
  // bytes before where loading stopped), or not where the row saw it (renamed
  // or deleted since, and not held here: its next sighting will tell).
  enum class row_file { holds_it, truncated, elsewhere };
  row_file where_is(const warehouse::prefix_match& row) {
    if (!row.loading || !row.inode || row.bytes_done == 0) return row_file::holds_it;
    auto check = [&](int fd, const file_stat& st) {
      bool truncated = st.size < row.bytes_done ||
                       (!row.guard_hash.empty() &&
                        guard_hash_of(fd, static_cast<std::uint64_t>(row.bytes_done)) != row.guard_hash);
      return truncated ? row_file::truncated : row_file::holds_it;
    };
    if (auto held = tracked.find(row.id); held != tracked.end()) {
      struct stat st {};
      if (::fstat(held->second.fd->get(), &st) != 0) return row_file::holds_it;
      return check(held->second.fd->get(), stat_of(st));
    }
    auto now = open_beneath(inbox_fd.get(), row.path);
    if (now.busy || !now.refusal.empty()) return row_file::holds_it;
    if (now.gone) return row_file::elsewhere;
    auto st = stat_of(now.st);
    if (st.device != row.inode->first || st.inode != row.inode->second) return row_file::elsewhere;
    return check(now.fd.get(), st);
  }

  // Whether ledger row `row`, still loading, has lost its file (deleted before
  // it was loaded to its end) and `copy` holds what it had loaded: then the
  // copy may finish it. Claims the row for that (added to `claimed`).
  bool orphaned(const warehouse::file_row& row, const sighting& copy, std::set<std::int64_t>& claimed) {
    bool compressed = is_gzip_path(copy.path);
    if (!row.seen || (!compressed && copy.stat.size < row.done.bytes)) return false;
    std::array<std::int64_t, 1> one{row.id};
    if (warehouse::claim_files(ledger, one).empty()) return false;  // another sluice is loading it
    auto original = open_beneath(inbox_fd.get(), row.path);
    bool alive = original.busy || (!original.gone && original.refusal.empty() &&
                                   stat_of(original.st).inode == row.seen->inode &&
                                   stat_of(original.st).device == row.seen->device);
    auto loaded_to = static_cast<std::uint64_t>(row.done.bytes);
    bool holds = row.done.guard_hash.empty()
                     ? loaded_to == 0
                     : compressed ? holds_loaded_content(copy, row)
                                  : guard_hash_of(copy.file.fd.get(), loaded_to) == row.done.guard_hash &&
                                        (row.head_hash.empty() || head_hash_of(copy.file.fd.get(), loaded_to) == row.head_hash);
    if (alive || !holds) {
      warehouse::release_files(ledger, one);
      return false;
    }
    claimed.insert(row.id);
    return true;
  }

  // A .gz file's content begins and, before the row's offset, ends as the
  // row's loaded content did (one inflate pass up to the offset).
  static bool holds_loaded_content(const sighting& f, const warehouse::file_row& row) {
    auto done = static_cast<std::uint64_t>(row.done.bytes);
    auto source = make_gzip_source(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size), guard_bytes);
    // Offsets past a lost part are those of a checked source (byte_source.h).
    source->check_integrity();
    if (!row.head_hash.empty()) {
      auto head = read_content(*source, 0, std::min<std::uint64_t>(done, guard_bytes));
      if (content_hash::of(head) != row.head_hash) return false;
    }
    return content_guard_of(*source, done) == row.done.guard_hash;
  }

  // Whether the ledger row describes the file now at f (same inode): trusted
  // when size and mtime are as at its last commit; else its loaded prefix must
  // still end with the bytes it ended with.
  static bool same_file(const warehouse::file_row& row, const sighting& f) {
    if (row.seen && *row.seen == f.stat) return true;
    if (row.done.bytes == 0) {
      // Nothing of it loaded yet: the same file unless it shrank since, or
      // starts with another first line now (truncated and written again: a
      // copy elsewhere may hold what it had, see find_copy).
      if (row.seen && f.stat.size < row.seen->size) return false;
      if (row.lead_hash && !is_gzip_path(f.path)) {
        auto now = lead_hash_of(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
        if (now && *now != *row.lead_hash) return false;
      }
      return true;
    }
    if (is_gzip_path(f.path)) {
      // Offsets count content: inflate up to the loaded offset (as resuming
      // will) and compare the content at its start and before it; a small file
      // known by its whole content is compared whole (its own bytes). Its own
      // size says nothing here: compressed again, a file holding the loaded
      // content and more may be smaller than it was.
      if (!holds_loaded_content(f, row)) return false;
      if (row.content_hash && row.content_size && f.stat.size <= small_file_bytes) {
        // (Content of another size that holds the loaded content: it grew.)
        auto source = make_gzip_source(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
        if (static_cast<std::int64_t>(source->check_integrity()) != *row.content_size) return true;
        return content_digest(*source).hex() == *row.content_hash;
      }
      return true;
    }
    if (f.stat.size < row.done.bytes) return false;
    if (row.done.guard_hash.empty()) {
      auto prefix = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(row.done.bytes));
      return prefix && prefix->hex() == row.done.hash;
    }
    // Touched since its last commit: the bytes before the offset must still
    // end, and begin, as they did; a small file known by its whole content is
    // compared whole (a rewrite in place of the same length changes nothing
    // else that could be seen without reading).
    auto done = static_cast<std::uint64_t>(row.done.bytes);
    if (guard_hash_of(f.file.fd.get(), done) != row.done.guard_hash) return false;
    if (!row.head_hash.empty() && head_hash_of(f.file.fd.get(), done) != row.head_hash) return false;
    if (row.content_hash && row.content_size == f.stat.size && f.stat.size <= small_file_bytes) {
      auto whole = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
      return whole && whole->hex() == *row.content_hash;
    }
    return true;
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
    open_checkpoint(t);
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
          reject_record(t, *rec, why);
        } else if (rec->defect == flaw::unreadable) {
          log()->warn("{} {}: {}; the rest of the file after record {} is one reject", t.feed->name, t.path,
                      reader.source_problem(), rec->ordinal - 1);
          why = {"", reader.source_problem() + "; nothing after this point can be read (" +
                         std::to_string(rec->size) + " bytes of content after the last complete record)"};
          reject_record(t, *rec, why);
        } else {
          add_record(t, decoder, *rec, why);
        }
        if (current_bytes >= cut || stop) {
          close_checkpoint(t, reader, false);
          // (Its next batch comes at once only while there is more to read.)
          if (!stop && streams && (t.compressed || reader.consumed().bytes < size)) current.continues = t.key;
          cut = options.batch_bytes;
          hand_over();
          if (stop) return;
          open_checkpoint(t);
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
    close_checkpoint(t, reader, complete);
    if (read_failed) {
      t.failed = true;
      schedule_retry(t.path, t.settled, "read failed");
    }
    if (current_files >= options.batch_files) hand_over();
  }

  void open_checkpoint(tracked_file& t) {
    if (current_index.count(t.id)) return;
    if (!current_raw) {
      current_raw = std::make_shared<file_raw_source>();
      current.origins.reserve(options.batch_bytes / 64);
    }
    current_raw->files[t.id] = {t.fd, t.compressed, static_cast<std::uint64_t>(t.stat.size)};
    auto* set = file_set();
    warehouse::file_advance a;
    a.id = t.id;
    a.from_bytes = static_cast<std::int64_t>(t.ledger_bytes);
    a.from_hash = t.ledger_hash;
    current_index[t.id] = set->advances.size();
    set->advances.push_back(std::move(a));
    set->labels.push_back(t.feed->name + " " + t.path);
    ++current_files;
  }

  file_checkpoints* file_set() {
    if (current.checkpoints.empty()) current.checkpoints.push_back(std::make_unique<file_checkpoints>());
    return static_cast<file_checkpoints*>(current.checkpoints.front().get());
  }

  void close_checkpoint(tracked_file& t, const record_reader& reader, bool complete) {
    auto* set = file_set();
    auto index = current_index.at(t.id);
    auto& a = set->advances[index];
    const auto& to = reader.consumed();
    // (Records count too: a file unreadable from its first byte is one reject
    // at byte 0.)
    bool moved = to.bytes != t.at.bytes || to.records != t.at.records || complete != t.complete ||
                 to.bytes != t.ledger_bytes;
    if (!moved) {
      // Nothing for the ledger: take the checkpoint out again.
      set->advances.erase(set->advances.begin() + static_cast<std::ptrdiff_t>(index));
      set->labels.erase(set->labels.begin() + static_cast<std::ptrdiff_t>(index));
      current_index.erase(t.id);
      for (auto& [id, i] : current_index) {
        if (i > index) --i;
      }
      --current_files;
      return;
    }
    a.to = {static_cast<std::int64_t>(to.bytes), static_cast<std::int64_t>(to.lines),
            static_cast<std::int64_t>(to.records), reader.hash().hex(),
            t.compressed ? content_guard_of(*t.source, to.bytes) : guard_hash_of(t.fd->get(), to.bytes)};
    a.head_hash = t.compressed ? content_head_hash(t, to.bytes) : head_hash_of(t.fd->get(), to.bytes);
    a.seen = t.stat;
    a.complete = complete;
    if (complete && !t.damage.empty()) a.reason = "not loaded completely: " + t.damage;
    if (t.compressed) {
      // Known by its content, as a plain file is: the reader's hash is the
      // content's when it read the file from its start; a file resumed after
      // a restart (a chain from a digest) is inflated again whole, once.
      if (complete && !t.whole) {
        auto source = make_gzip_source(t.fd->get(), static_cast<std::uint64_t>(t.stat.size));
        source->check_integrity();
        a.content_hash = content_digest(*source).hex();
      }
    } else if (complete && !t.whole) {
      // Known by its whole content from now on: hashed once, at the end.
      if (auto whole = hash_prefix(t.fd->get(), to.bytes)) a.content_hash = whole->hex();
    }
    current.turns.push_back({t.key, t.next_seq++});
    ++t.in_flight;
    t.at = to;
    t.hash = reader.hash();
    t.complete = complete;
    t.ledger_bytes = to.bytes;
    t.ledger_hash = a.to.hash;
    t.guard = a.to.guard_hash;
    current_index.erase(t.id);
    // A file keeps its place in current_files until the batch is handed over.
  }

  // head_hash of a compressed file: its content's first bytes, kept (reading
  // them again would inflate the file from its start).
  static std::string content_head_hash(tracked_file& t, std::uint64_t end) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(end, guard_bytes));
    if (t.content_head.size() < want) t.content_head = read_content(*t.source, 0, guard_bytes);
    return content_hash::of(std::string_view(t.content_head).substr(0, want));
  }

  void add_record(tracked_file& t, record_decoder& decoder, const record& rec, reject_reason& why) {
    auto& set = *file_set();
    auto& a = set.advances[current_index.at(t.id)];
    auto& targets = rows_for(*t.feed);
    std::size_t target = 0;
    row_origin origin{t.id, rec.ordinal, rec.line, rec.offset, 0, current.feed_index(t.feed->name), false};
    if (decoder.decode(rec, t.id, targets.encoders, why, &target)) {
      auto& encoder = targets.encoders[target];
      current_bytes += encoder.size() - targets.sizes[target];
      targets.sizes[target] = encoder.size();
      origin.size = static_cast<std::uint32_t>(rec.size);
      current.origins.push_back(origin);
      targets.origins[target].push_back(static_cast<std::uint32_t>(current.origins.size() - 1));
      ++current.loaded;
      ++a.loaded;
      return;
    }
    reject_record(t, rec, why);
  }

  // A record that did not decode (or could not be read) becomes a reject.
  void reject_record(tracked_file& t, const record& rec, const reject_reason& why) {
    auto& a = file_set()->advances[current_index.at(t.id)];
    row_origin origin{t.id, rec.ordinal, rec.line, rec.offset, 0, current.feed_index(t.feed->name),
                      rec.defect == flaw::too_long || (rec.defect == flaw::unreadable && rec.text.size() < rec.size)};
    std::string_view raw = rec.text;
    if (raw.size() > reject_raw_bytes) {
      std::size_t cut = reject_raw_bytes;
      while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xc0) == 0x80) --cut;
      raw = raw.substr(0, cut);
      origin.raw_truncated = true;
    }
    auto before = current.rejects.size();
    append_reject(current.rejects, origin, t.feed->name, why.field, why.reason, raw);
    current_bytes += current.rejects.size() - before;
    ++current.rejected;
    ++a.rejected;
    log()->debug("{} {}: record {} (line {}) rejected: {}", t.feed->name, t.path, rec.ordinal, rec.line,
                 why.reason);
  }

  // The encoders of the current batch for a feed's targets. The decoder writes
  // into a vector of encoders per feed; those live in the batch's tables.
  struct feed_rows {
    std::vector<copy_encoder> encoders;
    std::vector<std::vector<std::uint32_t>> origins;
    std::vector<std::size_t> sizes;  // of each encoder when last counted
  };
  std::map<const feed_plan*, feed_rows> current_rows;

  feed_rows& rows_for(const feed_plan& feed) {
    auto [it, fresh] = current_rows.try_emplace(&feed);
    if (fresh) {
      it->second.encoders.resize(feed.targets.size());
      it->second.origins.resize(feed.targets.size());
      for (const auto& e : it->second.encoders) it->second.sizes.push_back(e.size());
    }
    return it->second;
  }

  // Moves the open batch to the committer.
  void hand_over() {
    for (auto& [feed, rows] : current_rows) {
      for (std::size_t i = 0; i < rows.encoders.size(); ++i) {
        if (rows.encoders[i].empty()) continue;
        auto& table = current.table(feed->targets[i].copy_statement);
        table.rows = std::move(rows.encoders[i]);
        table.origins = std::move(rows.origins[i]);
      }
    }
    current_rows.clear();
    bool has_work = !current.checkpoints.empty() && !file_set()->advances.empty();
    current.raw = std::move(current_raw);
    current_raw.reset();
    if (has_work) {
      commits->submit(std::move(current));
    }
    current = batch{};
    current_bytes = 0;
    current_files = 0;
    current_index.clear();
  }

  // ---------------------------------------------------------- after commits

  // Files (ledger ids) read without streaming since a batch of theirs failed.
  std::set<std::int64_t> unstreamed;

  // A file whose batches failed is let go and looked at again by its path
  // (schedule_retry); until it is tracked (or found loaded) again sluice keeps
  // a descriptor of it here, by (device, inode), so that one deleted meanwhile
  // is still read to its end: a log rotated away while the warehouse was down
  // is not lost. tick() keeps looking at the path while it is parked. A file
  // that still has a name (renamed) is found under it as any file.
  struct parked_file {
    unique_fd fd;
    std::string feed;  // by name: feeds may be read again meanwhile
    std::string path;
  };
  std::map<std::pair<std::int64_t, std::int64_t>, parked_file> parked;

  void park(const tracked_file& t) {
    int copy = ::fcntl(t.fd->get(), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      log()->warn("{} {}: cannot keep a descriptor of it ({}); should it be deleted before it is looked at again,"
                  " the rest of it is not read", t.feed->name, t.path, std::strerror(errno));
      return;
    }
    parked[{t.stat.device, t.stat.inode}] = parked_file{unique_fd(copy), t.feed->name, t.path};
  }

  // Sightings, through a copy of the kept descriptor, of the files parked
  // under `path` that were deleted (no name left): under that path, or
  // "<path> (deleted)" when another file took it (`opened` is what the path
  // holds now). Read as settled: a deleted file is done. A parked file that is
  // back at its path, tracked or renamed is forgotten here; a deleted one once
  // resolve() has taken it (forget_parked).
  std::vector<sighting> deleted_files(const std::string& path, const opened_file& opened) {
    std::vector<sighting> out;
    for (auto it = parked.begin(); it != parked.end();) {
      auto& [key, held] = *it;
      if (held.path != path) {
        ++it;
        continue;
      }
      struct stat now {};
      bool there = !opened.gone && opened.refusal.empty() &&
                   static_cast<std::int64_t>(opened.st.st_dev) == key.first &&
                   static_cast<std::int64_t>(opened.st.st_ino) == key.second;
      const feed_plan* feed = feed_named(held.feed);
      if (there || by_inode.count(key) > 0 || ::fstat(held.fd.get(), &now) != 0 || now.st_nlink > 0 ||
          feed == nullptr) {
        it = parked.erase(it);
        continue;
      }
      opened_file kept;
      kept.fd = unique_fd(::fcntl(held.fd.get(), F_DUPFD_CLOEXEC, 0));
      kept.st = now;
      if (kept.fd.get() < 0) {
        ++it;  // out of descriptors: parked still, looked at again
        continue;
      }
      auto as = opened.gone ? path : path + " (deleted)";
      log()->info("{} {}: deleted from the inbox; the rest of it is read through the descriptor sluice kept",
                  feed->name, as);
      out.push_back(sighting{as, true, feed, std::move(kept), stat_of(now)});
      ++it;
    }
    return out;
  }

  void forget_parked(const std::vector<sighting>& taken) {
    for (const auto& s : taken) parked.erase({s.stat.device, s.stat.inode});
  }

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
      if (t.failed && !stop && permanent.count(t.path) == 0) park(t);
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

  bool in_current(std::int64_t id) const { return current_index.count(id) != 0; }

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
    for (const auto& [key, held] : parked) {
      if (retries.count(held.path) > 0 || permanent.count(held.path) > 0) continue;
      auto why = failures.find(held.path);
      schedule_retry(held.path, false, why != failures.end() ? why->second : "its batches were not committed");
    }
    process_pending();
    if (current_files > 0) hand_over();
    take_done();
    auto now = clock_type::now();
    std::vector<std::pair<std::string, bool>> due;
    std::map<std::string, std::chrono::milliseconds> delays;
    for (auto it = retries.begin(); it != retries.end();) {
      if (it->second.due <= now) {
        due.emplace_back(it->first, it->second.settled);
        delays[it->first] = it->second.delay;
        it = retries.erase(it);
      } else {
        ++it;
      }
    }
    if (due.empty()) return;
    try {
      look_at(due);
    } catch (const db_error& e) {
      for (auto& [path, settled] : due) {
        if (!retries.count(path)) schedule_retry(path, settled, e.what());
      }
      if (!ledger.is_open()) lost_ledger();
    }
    // What failed again waits longer than it did.
    for (auto& [path, delay] : delays) {
      if (auto it = retries.find(path); it != retries.end()) {
        it->second.delay = std::min(std::max(it->second.delay, delay * 2), retry_max);
        it->second.due = clock_type::now() + it->second.delay;
      }
    }
    if (current_files > 0) hand_over();
  }

  std::vector<unfinished_file> finish(std::chrono::milliseconds limit) {
    auto deadline = clock_type::now() + limit;
    while (true) {
      tick();
      commits->wait_idle();
      take_done();
      if (retries.empty() && pending.empty() && current_files == 0) break;
      if (stop || clock_type::now() >= deadline) break;
      auto next = deadline;
      for (auto& [path, r] : retries) next = std::min(next, r.due);
      std::this_thread::sleep_until(std::min(next, clock_type::now() + std::chrono::milliseconds(200)));
    }
    std::vector<unfinished_file> out;
    for (auto& [path, r] : retries) out.push_back({path, r.reason});
    for (auto& [path, reason] : failures) {
      if (!retries.count(path)) out.push_back({path, reason});
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

#include "loader/sources/files/loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <thread>

#include "loader/log.h"
#include "loader/sources/files/file_checkpoints.h"
#include "loader/sources/files/loader_impl.h"

namespace sluice::loader {

using warehouse::db_error;
using warehouse::file_stat;


void loader::impl::reload_feeds() {
  use_feeds(read_feeds());
  feeds_loaded_at = clock_type::now();
}

feed_set loader::impl::read_feeds() {
  warehouse::transaction tx(ledger);  // compile_feeds takes a savepoint per feed
  auto fresh = compile_feeds(ledger);
  tx.commit();
  for (const auto& s : fresh.skipped) {
    files_log()->warn("{}; feed {} is skipped: none of its files is loaded until its declaration is fixed"
                      " (the other feeds load)", s.reason, s.name);
  }
  for (const auto& o : fresh.overlaps) {
    files_log()->warn("{}; until then a file stays in the feed of its ledger row", o.describe());
  }
  return fresh;
}

void loader::impl::use_feeds(feed_set fresh) {
  feeds = std::move(fresh.feeds);
  skipped = std::move(fresh.skipped);
  {
    std::lock_guard lock(skipped_mutex);
    skipped_shown = skipped;
  }
  permanent.clear();
  decoders.clear();
  for (const auto& f : feeds) decoders[f.name] = std::make_unique<record_decoder>(f);
}

const feed_plan* loader::impl::feed_named(const std::string& name) {
  for (const auto& f : feeds) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void loader::impl::refresh_feeds_for(const std::vector<std::string>& paths) {
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
    files_log()->warn("could not re-read the feed declarations ({}); keeping the ones in use", e.what());
  }
  feeds_loaded_at = clock_type::now();
}

const feed_plan* loader::impl::settle_overlap(const std::string& path, const std::vector<const feed_plan*>& candidates,
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
    files_log()->warn("{}: feeds {} both take this path (their file_globs overlap); it stays in feed {}{}", path,
                      list, chosen->name,
                      owner ? " (its ledger row's): a file never changes feed" : " (the first by name: no ledger row yet)");
  }
  return chosen;
}

void loader::impl::load(const std::string& path, bool settled) {
  pending.emplace_back(path, settled);
  if (pending.size() >= lookup_group) process_pending();
}

void loader::impl::process_pending() {
  if (pending.empty()) return;
  auto work = std::move(pending);
  pending.clear();
  take_done();
  try {
    look_at(work);
  } catch (const db_error& e) {
    if (!e.is_retryable()) files_log()->error("{}", e.what());
    else files_log()->warn("the ledger is unreachable ({}); retrying", e.what());
    for (auto& [path, settled] : work) schedule_retry(path, settled, e.what());
    if (!ledger.is_open()) lost_ledger();
  }
}

void loader::impl::lost_ledger() {
  files_log()->warn("lost the ledger connection: claims are gone; every open file is looked at again");
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
    ledger = warehouse::connection(dsn);
  } catch (const db_error& e) {
    files_log()->warn("still cannot reach the ledger: {}", e.what());
  }
}

void loader::impl::schedule_retry(const std::string& path, bool settled, const std::string& reason) {
  retries.schedule(path, settled, reason);
}

void loader::impl::look_at(std::vector<std::pair<std::string, bool>>& work) {
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
      files_log()->warn("{}: {}; looked at again later", path, opened.refusal);
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

void loader::impl::follow_unmatched(const std::string& path, bool settled, opened_file opened) {
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
    files_log()->info("{}: no feed takes this file (see sluice.feeds.file_globs); left alone", path);
  }
}

void loader::impl::refuse(const feed_plan& feed, const std::string& path, const std::string& reason) {
  failures[path] = reason;
  auto id = warehouse::insert_refused(ledger, feed.name, path, reason);
  if (id) {
    ++counts.refused;
    files_log()->warn("{} {}: {} (sluice.files id {}, state refused)", feed.name, path, reason, *id);
  }
}

void loader::impl::tick() {
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

std::vector<unfinished_file> loader::impl::finish(std::chrono::milliseconds limit) {
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

std::vector<skipped_feed> loader::skipped_feeds() const {
  std::lock_guard lock(impl_->skipped_mutex);
  return impl_->skipped_shown;
}

std::vector<file_progress> loader::progress() const { return impl_->progress.snapshot(); }

void loader::request_stop() noexcept {
  impl_->stop = true;
  impl_->commits->request_stop();
}

}  // namespace sluice::loader

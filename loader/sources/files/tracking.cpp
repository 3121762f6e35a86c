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

void loader::impl::continue_in_copy(sighting& copy, const warehouse::file_row& row, const std::string& was) {
  files_log()->info("{} {}: {} was copied here and truncated (copytruncate); continuing file {} at byte {}",
                    copy.feed->name, copy.path, was, row.id, row.done.bytes);
  warehouse::move_file(ledger, row.id, copy.path, copy.stat);
  auto moved = row;
  moved.path = copy.path;
  moved.state = "loading";
  start_tracking(copy, row.id, moved);
}

void loader::impl::file_vanished(const std::string& path) {
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

void loader::impl::detach_path(std::int64_t id) {
  auto& t = tracked.at(id);
  by_path.erase(t.path);
  t.path += " (renamed or deleted)";
}

loader::impl::under loader::impl::change_under(tracked_file& t, const file_stat& st) {
  if (t.compressed ? st.size < t.stat.size : static_cast<std::uint64_t>(st.size) < t.at.bytes) {
    return under::shrank;
  }
  bool changed = t.compressed ? !t.raw_guard.empty() && guard_hash_of(t.fd->get(), t.raw_read) != t.raw_guard
                              : !t.guard.empty() && guard_hash_of(t.fd->get(), t.ledger_bytes) != t.guard;
  return changed ? under::rewritten : under::same;
}

void loader::impl::continue_tracked(tracked_file& t, const std::string& path, bool settled, opened_file opened,
                      const file_stat& st) {
  if (t.failed) return;  // looked at again from the ledger once its batches are done
  if (t.path != path) {
    files_log()->info("{} {}: renamed from {} (file {}); continuing at byte {}", t.feed->name, path, t.path,
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
    files_log()->warn("{} {}: rewritten in place (its bytes before byte {} changed); loading it as new content",
                      t.feed->name, path, t.ledger_bytes);
    drop_changed(t, path, settled, "rewritten in place");
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
    if (t.in_flight == 0 && !t.guard.empty() && !t.compressed && went_on_in_copy(t, path, settled, st)) return;
    if (change == under::shrank) {
      files_log()->warn("{} {}: shrank from {} to {} bytes (truncated or rewritten in place); loading it as new"
                        " content", t.feed->name, path, t.at.bytes, st.size);
    } else {
      files_log()->warn("{} {}: rewritten in place (its bytes before byte {} changed: truncated and written again);"
                        " loading it as new content", t.feed->name, path, t.ledger_bytes);
    }
    // Let go of it; the ledger (which sees the shrink too) makes it a new row.
    failures.erase(path);
    drop_changed(t, path, settled, "truncated or rewritten in place");
    return;
  }
  t.stat = st;
  t.settled = t.settled || settled;
  (void)opened;  // the tracked descriptor is the same file
  read_file(t, static_cast<std::uint64_t>(st.size), settled, false);
}

bool loader::impl::went_on_in_copy(tracked_file& t, const std::string& path, bool settled, const file_stat& st) {
  auto copy = ident->find_copy(*ledger_view, path, st, static_cast<std::int64_t>(t.at.bytes), t.guard, t.feed);
  if (!copy) return false;
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
  // Its new content is a new file of the same feed, also under a name the
  // feed does not take (rotated there after the truncation, with the writer
  // still writing to it).
  truncated_outside[{st.device, st.inode}] = row.feed;
  schedule_retry(path, settled, "truncated: its new content is a new file");
  return true;
}

void loader::impl::drop_changed(tracked_file& t, const std::string& path, bool settled, const std::string& why) {
  t.failed = true;
  schedule_retry(path, settled, why);
  if (t.in_flight == 0) {
    std::vector<std::int64_t> releases;
    let_go(t, releases);
    warehouse::release_files(ledger, releases);
  }
}

void loader::impl::resolve(std::vector<sighting>& files) {
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
    files_log()->warn("{} {}: {} (sluice.files id {}, state duplicate)", f.feed->name, f.path, d.reason, id);
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
      files_log()->debug("{} {}: claimed by another sluice; looked at again later", f.feed->name, f.path);
      continue;
    }
    start_tracking(f, ids[i], d.kind == verdict_kind::resume ? d.row : std::nullopt, std::move(d.checked));
  }
}

std::vector<std::int64_t> loader::impl::record_decisions(const std::vector<sighting>& files, const std::vector<verdict>& verdicts) {
  std::vector<std::int64_t> ids(files.size(), 0);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    const auto& d = verdicts[i];
    if (d.kind == verdict_kind::resume) {
      ids[i] = d.row->id;
      if (d.row->path != f.path) {
        warehouse::move_file(ledger, d.row->id, f.path, f.stat);
        files_log()->info("{} {}: renamed from {} (file {}); continuing at byte {}", f.feed->name, f.path, d.row->path,
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

bool loader::impl::resume_from(tracked_file& t, const sighting& f, const warehouse::file_row& row) {
  auto id = t.id;
  t.at = {static_cast<std::uint64_t>(row.done.bytes), static_cast<std::uint64_t>(row.done.lines),
          static_cast<std::uint64_t>(row.done.records)};
  if (row.state == "duplicate") {
    // (A .gz of another size may hold more content, even when smaller:
    // reading it from the offset finds out.)
    bool same_size = is_gzip_path(f.path) ? row.seen && f.stat.size == row.seen->size
                                          : f.stat.size <= row.done.bytes;
    if (same_size) {
      // Still the copy it was: nothing to load, nothing to hold.
      release_now(id);
      return false;
    }
    warehouse::reopen_duplicate(ledger, id);
    files_log()->info("{} {}: a duplicate that grew past its original; loading what is new from byte {}",
                      f.feed->name, f.path, t.at.bytes);
  }
  // A compressed file's offsets count its content: its own size says
  // nothing about them, so it is as it was when its stat is.
  bool compressed = is_gzip_path(f.path);
  bool unchanged = row.seen && row.seen->size == f.stat.size;
  t.complete = row.state == "loaded" && (compressed ? unchanged : f.stat.size == row.done.bytes);
  if (t.complete || (!f.settled && (compressed ? unchanged : static_cast<std::uint64_t>(f.stat.size) == t.at.bytes))) {
    release_now(id);  // nothing new: no need to hold it
    return false;
  }
  // done_hash is a chain: what was committed before, then the new bytes. A
  // resumed file continues the chain from the stored digest, reading
  // nothing it loaded before.
  t.hash.update(row.done.hash);
  t.whole = false;
  t.ledger_bytes = t.at.bytes;
  t.ledger_hash = row.done.hash;
  t.guard = row.done.guard_hash;
  return true;
}

void loader::impl::start_tracking(sighting& f, std::int64_t id, const std::optional<warehouse::file_row>& row,
                    std::shared_ptr<byte_source> checked) {
  truncated_outside.erase({f.stat.device, f.stat.inode});
  tracked_file t;
  t.id = id;
  t.feed = f.feed;
  t.path = f.path;
  t.fd = std::make_shared<const unique_fd>(std::move(f.file.fd));
  t.stat = f.stat;
  t.settled = f.settled;
  t.key = "file:" + std::to_string(id) + ":" + std::to_string(++generation);
  if (row && !resume_from(t, f, *row)) return;
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
  t.format = &format_for(*f.feed, view);
  t.first_record = t.at.records + 1;
  auto [it, fresh] = tracked.emplace(id, std::move(t));
  auto& held = it->second;
  by_path[held.path] = id;
  by_inode[{held.stat.device, held.stat.inode}] = id;
  read_file(held, static_cast<std::uint64_t>(f.stat.size), f.settled, false);
}

void loader::impl::release_now(std::int64_t id) {
  std::array<std::int64_t, 1> one{id};
  warehouse::release_files(ledger, one);
}

}  // namespace sluice::loader

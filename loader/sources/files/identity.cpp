#include "loader/sources/files/identity.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

#include "loader/log.h"
#include "loader/bytes/content_hash.h"
#include "loader/formats/record_reader.h"
#include "warehouse/log.h"

namespace sluice::loader {

namespace {

using warehouse::file_stat;


void retry(verdict& v, std::string reason) {
  v = verdict{};
  v.kind = verdict_kind::retry;
  v.reason = std::move(reason);
}

}  // namespace

// Whole-content lookups of one pass: keys[k] is of sighting keyed[k].
struct identity::content_lookups {
  std::vector<warehouse::content_key> keys;
  std::vector<std::size_t> keyed;
};

identity::identity(int inbox_fd, std::filesystem::path inbox, std::function<int(std::int64_t)> held_fd,
                   std::chrono::steady_clock::duration hold)
    : inbox_fd_(inbox_fd), inbox_(std::move(inbox)), held_fd_(std::move(held_fd)), hold_(hold) {}

identity_decisions identity::decide(std::vector<sighting>& files, identity_ledger& ledger) {
  // Holds of files that were judged otherwise since (continued by their
  // log's sighting, deleted) are forgotten once they could not matter.
  std::erase_if(held_copies_, [&, now = std::chrono::steady_clock::now()](const auto& held) {
    return now - held.second > 6 * hold_ + std::chrono::seconds(1);
  });
  identity_decisions out;
  out.verdicts.resize(files.size());
  std::vector<warehouse::file_sighting> asked;
  for (const auto& f : files) {
    // (A .gz asks about its content's size, known only once it is inflated.)
    asked.push_back({f.feed->name, f.path, f.stat,
                     f.settled && f.stat.size > small_file_bytes && !is_gzip_path(f.path)});
  }
  auto matches = ledger.lookup_files(asked);
  std::map<std::pair<std::string, std::int64_t>, int> sizes_in_group;
  for (const auto& f : files) {
    if (f.settled) ++sizes_in_group[{f.feed->name, f.stat.size}];
  }
  claim_suspects(files, asked, matches, ledger, out);
  content_lookups lookups;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (out.verdicts[i].kind == verdict_kind::retry) continue;  // another sluice holds it
    if (!judge_known(files[i], matches[i], ledger, out, i)) continue;
    judge_new(files[i], matches[i], sizes_in_group, ledger, out.verdicts[i], i, lookups);
  }
  drop_continued(files, out, lookups);
  match_contents(files, ledger, out, lookups);
  wait_for_copies(files, ledger, out);
  return out;
}

// A known file that no longer looks like its row may just be a row another
// sluice has moved on since this one looked (it commits past the size seen
// here). Judge only what this process holds: claim first, then look at the
// file and the row again.
void identity::claim_suspects(std::vector<sighting>& files, std::vector<warehouse::file_sighting>& asked,
                              std::vector<warehouse::file_matches>& matches, identity_ledger& ledger,
                              identity_decisions& out) {
  std::vector<std::size_t> suspects;
  std::vector<std::int64_t> suspect_ids;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& m = matches[i];
    if (m.by_inode && m.by_inode->state != "replaced" && !same_file(*m.by_inode, files[i])) {
      suspects.push_back(i);
      suspect_ids.push_back(m.by_inode->id);
    }
  }
  auto held = ledger.claim_files(suspect_ids);
  std::set<std::int64_t> held_ids(held.begin(), held.end());
  std::vector<warehouse::file_sighting> again;
  std::vector<std::size_t> again_index;
  for (auto i : suspects) {
    auto id = matches[i].by_inode->id;
    if (!held_ids.count(id)) {
      retry(out.verdicts[i], "another sluice is loading it");
      continue;
    }
    out.claimed.insert(id);
    struct stat st {};
    if (::fstat(files[i].file.fd.get(), &st) == 0) files[i].stat = asked[i].stat = stat_of(st);
    again.push_back(asked[i]);
    again_index.push_back(i);
  }
  auto fresh = ledger.lookup_files(again);
  for (std::size_t k = 0; k < again_index.size(); ++k) matches[again_index[k]] = std::move(fresh[k]);
}

// A sighting of which the ledger knows the inode or the path: resumed, left
// alone, continued in its copy, or its rows retired. False when that decided it.
bool identity::judge_known(sighting& f, const warehouse::file_matches& m, identity_ledger& ledger,
                           identity_decisions& out, std::size_t index) {
  auto& d = out.verdicts[index];
  if (m.by_inode && same_file(*m.by_inode, f)) {
    const auto& row = *m.by_inode;
    // (A .gz file's offsets count content: its stat alone says it is whole.)
    bool unchanged = row.seen && *row.seen == f.stat && row.path == f.path &&
                     (row.state == "duplicate" ||
                      (row.state == "loaded" && (is_gzip_path(f.path) || row.done.bytes == f.stat.size)));
    // Loaded and untouched since (a restart over a full inbox): nothing
    // to claim, read or write.
    if (!unchanged) {
      d.kind = verdict_kind::resume;
      d.row = m.by_inode;
    }
    return false;
  }
  if (m.by_inode && m.by_inode->state != "replaced") {
    if (auto copy = find_copy(ledger, f.path, f.stat, m.by_inode->done.bytes, m.by_inode->done.guard_hash, f.feed,
                              m.by_inode->lead_hash, m.by_inode->seen ? m.by_inode->seen->size : 0)) {
      // The row goes on in the copy; what the path holds now is new content.
      out.continuations.push_back({std::move(*copy), *m.by_inode});
      d.kind = verdict_kind::fresh;
      return false;
    }
    if (!f.settled && m.by_inode->seen && f.stat.size == m.by_inode->seen->size) {
      // Overwritten in place, not truncated (its size is as it was): the
      // bytes past the writer may still be the old ones, which were loaded.
      // Read once it settles, or has grown past them (all overwritten).
      retry(d, "rewritten in place without truncation; read once it settles");
      files_log()->debug("{} {}: rewritten in place at its old size (file {}): read once it settles", f.feed->name,
                         f.path, m.by_inode->id);
      return false;
    }
    ledger.retire_file(m.by_inode->id, "rewritten in place: the file no longer starts with what was loaded");
    files_log()->info("{} {}: rewritten in place (file {}); loading it as new content", f.feed->name, f.path,
                      m.by_inode->id);
  }
  if (m.by_path && !m.by_path->seen) {
    // A row from before inodes were kept: its content decides, once.
    auto prefix = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(m.by_path->done.bytes));
    if (prefix && prefix->hex() == m.by_path->done.hash) {
      d.kind = verdict_kind::resume;
      d.row = m.by_path;
      return false;
    }
    ledger.retire_file(m.by_path->id, "the path now holds other content");
  } else if (m.by_path && m.by_path->state != "loading" && (!m.by_inode || m.by_inode->id != m.by_path->id)) {
    // The file it was is complete; if it lives on under another name, its
    // inode finds it again. (A row still loading stays as it is: it may be
    // a rotated log whose rest comes under its new name.)
    ledger.retire_file(m.by_path->id, "the path now holds another file (" + f.path + ", a new row)");
  }
  return true;
}

// A new file: fresh, hashed whole when that is worth it (then looked up by
// its content, in `lookups`).
void identity::judge_new(sighting& f, const warehouse::file_matches& m,
                         const std::map<std::pair<std::string, std::int64_t>, int>& sizes_in_group,
                         identity_ledger& ledger, verdict& d, std::size_t index, content_lookups& lookups) {
  d.kind = verdict_kind::fresh;
  if (f.settled && is_gzip_path(f.path)) {
    // Known by its content, as a plain file is (however it was compressed
    // and split into members): inflated once whole (the check it needs
    // before it is read anyway, which tells the content's size), and hashed
    // when it is small or the ledger holds a file of that content size.
    d.checked = std::shared_ptr<byte_source>(make_gzip_source(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size)));
    d.content_size = d.checked->check_integrity();
    auto size = static_cast<std::int64_t>(d.content_size);
    if (f.stat.size <= small_file_bytes || ledger.content_size_known(f.feed->name, size)) {
      d.whole_hash = content_digest(*d.checked).hex();
      lookups.keys.push_back({f.feed->name, size, *d.whole_hash});
      lookups.keyed.push_back(index);
    }
    return;
  }
  // A small settled file is hashed whole (it is about to be read anyway),
  // so its lookup is one exact index probe; a large one only when a file
  // of its size is known, or another of the group has its size.
  auto group = sizes_in_group.find({f.feed->name, f.stat.size});
  bool shares_size = group != sizes_in_group.end() && group->second > 1;
  if (f.settled && (f.stat.size <= small_file_bytes || m.size_known || shares_size)) {
    auto whole = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
    if (!whole) {
      retry(d, "shrank while it was read");
      return;
    }
    d.whole_hash = whole->hex();
    lookups.keys.push_back({f.feed->name, f.stat.size, *d.whole_hash});
    lookups.keyed.push_back(index);
  }
}

// A file in which this pass continues a row (copytruncate's copy, found by
// find_copy) is not also a new file of its own, though it is among the
// sightings (a daemon that starts after the rotation sees both the truncated
// log and its copy in one pass).
void identity::drop_continued(const std::vector<sighting>& files, identity_decisions& out,
                              content_lookups& lookups) {
  std::set<std::pair<std::int64_t, std::int64_t>> continued;
  for (const auto& c : out.continuations) continued.insert({c.copy.stat.device, c.copy.stat.inode});
  if (continued.empty()) return;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto& v = out.verdicts[i];
    // (A retry decided for it stands.)
    if (continued.count({files[i].stat.device, files[i].stat.inode}) && v.kind != verdict_kind::retry) v = verdict{};
  }
  content_lookups kept;
  for (std::size_t k = 0; k < lookups.keyed.size(); ++k) {
    if (out.verdicts[lookups.keyed[k]].kind != verdict_kind::fresh) continue;
    kept.keys.push_back(lookups.keys[k]);
    kept.keyed.push_back(lookups.keyed[k]);
  }
  lookups = std::move(kept);
}

// New files known by their whole content: a duplicate of a loaded file; the
// rest of a row whose file was deleted mid-load; or wait while a file of the
// same content loads (one of a group of equal files in this pass goes first).
void identity::match_contents(std::vector<sighting>& files, identity_ledger& ledger, identity_decisions& out,
                              const content_lookups& lookups) {
  auto contents = ledger.lookup_contents(lookups.keys);
  std::set<std::tuple<std::string, std::int64_t, std::string>> seen_in_group;
  for (std::size_t k = 0; k < lookups.keyed.size(); ++k) {
    auto i = lookups.keyed[k];
    auto& f = files[i];
    auto& d = out.verdicts[i];
    if (contents[k].loaded) {
      const auto& original = *contents[k].loaded;
      d = verdict{};
      d.kind = verdict_kind::duplicate;
      d.row = original;
      d.reason = "same content as " + original.path + " (file " + std::to_string(original.id) +
                 "), which is loaded already; nothing loaded from this copy";
      continue;
    }
    bool twin = !seen_in_group.insert({f.feed->name, lookups.keys[k].size, *d.whole_hash}).second;
    if (contents[k].in_progress && !twin &&
        orphaned(*contents[k].in_progress, f, ledger, out.claimed) == orphan::yes) {
      // Its original was deleted before it was loaded to its end (a crash, then
      // the file dropped again under another name): this copy finishes it.
      out.continuations.push_back({std::move(f), *contents[k].in_progress});
      d = verdict{};
      continue;
    }
    if (contents[k].in_progress || twin) retry(d, "a file with the same content is still loading");
  }
}

// copytruncate: the log was copied to another name, then truncated in
// place. The copy holds what was loaded and what was written after sluice's
// last read: a regular file in the same folder, at least as long as what
// was loaded, whose bytes before that offset are the loaded ones.
// Of a row of which nothing was loaded yet, the copy is known by the row's
// first line (`lead`) and holds at least what the file held when the row
// saw it (`seen_size`).
std::optional<sighting> identity::find_copy(identity_ledger& ledger, const std::string& truncated_path,
                                           const file_stat& truncated, std::int64_t done_bytes,
                                           const std::string& guard, const feed_plan* feed,
                                           const std::optional<std::string>& lead, std::int64_t seen_size) {
  bool by_lead = (done_bytes == 0 || guard.empty()) && lead && seen_size > 0;
  if ((done_bytes == 0 || guard.empty()) && !by_lead) return std::nullopt;
  auto slash = truncated_path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : truncated_path.substr(0, slash + 1);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(inbox_ / dir, ec)) {
    auto name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    auto path = dir + name;
    auto opened = open_beneath(inbox_fd_, path);
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
    if (ledger.find_by_inode(st)) continue;
    return sighting{path, true, feed, std::move(opened), st};
  }
  return std::nullopt;
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
void identity::wait_for_copies(std::vector<sighting>& files, identity_ledger& ledger, identity_decisions& out) {
  std::vector<std::string> heads(files.size());
  // Fresh files of this pass by (feed, first line): the one each group
  // starts from is settled, or else the longest (the first of equals).
  std::map<std::pair<std::string, std::string>, std::size_t> leaders;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto& f = files[i];
    auto& d = out.verdicts[i];
    if (d.kind != verdict_kind::fresh) continue;
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
    auto& d = out.verdicts[i];
    if (d.kind != verdict_kind::fresh) continue;
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
      retry(d, "its first line is not complete yet");
      continue;
    }
    auto leader = leaders.at({f.feed->name, *d.lead_hash});
    if (leader != i) {
      // Seen in the same pass as a new file it starts as (its original,
      // renamed in as it was copied): judged once that one has its row.
      retry(d, "it starts as " + files[leader].path + " does; judged once it settles");
      continue;
    }
    keys.push_back({f.feed->name, f.stat.size, heads[i], *d.lead_hash});
    keyed.push_back(i);
  }
  auto matches = ledger.lookup_prefixes(keys);
  for (std::size_t k = 0; k < keyed.size(); ++k) {
    if (!matches[k]) continue;
    auto& f = files[keyed[k]];
    if (f.settled) {
      judge_settled_match(f, *matches[k], ledger, out.verdicts[keyed[k]], out);
      continue;
    }
    retry(out.verdicts[keyed[k]], "it starts as " + matches[k]->path + " does; judged once it settles");
    files_log()->debug("{} {}: starts as {} (file {}, {} bytes) does: judged once it settles or outgrows it",
                       f.feed->name, f.path, matches[k]->path, matches[k]->id, matches[k]->size);
  }
}

// A settled new file that starts as a row loading or loaded (`match`): a
// file of its own, unless
// - it holds what the row's file starts with (a cp of a file still being
//   written or loaded, or of a log that has grown since): then what it holds
//   is loaded from the row's file (a duplicate once the row has loaded past
//   it; until then it waits);
// - it starts with all the row's file holds while that still loads (the row
//   may be its cp, still being written): it waits;
// - or the row's log was truncated (or renamed) since it was read. Then the
//   log is looked at first, and its row may go on in this copy; a log not
//   seen again while it is held (copy_hold: renamed out of the globs, or deleted) goes
//   on in this copy then.
void identity::judge_settled_match(sighting& f, const warehouse::prefix_match& match, identity_ledger& ledger,
                                   verdict& v, identity_decisions& out) {
  auto file = open_row(match);
  auto where = where_is(match, file);
  if (where == row_file::holds_it) {
    held_copies_.erase({f.path, f.stat.device, f.stat.inode});
    auto shared = shared_start(f, match, file.fd);
    if (!shared) return;  // a file of its own
    auto names = match.path + " (file " + std::to_string(match.id) + ")";
    if (shared->bytes < f.stat.size) {
      // All the row's file holds is how this one starts: a cp still
      // writing it (then it becomes this file), or a longer file of its own
      // (known once the row is loaded).
      if (match.loading) {
        retry(v, "it starts with all that " + names + " holds, which is still loading; judged once that is loaded");
      }
      return;
    }
    if (shared->bytes > match.bytes_done) {
      retry(v, "it holds what " + names + " starts with, which is still loading; judged once that is loaded past it");
      return;
    }
    v = verdict{};
    v.kind = verdict_kind::duplicate;
    v.row = warehouse::file_row{};
    v.row->id = match.id;
    v.row->path = match.path;
    v.row->done = std::move(*shared);
    v.reason = "the same content as the first " + std::to_string(v.row->done.bytes) + " bytes of " + names +
               ", which are loaded already; nothing loaded from this copy";
    return;
  }
  if (where == row_file::elsewhere) {
    // Its log was renamed (or deleted) since its row saw it: if it was
    // truncated too, its next sighting finds this copy. Held for a
    // while, then judged as a file of its own. Only a file that holds all
    // that was loaded of it, when that is more than a first line (too
    // common alone) and the row's guard covers it (4 KiB, or less when
    // that is all that was loaded).
    // (A file under the row's own name is a new log begun there.)
    if (f.path == match.path || !holds_loaded_lines(f, match)) return;
    auto now = std::chrono::steady_clock::now();
    auto [since, first] = held_copies_.try_emplace({f.path, f.stat.device, f.stat.inode}, now);
    if (now - since->second >= hold_) {
      // Its log was not seen again (renamed out of the globs, or deleted):
      // what this file holds past what was loaded is the row's rest.
      auto feed = f.feed->name;
      auto path = f.path;
      auto taken = continue_in_copy(f, match, ledger, out);
      if (taken == orphan::busy) {
        retry(v, "it may be the copy of " + match.path + ", which another sluice holds");
        return;
      }
      held_copies_.erase(since);
      if (taken == orphan::yes) {
        v = verdict{};
        files_log()->info("{} {}: starts with what was loaded of {} (file {}), which is gone: loading on from it",
                          feed, path, match.path, match.id);
      }
      return;
    }
  } else {
    out.retries.push_back({match.path, false, "truncated; " + f.path + " may be its copy"});
  }
  // The log is looked at first, and its row goes on in this copy.
  retry(v, "it may be the copy of " + match.path + ", truncated since it was read");
  files_log()->info("{} {}: starts as {} (file {}) does, which was {}: looked at as its copy", f.feed->name, f.path,
                    match.path, match.id,
                    where == row_file::truncated ? "truncated" : "renamed or deleted since");
}

// The loading row of `match`, whose file is gone, goes on in `f` (which
// holds what was loaded of it) when this process can claim it.
identity::orphan identity::continue_in_copy(sighting& f, const warehouse::prefix_match& match,
                                            identity_ledger& ledger, identity_decisions& out) {
  auto row = ledger.find_row(match.id);
  if (!row || row->state != "loading") return orphan::no;
  auto verdict = orphaned(*row, f, ledger, out.claimed);
  if (verdict == orphan::yes) out.continuations.push_back({std::move(f), std::move(*row)});
  return verdict;
}

// Whether the settled new file `f` begins with the bytes loaded of `row`
// (its guard: the 4 KiB before where loading stopped, or all of them when
// fewer), and those are more than one line.
bool identity::holds_loaded_lines(const sighting& f, const warehouse::prefix_match& row) {
  auto loaded = static_cast<std::uint64_t>(row.bytes_done);
  if (loaded == 0 || row.guard_hash.empty() || f.stat.size < row.bytes_done) return false;
  if (guard_hash_of(f.file.fd.get(), loaded) != row.guard_hash) return false;
  if (loaded >= guard_bytes) return true;
  auto text = read_range(f.file.fd.get(), 0, loaded);
  return std::count(text.begin(), text.end(), '\n') >= 2;
}

identity::row_handle identity::open_row(const warehouse::prefix_match& row) {
  row_handle out;
  if (int held = held_fd_(row.id); held >= 0) {
    out.fd = held;
    return out;
  }
  if (!row.inode) return out;
  auto now = open_beneath(inbox_fd_, row.path);
  if (now.busy || !now.refusal.empty()) return out;
  auto st = stat_of(now.st);
  if (now.gone || st.device != row.inode->first || st.inode != row.inode->second) {
    out.elsewhere = true;
    return out;
  }
  out.opened = std::move(now.fd);
  out.fd = out.opened.get();
  return out;
}

// Where a loading row's file is, as far as a copy of it is concerned:
// still holding what was loaded from it, truncated (fewer bytes, or other
// bytes before where loading stopped), or not where the row saw it (renamed
// or deleted since, and not held here: its next sighting will tell).
identity::row_file identity::where_is(const warehouse::prefix_match& row, const row_handle& file) {
  if (!row.loading || !row.inode || row.bytes_done == 0) return row_file::holds_it;
  if (file.elsewhere) return row_file::elsewhere;
  struct stat st {};
  if (file.fd < 0 || ::fstat(file.fd, &st) != 0) return row_file::holds_it;
  bool truncated = st.st_size < row.bytes_done ||
                   (!row.guard_hash.empty() &&
                    guard_hash_of(file.fd, static_cast<std::uint64_t>(row.bytes_done)) != row.guard_hash);
  return truncated ? row_file::truncated : row_file::holds_it;
}

// What the settled new file `f` and the file of `row` (open as `row_fd`, -1
// when it cannot be read here) hold alike from their start: all of the
// shorter one, when that file still holds what was loaded of it; nullopt
// when they differ. As an offset in `f` (its records counted as its lines:
// they number what a later append to a duplicate adds).
std::optional<warehouse::file_offset> identity::shared_start(const sighting& f, const warehouse::prefix_match& row,
                                                             int row_fd) {
  struct stat st {};
  if (row_fd < 0 || ::fstat(row_fd, &st) != 0 || st.st_size == 0 || f.stat.size == 0) return std::nullopt;
  auto loaded = static_cast<std::uint64_t>(row.bytes_done);
  if (loaded > 0 && !row.guard_hash.empty() && guard_hash_of(row_fd, loaded) != row.guard_hash) return std::nullopt;
  auto length = static_cast<std::uint64_t>(std::min<std::int64_t>(f.stat.size, st.st_size));
  auto theirs = hash_prefix(row_fd, length);
  std::uint64_t lines = 0;
  auto ours = hash_prefix(f.file.fd.get(), length, &lines);
  if (!theirs || !ours || theirs->hex() != ours->hex()) return std::nullopt;
  warehouse::file_offset at;
  at.bytes = static_cast<std::int64_t>(length);
  at.lines = static_cast<std::int64_t>(lines);
  at.records = at.lines;
  at.hash = ours->hex();
  at.guard_hash = guard_hash_of(f.file.fd.get(), length);
  return at;
}

// Whether ledger row `row`, still loading, has lost its file (deleted before
// it was loaded to its end) and `copy` holds what it had loaded: then the
// copy may finish it. Claims the row for that (added to `claimed`); `busy`
// when another sluice holds it, or this pass has decided about it already.
identity::orphan identity::orphaned(const warehouse::file_row& row, const sighting& copy, identity_ledger& ledger,
                                    std::set<std::int64_t>& claimed) {
  bool compressed = is_gzip_path(copy.path);
  if (!row.seen || (!compressed && copy.stat.size < row.done.bytes)) return orphan::no;
  if (claimed.count(row.id)) return orphan::busy;
  std::array<std::int64_t, 1> one{row.id};
  if (ledger.claim_files(one).empty()) return orphan::busy;  // another sluice is loading it
  auto original = open_beneath(inbox_fd_, row.path);
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
    ledger.release_files(one);
    return orphan::no;
  }
  claimed.insert(row.id);
  return orphan::yes;
}

}  // namespace sluice::loader

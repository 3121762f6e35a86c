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

void loader::impl::bind_header(tracked_file& t, const record_reader& reader, record_decoder& decoder) {
  if (!t.header) t.header = reader.header();
  auto problem = decoder.bind_header(t.header);
  if (!problem.empty() && (t.header || !decoder.expects_header()) && !t.header_problem_told) {
    t.header_problem_told = true;
    files_log()->warn("{} {}: every row of this file is rejected: {}", t.feed->name, t.path, problem);
  }
}

void loader::impl::reject_unread(tracked_file& t, const record_reader& reader, const record& rec) {
  reject_reason why;
  if (rec.defect == flaw::lost) {
    files_log()->warn("{} {}: {}; record {} is a reject for it{}, and what follows it is read on", t.feed->name, t.path,
                      reader.source_problem(), rec.ordinal,
                      rec.size > 0 ? " (with the " + std::to_string(rec.size) + " bytes of the record it cut)" : "");
    why = {"", reader.source_problem() + (rec.size > 0 ? "; this record was cut by it (its first " +
                                                             std::to_string(rec.size) + " bytes are here, the rest was lost)"
                                                       : "")};
  } else {
    files_log()->warn("{} {}: {}; the rest of the file after record {} is one reject", t.feed->name, t.path,
                      reader.source_problem(), rec.ordinal - 1);
    why = {"", reader.source_problem() + "; nothing after this point can be read (" + std::to_string(rec.size) +
                   " bytes of content after the last complete record)"};
  }
  current.reject(t, rec, why);
}

void loader::impl::read_file(tracked_file& t, std::uint64_t size, bool settled, bool force_final) {
  if (t.failed || stop) return;
  const auto& format = *t.format;
  if (format.settled_files_only && !settled && !force_final) return;  // a document is read once complete
  bool final = force_final || (settled && (format.settled_files_only || options.read_unterminated_tail));
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
  record_reader reader(*t.source, format, t.at, t.hash, final,
                       {.initial_buffer_bytes = std::min<std::size_t>(1 << 20, std::max<std::size_t>(left + 64, 4096)),
                        .max_record_bytes = options.max_record_bytes,
                        .raw_keep_bytes = reject_raw_bytes,
                        .padding = 64,
                        // A settled .csv.gz whose stream ended cleanly is complete (its
                        // writer wrote the end marker): its last row counts, also in the
                        // daemon. Not a .log.gz (registry.h: complete_stream_ends_record).
                        .complete_stream_is_final = t.compressed && settled && format.complete_stream_ends_record},
                       t.feed->csv, t.header);
  auto& decoder = *decoders.at(t.feed->name);
  bind_header(t, reader, decoder);  // (a format without a header row binds nothing)
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
  // A file of more than a batch shows its progress (status, and the log every few seconds).
  bool shown = unread > options.batch_bytes;
  if (shown) progress.begin(t.id, t.feed->name, t.path, t.at.bytes, t.compressed ? 0 : size);
  struct end_shown {
    progress_board& board;
    std::int64_t id;
    bool shown;
    ~end_shown() {
      if (shown) board.end(id);
    }
  } ended{progress, t.id, shown};
  std::uint64_t records = 0;
  try {
    while (true) {
      auto rec = reader.next();
      if (!rec) break;
      ++records;
      if (rec->defect == flaw::lost || rec->defect == flaw::unreadable) {
        reject_unread(t, reader, *rec);
      } else {
        current.add(t, decoder, *rec, why);
      }
      if (current.bytes() >= cut || stop) {
        if (shown) {
          if (auto p = progress.advance(t.id, reader.consumed().bytes, records)) {
            files_log()->info("{} {}: {}", t.feed->name, t.path, p->describe());
          }
        }
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
    files_log()->error("{} {}: cannot read the file: {}", t.feed->name, t.path, e.what());
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

void loader::impl::on_batch_done(const batch& b, batch_outcome outcome, const std::string& error) {
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
    files_log()->error("{}: could not be committed: {}; looked at again from the ledger",
                       b.checkpoints.empty() ? "batch" : b.checkpoints.front()->describe(), error);
  }
  if (outcome == batch_outcome::failed_permanently) {
    files_log()->warn("{}: not loaded: {}; not retried: the server refuses the statement itself (fix the feed's"
                      " declaration or its staging table; sluice looks at the file again when it reads the feed"
                      " declarations again, or restarts)",
                      b.checkpoints.empty() ? "batch" : b.checkpoints.front()->describe(), error);
  }
  std::lock_guard lock(done_mutex);
  for (auto& d : out) done.push_back(std::move(d));
}

void loader::impl::take_done() {
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
      files_log()->warn("could not release claims ({}); they go with the connection", e.what());
    }
  }
}

void loader::impl::note_failure(const tracked_file& t, const std::string& error) {
  try {
    warehouse::note_file_failure(ledger, t.id,
                                 error + " (a permanent error: not retried until the feed declarations are read"
                                     " again; fix the feed or its staging table)");
  } catch (const db_error& e) {
    files_log()->warn("{} {}: could not record why it is not loaded ({})", t.feed->name, t.path, e.what());
  }
}

void loader::impl::let_go(tracked_file& t, std::vector<std::int64_t>& releases) {
  releases.push_back(t.id);
  commits->forget(t.key);
  if (auto p = by_path.find(t.path); p != by_path.end() && p->second == t.id) by_path.erase(p);
  if (auto n = by_inode.find({t.stat.device, t.stat.inode}); n != by_inode.end() && n->second == t.id) {
    by_inode.erase(n);
  }
  tracked.erase(t.id);
}

void loader::impl::report(tracked_file& t) {
  auto records = t.loaded + t.rejected;
  if (records == t.reported) return;
  auto first = t.first_record + t.reported;
  auto seconds = std::chrono::duration<double>(clock_type::now() - t.since).count();
  files_log()->info("{} {}: records {}..{} committed: {} loaded, {} rejected in {:.2f} s", t.feed->name, t.path,
                    first, t.first_record + records - 1, t.loaded, t.rejected, seconds);
  t.reported = records;
}

}  // namespace sluice::loader

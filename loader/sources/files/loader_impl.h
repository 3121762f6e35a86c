// The file source's state, shared by the three files that implement it (one
// job each): loader.cpp (the feeds, intake of paths, retries, tick and the
// --once drain), tracking.cpp (identity's decisions acted on, renames,
// rotation and truncation of held files, starting to hold a file) and
// reading.cpp (reading a held file into batches, and what their commits
// bring back). Internal to loader/sources/files/: loader.h is the interface.
//
// It stays one coordinator: a rename, a truncation or a failed commit
// changes the tracked files, their indexes by path and inode, the retries and
// the batch being built together, on the loader's thread. What could be
// parted from it is (identity.h, file_batch.h, parked_files.h, retry_book.h).
#pragma once

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "loader/log.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_decoder.h"
#include "loader/formats/record_reader.h"
#include "loader/pipeline/batch.h"
#include "loader/pipeline/committer.h"
#include "loader/sources/files/file_access.h"
#include "loader/sources/files/file_batch.h"
#include "loader/sources/files/identity.h"
#include "loader/sources/files/loader.h"
#include "loader/sources/files/parked_files.h"
#include "loader/sources/files/progress_board.h"
#include "loader/sources/files/retry_book.h"
#include "loader/sources/files/tracked_file.h"
#include "warehouse/connection.h"
#include "warehouse/file_ledger.h"
#include "warehouse/log.h"

namespace sluice::loader {

struct loader::impl {
  using clock_type = std::chrono::steady_clock;
  static constexpr std::size_t head_bytes = 4096;  // what tells a file's framing
  static constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
  static constexpr std::size_t first_streamed_batch_bytes = 256 << 10;
  static constexpr std::size_t lookup_group = 512;  // files looked up in the ledger together

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


  std::string dsn;
  loader_options options;
  unique_fd inbox_fd;
  // The committer, made on another thread while `ledger` connects: each
  // connection costs the server a backend start, a visible part of a short run.
  std::future<std::unique_ptr<committer>> committing;
  warehouse::connection ledger;
  std::vector<feed_plan> feeds;
  // Declared feeds that cannot work (compile_feeds): their files are not
  // loaded, and --once says so.
  std::vector<skipped_feed> skipped;
  progress_board progress;  // large files being read
  mutable std::mutex skipped_mutex;  // skipped_shown, read by other threads
  std::vector<skipped_feed> skipped_shown;
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
                                    dsn, committer_options{options.copy_streams, 4, options.give_up_after, options.stream_bytes,
                                                      options.on_commit},
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

  void reload_feeds();

  // The declarations, compiled; each feed that cannot work and each overlap
  // is said once per reading (WARN). The other feeds load.
  feed_set read_feeds();

  void use_feeds(feed_set fresh);

  const feed_plan* feed_named(const std::string& name);

  // A feed declared since start-up is picked up within seconds: when a path
  // of this pass matches no feed, the declarations are read again, before
  // the pass takes any `const feed_plan*`. (Reading them again in the middle
  // of a pass, as it once did, freed the plans that the sightings gathered
  // so far pointed to: the daemon then copied freed memory as feed names,
  // sent garbage to the server and crashed.) A failed re-read keeps the
  // declarations in use.
  void refresh_feeds_for(const std::vector<std::string>& paths);

  // The feed of a file that several feeds take (declared before `sluice
  // migrate` refused overlaps): the feed of its ledger row, so that a file
  // never changes feed (a feed declared later would otherwise load it again
  // and leave the old rows `replaced`); the first by name for a new file.
  const feed_plan* settle_overlap(const std::string& path, const std::vector<const feed_plan*>& candidates,
                                  const warehouse::file_stat& st);

  // ----------------------------------------------------------------- intake

  void load(const std::string& path, bool settled);

  void process_pending();

  // The ledger connection broke: every claim went with it, and what this
  // process remembers may describe commits the server lost. Forget it all and
  // look at every file again from what the database says.
  void lost_ledger();

  void schedule_retry(const std::string& path, bool settled, const std::string& reason);

  void look_at(std::vector<std::pair<std::string, bool>>& work);

  // A path no feed takes: a file we follow may have been renamed there (a log
  // rotated to app.log.1). Else it is left alone, said once.
  void follow_unmatched(const std::string& path, bool settled, opened_file opened);

  // Continues ledger row `row` in `copy` (claimed by the caller): reads it to its end.
  void continue_in_copy(sighting& copy, const warehouse::file_row& row, const std::string& was);

  void refuse(const feed_plan& feed, const std::string& path, const std::string& reason);

  void file_vanished(const std::string& path);

  void detach_path(std::int64_t id);

  enum class under { same, shrank, rewritten };

  // Whether a held file was rewritten in place since it was read: shorter
  // than where it was read up to, or no longer ending there as it did (a
  // truncation followed by more writes than were loaded). A compressed
  // file's offsets count content: its own size is compared with its size
  // when last seen, and its own bytes before that size, which only ever grow,
  // must end as they did (the source inflates on from there: a new stream's
  // bytes fed to the old one's state would break the file in a reject, and
  // the new content before that point would never load).
  static under change_under(tracked_file& t, const warehouse::file_stat& st);

  void continue_tracked(tracked_file& t, const std::string& path, bool settled, opened_file opened,
                        const warehouse::file_stat& st);

  // Looks up files the loader does not hold, in the ledger, together, and
  // does what identity decides (identity.h), in one transaction.
  // A held log truncated (nothing of it in flight): when a copy of it holds
  // what was loaded (copytruncate), its row goes on there and the path's new
  // content is looked at as a new file. False when no copy was found.
  bool went_on_in_copy(tracked_file& t, const std::string& path, bool settled, const warehouse::file_stat& st);
  // A held file changed under what was read of it: let go (once its batches
  // are done) and looked at again, as new content.
  void drop_changed(tracked_file& t, const std::string& path, bool settled, const std::string& why);

  void resolve(std::vector<sighting>& files);

  // The ledger rows of resumed (moved, when renamed) and fresh (inserted)
  // files: their ids, 0 for the other verdicts.
  std::vector<std::int64_t> record_decisions(const std::vector<sighting>& files, const std::vector<verdict>& verdicts);

  // t (new, of file f) goes on from its ledger row: where it stopped, its
  // hash chain. False when there is nothing to read (the row is released).
  bool resume_from(tracked_file& t, const sighting& f, const warehouse::file_row& row);
  // `checked`: a .gz's source that resolve() checked already (else one is made).
  void start_tracking(sighting& f, std::int64_t id, const std::optional<warehouse::file_row>& row,
                      std::shared_ptr<byte_source> checked = nullptr);

  void release_now(std::int64_t id);

  // ---------------------------------------------------------------- reading

  // Reads [t.at, size) into batches. `settled`: a file read to its end is
  // complete; `force_final`: the end of the file ends the last record whatever
  // the framing (a file that can grow no more).
  void read_file(tracked_file& t, std::uint64_t size, bool settled, bool force_final);
  // A file's header row (a format with one: csv), read once, bound to its
  // feed's columns (a header that does not fit is said once: every row of the
  // file is then a reject).
  void bind_header(tracked_file& t, const record_reader& reader, record_decoder& decoder);
  // A record lost to a damaged gzip member, or the unreadable rest of the
  // file: a reject that says so.
  void reject_unread(tracked_file& t, const record_reader& reader, const record& rec);

  // ---------------------------------------------------------- after commits

  // Files (ledger ids) read without streaming since a batch of theirs failed.
  std::set<std::int64_t> unstreamed;

  parked_files parked;

  void on_batch_done(const batch& b, batch_outcome outcome, const std::string& error);

  void take_done();

  void note_failure(const tracked_file& t, const std::string& error);

  // Forgets a file whose batches are all done; its claim joins `releases`.
  void let_go(tracked_file& t, std::vector<std::int64_t>& releases);

  bool in_current(std::int64_t id) const { return current.holds(id); }

  void report(tracked_file& t);

  // ------------------------------------------------------------ heartbeats

  void tick();

  std::vector<unfinished_file> finish(std::chrono::milliseconds limit);
};

}  // namespace sluice::loader

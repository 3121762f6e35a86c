// The loader: files in the inbox to staging rows and rejects, exactly once.
//
// What it does with a path it is handed (load()):
// - opens it beneath the inbox without following any symbolic link and
//   without blocking (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
//   O_NONBLOCK), then fstat: anything but a regular file is refused (a ledger
//   row in state refused with the reason, one WARN line), never read;
// - knows it again by (device, inode) — in memory while it is open, else
//   through the ledger (warehouse/file_ledger.h) — and resumes it at its last
//   committed offset; a restart trusts (device, inode, size, mtime) and reads
//   nothing it loaded before;
// - a new settled file whose whole content equals a loaded file of the same
//   feed is a duplicate (nothing loaded, WARN); a copy of a file still loading
//   waits until that one is loaded;
// - reads records into batches that hold many files each (up to batch_bytes
//   and batch_files), handed to the committer (committer.h), which writes
//   rows, rejects and every file's ledger advance in one transaction.
//
// Claims: every file being read is claimed in the warehouse (advisory lock on
// its ledger row) for as long as the loader holds it, so several sluice
// processes on one inbox and warehouse share the work and never double it. A
// file claimed elsewhere is retried later.
//
// Nothing handed to load() is dropped: what cannot be loaded now (claimed
// elsewhere, a copy of a file still loading, a batch that failed, a database
// that is down) is retried with backoff, by tick() in the daemon and by
// finish() for --once.
//
// Threading: load(), tick() and finish() from one thread; request_stop() from
// any thread (the batch in hand is committed, then everything returns).
// Feeds: a declaration that cannot work (feed.h, compile_feeds) skips that
// feed, said in a WARN each time the declarations are read; the other feeds
// load, and the skipped feed's files are not loaded (finish() lists them).
// When several feeds take one path, a file stays in the feed of its ledger
// row (WARN). A batch the server refuses for good (error_kind::schema) is not
// retried: its file's ledger row says why, and finish() lists it.
//
// Errors: connection failures are retried. Bad input never throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loader/contract/feed.h"
#include "loader/pipeline/committer.h"
#include "loader/sources/files/progress_board.h"

namespace sluice::loader {

struct loader_options {
  std::filesystem::path inbox;
  std::size_t batch_bytes = 4 << 20;        // COPY bytes per batch (many files share one)
  // COPY bytes per transaction while one large file streams through one COPY
  // (committer.h, Streaming); 0: every batch its own transaction.
  std::size_t stream_bytes = std::size_t{256} << 20;
  std::size_t max_record_bytes = 64 << 20;  // longer records are rejected
  // Whether a settled file's last line without a newline is a record. On for
  // --once (the file is complete); off for the daemon, where a log's writer may
  // be between two writes of one line: the line waits for its newline.
  bool read_unterminated_tail = false;
  // COPY connections. Batches of a file commit in order, but with two their
  // COPYs overlap, so the server works on two cores.
  std::size_t copy_streams = 2;
  // Files per transaction at most (each holds a claim while in flight).
  std::size_t batch_files = 256;
  // 0: retry database faults until stopped; else give up on a batch after this
  // long (--once must end, also on a full disk).
  std::chrono::milliseconds give_up_after{0};
  // Told of every committed batch, on a committer thread (committer.h).
  std::function<void(const commit_note&)> on_commit = nullptr;
};

struct load_totals {
  std::uint64_t loaded = 0;      // rows committed to staging since the loader started
  std::uint64_t rejected = 0;    // rows committed to sluice.rejects
  std::uint64_t files = 0;       // files read to their end
  std::uint64_t duplicates = 0;  // files found to repeat a loaded file
  std::uint64_t refused = 0;     // files refused (not regular, unreadable)
};

// A file that finish() could not load completely, and why.
struct unfinished_file {
  std::string path;
  std::string reason;
};

class loader {
 public:
  // Connects (ledger + COPY connections) and reads the feed declarations.
  loader(std::string dsn, loader_options options);
  ~loader();
  loader(const loader&) = delete;
  loader& operator=(const loader&) = delete;

  // Loads what is new in inbox/relative_path. `settled`: the file is complete
  // as far as anyone can tell (JSON documents may be read; with
  // read_unterminated_tail a last line without newline is a record). Several
  // calls in a row are looked up in the ledger together; rows go into the
  // open batch, which is handed to the committer when full or on tick().
  void load(const std::string& relative_path, bool settled);
  // The daemon's heartbeat: hands over the open batch, takes in what the
  // committer finished, and retries what is due.
  void tick();
  // Loads everything handed in so far, retrying for at most `limit`; returns
  // what could not be loaded completely (empty: everything was).
  [[nodiscard]] std::vector<unfinished_file> finish(std::chrono::milliseconds limit);
  [[nodiscard]] load_totals totals() const;
  // The declared feeds skipped at the last reading of the declarations, and
  // why (empty: every feed loads). From any thread.
  [[nodiscard]] std::vector<skipped_feed> skipped_feeds() const;
  // Files of more than a batch being read now. From any thread.
  [[nodiscard]] std::vector<file_progress> progress() const;

  void request_stop() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::loader

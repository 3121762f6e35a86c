// The loader: one file at a time, from its last committed offset to what can be
// read now, into staging and rejects, exactly once.
//
// Exactly once: rows, rejects and the ledger advance (sluice.files.bytes_done,
// done_hash, counts) commit in one transaction per batch. A batch first locks
// its ledger row and checks that the offset is where the batch starts, so a
// retried commit whose first attempt did succeed is recognised and skipped.
//
// Identity: a path already in the ledger resumes at bytes_done once the first
// bytes_done bytes still hash to done_hash (else the path holds new content and
// gets a new ledger row). A new path whose content starts with the content of a
// known file is that file renamed (old path gone: the row follows the new path)
// or a copy (old path still there: recorded as a duplicate, nothing loaded).
//
// Threading: call load() and flush() from one thread. Parsing runs on the
// calling thread while copy_streams other threads stream finished batches with
// COPY, each on its own connection. request_stop() may be called from any thread: the batch
// in hand is committed and load() returns.
//
// Errors: infrastructure faults (database down) are retried with backoff until
// they clear or a stop is requested; a feed declaration that cannot work throws
// feed_error from the constructor. Bad input never throws: it becomes rejects.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sluice::loader {

struct loader_options {
  std::filesystem::path inbox;
  std::size_t batch_bytes = 4 << 20;        // COPY bytes per transaction
  std::size_t max_record_bytes = 64 << 20;  // longer records are rejected
  // Whether a settled file's last line without a newline is a record. On for
  // --once (the file is complete); off for the daemon, where a log's writer may
  // be between two writes of one line: the line waits for its newline.
  bool read_unterminated_tail = false;
  // COPY connections. Batches of a file commit in order, but with two their
  // COPYs overlap, so the server works on two cores (see loader.cpp, commit).
  std::size_t copy_streams = 2;
};

struct load_totals {
  std::uint64_t loaded = 0;    // rows committed to staging since the loader started
  std::uint64_t rejected = 0;  // rows committed to sluice.rejects
};

class loader {
 public:
  // Connects twice (ledger + COPY) and reads the feed declarations.
  loader(std::string dsn, loader_options options);
  ~loader();
  loader(const loader&) = delete;
  loader& operator=(const loader&) = delete;

  // Loads what is new in inbox/relative_path. `settled`: the file is complete as
  // far as anyone can tell, so JSON documents may be read (and, with
  // read_unterminated_tail, a last line without newline is a record). Returns
  // once the file's batches are queued: they commit in the background, in
  // order, while the next file is parsed. A batch that cannot commit leaves the
  // file at its last committed offset; the next load() of it resumes there.
  void load(const std::string& relative_path, bool settled);
  // Waits until every queued batch has committed or failed.
  void flush();
  [[nodiscard]] load_totals totals() const;

  void request_stop() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::loader

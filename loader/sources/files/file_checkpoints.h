// What a batch carries of the files it read: their checkpoints (the ledger
// advance each file makes when the batch commits) and the way back to a row's
// raw text (read again from the file when the server refuses the row).
//
// Threading: both are filled by the loader's thread while the batch is built,
// then used by one committer thread (file_raw_source by several, guarded).
// Errors: advance() throws db_error as warehouse::advance_files does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loader/bytes/byte_source.h"
#include "loader/pipeline/batch.h"
#include "loader/sources/files/file_access.h"
#include "warehouse/file_ledger.h"

namespace sluice::loader {

// The checkpoints of the files in one batch.
class file_checkpoints final : public checkpoint_set {
 public:
  std::vector<warehouse::file_advance> advances;
  std::vector<std::string> labels;  // "feed path" per advance
  std::vector<warehouse::file_advance> applied;  // what the committed attempt wrote

  advance_result advance(warehouse::connection& conn, const std::map<std::int64_t, std::uint64_t>& refused) override;
  [[nodiscard]] std::string describe() const override;
};

// The open files of a batch, what its row origins point at: a refused row's
// place is its file's ledger id, line and byte offset, and its raw text is read
// back from its file (a compressed file is inflated again up to it: refusals are rare, and
// batches keep no copy of their rows' text). Holds the descriptors (shared with
// the tracked files) until the batch is done, so a file let go meanwhile can
// still be read. Called from committer threads: the inflating sources are
// guarded.
class file_provenance final : public provenance {
 public:
  struct file {
    std::shared_ptr<const unique_fd> fd;
    bool compressed = false;
    std::uint64_t size = 0;  // the file's own size when the batch read it
  };
  std::map<std::int64_t, file> files;  // by ledger id

  // A file's record as sluice.rejects places it (also a record that did not decode).
  [[nodiscard]] static reject_place place_of(const row_origin& origin);
  [[nodiscard]] reject_place place(const row_origin& origin) const override { return place_of(origin); }
  [[nodiscard]] std::string raw_text(const row_origin& origin, std::string_view copy_statement,
                                     std::string_view row_stream) const override;

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::int64_t, std::unique_ptr<byte_source>> sources_;
};

}  // namespace sluice::loader

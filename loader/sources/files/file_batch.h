// The batch being built from files: the rows and rejects of the records read
// since the last hand-over, and each file's checkpoint (where its ledger row
// goes when the batch commits). One batch may hold many small files; a large
// file hands over a batch as each fills.
//
// For each file read into it: open() once, then add() and reject() per record,
// then close() with where the reader stopped (a close that moved nothing
// takes the checkpoint out again). hand_over() gives the batch to the
// committer and starts an empty one.
//
// Threading: the loader's thread only. Errors: none of its own; the submit
// function's exceptions pass through hand_over().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "loader/formats/record_decoder.h"
#include "loader/formats/record_reader.h"
#include "loader/pipeline/batch.h"
#include "loader/sources/files/file_checkpoints.h"
#include "loader/sources/files/tracked_file.h"

namespace sluice::loader {

constexpr std::size_t reject_raw_bytes = 1 << 20;  // raw text kept per reject

class file_batch {
 public:
  // `expected_bytes`: the batch size aimed at (reserves room for the rows'
  // origins); `submit`: hands a full batch to the committer.
  file_batch(std::size_t expected_bytes, std::function<void(batch&&)> submit);

  // Opens t's checkpoint in this batch, from where its ledger row is (once
  // per batch: again is nothing).
  void open(tracked_file& t);
  // A record of t: its rows, or a reject when it does not decode (`why`).
  void add(tracked_file& t, record_decoder& decoder, const record& rec, reject_reason& why);
  // A record of t that did not decode or could not be read: a reject.
  void reject(tracked_file& t, const record& rec, const reject_reason& why);
  // t's checkpoint now ends where `reader` stopped (`complete`: t is read to
  // its end); t's position, hash and in-flight count follow.
  void close(tracked_file& t, const record_reader& reader, bool complete);
  // The next batch of the source with this committer key follows at once.
  void continues_with(const std::string& key) { current_.continues = key; }
  void hand_over();

  // COPY bytes of its rows and rejects so far.
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  // Files in it (a closed file counts until the hand-over).
  [[nodiscard]] std::size_t files() const noexcept { return files_; }
  // Whether t's checkpoint is open in it.
  [[nodiscard]] bool holds(std::int64_t id) const { return index_.count(id) != 0; }

 private:
  // The encoders of the batch for a feed's targets. The decoder writes into
  // a vector of encoders per feed; those go to the batch's tables at the
  // hand-over.
  struct feed_rows {
    std::vector<copy_encoder> encoders;
    std::vector<std::vector<std::uint32_t>> origins;
    std::vector<std::size_t> sizes;  // of each encoder when last counted
  };

  feed_rows& rows_for(const feed_plan& feed);
  file_checkpoints& checkpoints();

  std::size_t expected_bytes_;
  std::function<void(batch&&)> submit_;
  batch current_;
  std::shared_ptr<file_provenance> provenance_;
  std::size_t bytes_ = 0;
  std::size_t files_ = 0;
  std::map<std::int64_t, std::size_t> index_;  // file id -> index in the checkpoints' advances
  // Files with a part closed in this batch: a file's next part goes in the
  // next batch (each batch holds one turn of a file; two would wait for each
  // other in the committer's order book forever).
  std::set<std::int64_t> closed_;
  std::map<const feed_plan*, feed_rows> rows_;
};

}  // namespace sluice::loader

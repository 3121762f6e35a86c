// A batch's checkpoint of a replicated source: the position (LSN, and the
// _seq of a transaction applied in part) it takes sluice.sources from and to.
// Threading: built on the stream's thread, advanced on a committer thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "loader/pipeline/batch.h"
#include "loader/sources/postgres/pgoutput.h"
#include "warehouse/source_ledger.h"

namespace sluice::loader {

// The source's LSN checkpoint of a batch.
class source_checkpoints final : public checkpoint_set {
 public:
  warehouse::source_advance advance_;
  pgoutput::lsn end_lsn = 0;  // end of the last whole transaction's commit record: what the slot may confirm
  std::uint64_t transactions = 0;  // source transactions the batch completes

  advance_result advance(warehouse::connection& conn, const std::map<std::int64_t, std::uint64_t>& /*refused*/) override {
    std::array<warehouse::source_advance, 1> one{advance_};
    auto outcome = warehouse::advance_sources(conn, one).front();
    if (outcome == warehouse::advance_outcome::advanced) return advance_result::advanced;
    if (outcome == warehouse::advance_outcome::already_applied) return advance_result::already_applied;
    return advance_result::elsewhere;
  }
  void note_retry(warehouse::connection& conn, const std::string& error) const override {
    warehouse::note_source_error(conn, advance_.name, "retrying a batch: " + error);
  }
  std::string describe() const override {
    auto text = [](const warehouse::source_position& p) {
      return pgoutput::format_lsn(p.applied_lsn) +
             (p.partial_lsn == 0 ? "" : " + " + pgoutput::format_lsn(p.partial_lsn) + "#" + std::to_string(p.partial_seq));
    };
    return "source " + advance_.name + " (" + text(advance_.from) + " .. " + text(advance_.to) + ")";
  }
};

// What a replicated batch's row origins point at: a change's place is its
// source and the commit LSN of its transaction (origin.offset), and its raw
// text is the row as the batch encoded it, column by column (the source's
// own text of it is gone with the WAL).
class change_provenance final : public provenance {
 public:
  explicit change_provenance(std::string source) : source_(std::move(source)) {}
  [[nodiscard]] reject_place place(const row_origin& origin) const override {
    reject_place place;
    place.source = source_;
    place.lsn = origin.offset;
    return place;
  }
  [[nodiscard]] std::string raw_text(const row_origin& /*origin*/, std::string_view copy_statement,
                                     std::string_view row_stream) const override {
    return describe_copy_row(copy_statement, row_stream);
  }

 private:
  std::string source_;
};

}  // namespace sluice::loader

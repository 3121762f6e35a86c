// The source ledger (sluice.sources): the statements that advance a
// replication source's applied LSN inside a batch's transaction. A sibling of
// file_ledger.h; the committer sees neither, only loader::checkpoint_set.
//
// Threading: functions take the connection to use. Errors: db_error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sluice/warehouse/connection.h"
#include "sluice/warehouse/file_ledger.h"

namespace sluice::warehouse {

// One batch's advance of one source: from the commit LSN it resumed after to
// the commit LSN of the last source transaction in the batch.
struct source_advance {
  std::string name;
  std::uint64_t from_lsn = 0;
  std::uint64_t to_lsn = 0;
};

// Locks the sources' rows (by name) and advances each whose applied_lsn is
// from_lsn. One round trip to read, one to write.
[[nodiscard]] std::vector<advance_outcome> advance_sources(connection& conn,
                                                           std::span<const source_advance> advances);

// The stored applied LSN of a source (0 when it has none yet). Throws db_error
// when there is no such source.
[[nodiscard]] std::uint64_t applied_lsn(connection& conn, const std::string& name);

}  // namespace sluice::warehouse

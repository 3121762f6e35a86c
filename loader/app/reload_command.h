// `sluice reload PATH|--file-id N`: loads a file again (a feed declaration
// fixed since, a bad export put right in place). Used by main.cpp.
//
// The file gets a new ledger row (reload_of: the old one) and is loaded from
// byte 0 here, like a new file; the transaction of its first batch removes the
// old row's staging rows and rejects and runs the packs' rebuilds
// (sql/sluice/0020_reload.sql), so readers never see it twice or missing.
// A daemon running meanwhile takes turns through the ledger's claims.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "loader/app/run.h"

namespace sluice::app {

struct reload_request {
  std::optional<std::string> path;  // as given: relative to the inbox, or a path to a file beneath it
  std::optional<std::int64_t> file_id;
  bool dry_run = false;
};

// Returns 0 when the file was loaded again (or, with dry_run, what would
// change was printed); 1 after logging why not (nothing changed then, or the
// reload waits in the ledger for the next run: the message says which).
int reload_file(const run_settings& settings, const reload_request& request);

}  // namespace sluice::app

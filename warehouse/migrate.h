// Migrating a warehouse: installing and upgrading packs (packs.h), and
// checking before a load that the warehouse is up to date.
//
// Which packs a warehouse has is chosen: the `sluice` pack (sluice's own
// tables) always, first; then the packs asked for (see select_packs). Built-in
// packs, once installed, are upgraded by every later migrate; a user pack when
// its folder is given again. What is installed and applied is recorded in
// sluice.packs and sluice.pack_migrations, which migrate() creates itself
// before anything else (and fills from the sluice.migrations table of
// warehouses migrated before packs were chosen).
//
// Errors: pack_error (packs.h) for what a person fixes in a pack folder, on the
// command line, or by running `sluice migrate`; db_error (error.h) for the server.
//
// Threading: the connection is used from the calling thread only.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "warehouse/connection.h"
#include "warehouse/packs.h"

namespace sluice::warehouse {

struct migrate_options {
  std::optional<std::vector<std::string>> packs;  // --packs; nullopt when not given
  std::vector<std::filesystem::path> pack_dirs;   // --pack-dir, in the order given
  // What the declarations in the warehouse get wrong, one line each (the
  // sluice command passes the loader's feed compile: warehouse/ knows nothing
  // of feeds). Called in a transaction once before the first migration of a
  // pack other than `sluice`, and in each such migration's transaction after
  // its SQL ran: a migration that adds a problem is rolled back whole and
  // migrate throws pack_error naming the file and the problem. Problems that
  // were there before are logged (WARN), not refused. Unset: no check.
  std::function<std::vector<std::string>(connection&)> declaration_problems;
};

struct migrate_outcome {
  int applied = 0;
  int already_applied = 0;
  std::vector<std::string> packs;  // the packs migrated, in order
};

// Brings the chosen packs up to date: takes a session advisory lock (two
// migrations at once take turns), creates or converts the bookkeeping tables
// (an old sluice.migrations table becomes sluice.pack_migrations rows), reads
// the pack folders, checks everything (pack_error, nothing applied), then
// applies each missing file in its own transaction that also records it.
// A pending file with its own transaction control (COMMIT, ROLLBACK, BEGIN:
// find_transaction_statement) is refused before anything is applied
// (pack_error naming the file, line and statement).
// Throws db_error naming the file when one fails (earlier files stay applied),
// pack_error when a file adds a declaration problem (options) or ends its
// transaction anyway.
// Notes (user packs left as they are, built-in packs not installed) are logged.
// Last, sluice.grant_roles() grants sluice_loader and sluice_reader what they
// need on the schemas as they are now (its notices say what it could not do).
migrate_outcome migrate(connection& conn, const migrate_options& options = {});

// Refuses a warehouse that is not up to date with this binary, without pack
// folders: every installed built-in pack (and `sluice` always) must have each
// of its embedded migrations applied with the same checksum; user packs must be
// recorded. Throws pack_error listing what is missing and saying to run
// `sluice migrate`. Returns the installed packs, in installation order.
std::vector<installed_pack> require_up_to_date(connection& conn);

}  // namespace sluice::warehouse

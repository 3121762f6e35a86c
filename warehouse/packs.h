// Packs and their migrations, as files: naming, versions, which packs to
// migrate and in what order, what is left to apply. Pure (no server); the
// server side is migrate.h.
//
// A pack is a folder of SQL migrations named NNNN_description.sql; NNNN (the
// version) counts per pack. Built-in packs are the folders under sql/, embedded
// in the binary at build time (cmake/embed_files.cmake); a user's pack is a
// folder given at migrate time (`--pack-dir DIR`, the folder's base name is the
// pack's name), read then and never needed again.
//
// Errors: pack_error for everything a person fixes in a pack folder or on the
// command line (an unknown pack, a badly named file, an applied migration that
// was edited); its message names the file or pack and says what to do. A
// sluice::fault that is not retryable: the same packs fail the same way.
// std::logic_error only for a build mistake in the embedded sql/ (a unit test
// catches it before it ships).
//
// Threading: every function may be called from any thread; builtin_packs()
// returns one immutable list built on first use.
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warehouse/fault.h"

namespace sluice::warehouse {

class pack_error : public sluice::fault {
 public:
  using sluice::fault::fault;
  [[nodiscard]] bool is_retryable() const noexcept override { return false; }
};

// The pack every warehouse has, installed first.
inline constexpr std::string_view core_pack = "sluice";

struct migration {
  std::string pack;
  int version = 0;
  std::string file;      // base name, e.g. "0001_staging.sql"
  std::string origin;    // for messages: "sql/hubdoc/0001_staging.sql" (built in) or the full path
  std::string sql;
  std::string checksum;  // hex XXH3-64 of sql
};

enum class pack_source { builtin, dir };
[[nodiscard]] const char* to_string(pack_source source) noexcept;

struct pack {
  std::string name;
  pack_source source = pack_source::builtin;
  std::filesystem::path dir;          // absolute; dir packs only
  std::vector<migration> migrations;  // ascending version, at least one
};

// The version of a migration file named NNNN_description.sql (1 to 9 digits,
// above 0, a non-empty description); nullopt for any other name.
[[nodiscard]] std::optional<int> migration_version(std::string_view file_name);

// A pack from (file name, SQL text) pairs, sorted by version. Throws pack_error
// naming the file when a name is not NNNN_description.sql, when two files share
// a version, when the pack's name is not [a-z0-9_-]+ (or is the word "all"),
// or when there are no files.
[[nodiscard]] pack make_pack(std::string name, pack_source source, std::filesystem::path dir,
                             std::vector<std::pair<std::string, std::string>> files);

// The built-in packs, `sluice` first, then by name. Throws std::logic_error on a
// build mistake (a file outside sql/<pack>/, a bad name, a shared version).
[[nodiscard]] const std::vector<pack>& builtin_packs();

// Reads a user's pack from `dir`: every *.sql file directly in it is a
// migration (other files and sub-folders are ignored). The pack's name is the
// folder's base name. Throws pack_error when the folder cannot be read, holds
// no migration, or as make_pack.
[[nodiscard]] pack read_pack_dir(const std::filesystem::path& dir);

// A pack as sluice.packs records it.
struct installed_pack {
  std::string name;
  pack_source source = pack_source::builtin;
  std::string dir;  // dir packs: the folder it was last migrated from
};

// Which packs to migrate, in order, and what a person should know about the
// rest. Pure.
struct pack_selection {
  std::vector<const pack*> packs;  // `sluice` first; points into the inputs
  std::vector<std::string> notes;  // one line each, e.g. a user pack left as it is
};

// The order: `sluice`; then built-in packs already installed and not named
// (by name: what a warehouse has is upgraded before anything new is added);
// then the packs of `names` in the order given ("all" stands for every
// built-in pack, by name); then the --pack-dir packs not named, in the order
// given. Without `names` (no --packs): every built-in pack when the warehouse
// has no pack installed yet, else only what it has (so a warehouse given some
// packs keeps to them). A user pack installed but not given by --pack-dir is
// left as it is (a note says so), as is an installed built-in pack this binary
// does not have. Throws pack_error for a name that is neither built in nor
// given by --pack-dir (naming the known packs), a user pack with a built-in
// pack's name, two --pack-dir folders with one name, and a built-in pack named
// while the warehouse has a user pack of that name.
[[nodiscard]] pack_selection select_packs(const std::vector<pack>& builtins,
                                          const std::vector<pack>& user_packs,
                                          const std::optional<std::vector<std::string>>& names,
                                          const std::vector<installed_pack>& installed);

// A migration recorded in sluice.pack_migrations.
struct applied_migration {
  std::string pack;
  int version = 0;
  std::string file;
  std::string checksum;
};

// The migrations of `packs` not applied yet, in the order to apply them. Pure.
// Throws pack_error, before anything is applied, when an applied migration's
// file changed (naming it: add a new migration instead), when an applied one is
// missing from its pack, and when a new file's version is below one already
// applied in its pack (give it a higher version).
[[nodiscard]] std::vector<const migration*> pending_migrations(
    const std::vector<const pack*>& packs, const std::vector<applied_migration>& applied);

// A built-in migration file as an older sluice applied it, under another name
// or with other content, and the file of this binary that stands for it.
// migrate() re-records a sluice.pack_migrations row that is exactly
// (pack, applied_version, applied_as, applied_checksum) as `now` (its version,
// name and checksum), before it reads what is applied: a warehouse made by
// that older sluice is carried forward instead of refused. Only what the list
// in pack_history.cpp names is converted, each entry with the reason it is
// safe; any other difference is still refused by pending_migrations().
struct migration_ancestor {
  std::string pack;
  int applied_version = 0;
  std::string applied_as;        // file name then, e.g. "0101_staging.sql"
  std::string applied_checksum;  // hex XXH3-64 of the content then
  const migration* now = nullptr;  // into builtin_packs()
};

// Every ancestor of a built-in migration, in the order to convert them (no
// two entries share a pack and applied version, nor a file now). Throws
// std::logic_error on a build mistake (a file named there that sql/ lacks);
// a unit test catches it.
[[nodiscard]] const std::vector<migration_ancestor>& builtin_migration_ancestors();

// A statement of a migration that would end or start the transaction the
// migration runs in: BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK (but not
// ROLLBACK TO a savepoint), ABORT, PREPARE TRANSACTION. `statement` is its
// text (up to 80 characters), `line` the 1-based line it starts on.
struct transaction_statement {
  std::string statement;
  int line = 0;
};

// The first such statement of `sql`, found by splitting it into statements as
// psql does: comments, quoted strings and identifiers, dollar quoting and the
// BEGIN ATOMIC ... END bodies of CREATE FUNCTION and PROCEDURE are skipped, so
// a PL/pgSQL BEGIN or a "commit" in a string is not one. nullopt when there is
// none. migrate() refuses a pending file that has one, before applying anything:
// a migration with its own COMMIT would be half applied, and every later
// migrate would fail on what it left.
[[nodiscard]] std::optional<transaction_statement> find_transaction_statement(std::string_view sql);

}  // namespace sluice::warehouse

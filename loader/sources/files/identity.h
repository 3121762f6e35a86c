// Identity: what a file the loader does not hold is, as far as the ledger
// (sluice.files) can tell. It decides; the loader acts.
//
// For each sighting (a path, open, with its feed) decide() returns a verdict:
// - resume:    an existing row goes on (renamed, grown, or looked at again);
// - fresh:     a new row, with the hashes that will find it again;
// - duplicate: the same content as a loaded file (a cp, a re-drop);
// - retry:     not now (another sluice holds it, a file of the same content is
//              still loading, a copy still being written), with why;
// - none:      nothing to do (loaded and untouched, or taken by a continuation).
// Beside the verdicts: continuations (a row goes on in another file:
// copytruncate's copy, or a re-dropped copy of a file deleted mid-load),
// retries of paths that are not sightings (a log whose copy was seen first),
// and the rows this pass claimed while it judged them.
//
// The rules are those of warehouse/file_ledger.h and the README's "Identity"
// and "Log rotation": a live file is its (device, inode); a settled file is
// known by its whole content; a file seen while it is written that starts as
// a known file does is judged once it settles.
//
// What identity does itself, through identity_ledger: the lookups, the claims
// it needs to judge a row another sluice may be moving on, and retiring a row
// that no longer describes its file (later lookups of the same pass must not
// find it as it was). Everything else (new rows, duplicate rows, renames,
// claims of what is decided, tracking, retries) is the caller's, in the
// transaction it holds around decide() (warehouse::lock_identity first).
//
// Threading: one thread (the loader's). Errors: identity_ledger's exceptions
// (db_error) pass through; a pass that throws decided nothing, but rows it
// retired and claims it took stay as the transaction and session keep them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "loader/bytes/byte_source.h"
#include "loader/contract/feed.h"
#include "loader/sources/files/file_access.h"
#include "warehouse/file_ledger.h"

namespace sluice::loader {

// A file the loader does not hold, as found: open, matched to its feed.
struct sighting {
  std::string path;  // relative to the inbox
  bool settled = false;
  const feed_plan* feed = nullptr;
  opened_file file;
  warehouse::file_stat stat;
};

// What identity asks of sluice.files. ledger_identity() serves it from a
// connection; tests serve it from memory.
class identity_ledger {
 public:
  virtual ~identity_ledger() = default;
  [[nodiscard]] virtual std::vector<warehouse::file_matches> lookup_files(
      std::span<const warehouse::file_sighting> files) = 0;
  [[nodiscard]] virtual std::vector<warehouse::content_match> lookup_contents(
      std::span<const warehouse::content_key> keys) = 0;
  [[nodiscard]] virtual std::vector<std::optional<warehouse::prefix_match>> lookup_prefixes(
      std::span<const warehouse::prefix_key> keys) = 0;
  [[nodiscard]] virtual bool content_size_known(const std::string& feed, std::int64_t content_size) = 0;
  [[nodiscard]] virtual std::optional<warehouse::file_row> find_by_inode(const warehouse::file_stat& stat) = 0;
  [[nodiscard]] virtual std::optional<warehouse::file_row> find_row(std::int64_t id) = 0;
  [[nodiscard]] virtual std::vector<std::int64_t> claim_files(std::span<const std::int64_t> ids) = 0;
  virtual void release_files(std::span<const std::int64_t> ids) = 0;
  // The row no longer describes its file (state replaced, with why).
  virtual void retire_file(std::int64_t id, const std::string& reason) = 0;
};

// identity_ledger on a connection (warehouse/file_ledger.h); the connection
// must outlive it.
[[nodiscard]] std::unique_ptr<identity_ledger> ledger_identity(warehouse::connection& conn);

enum class verdict_kind { none, resume, fresh, duplicate, retry };

struct verdict {
  verdict_kind kind = verdict_kind::none;
  // resume: the row that goes on; duplicate: the loaded original.
  std::optional<warehouse::file_row> row;
  // fresh: its whole content's hash (when it was worth computing) and its
  // first line's (nullopt: not complete yet, or unknown).
  std::optional<std::string> whole_hash;
  std::optional<std::string> lead_hash;
  // fresh, a settled .gz judged by its content: its source, checked already
  // (byte_source.h), and the content's size.
  std::shared_ptr<byte_source> checked;
  std::uint64_t content_size = 0;
  std::string reason;  // duplicate, retry: why (for the row, the log, --once)
};

// A ledger row that goes on in another file than the one it saw.
struct continuation {
  sighting copy;
  warehouse::file_row row;
};

struct retry_request {
  std::string path;
  bool settled = false;
  std::string reason;
};

struct identity_decisions {
  std::vector<verdict> verdicts;  // one per sighting, in their order
  std::vector<continuation> continuations;
  std::vector<retry_request> retries;  // in the order decided; the last for a path wins
  std::set<std::int64_t> claimed;      // rows claimed while judging: the caller keeps or releases them
};

class identity {
 public:
  // `inbox_fd`: the inbox opened O_PATH; `inbox`: its path. `held_fd`: the
  // descriptor of the file the caller holds for a row id, or -1.
  // `hold`: how long a settled new file that starts as a renamed log is
  // held as its possible copy (copy_hold; tests shorten it).
  identity(int inbox_fd, std::filesystem::path inbox, std::function<int(std::int64_t)> held_fd,
           std::chrono::steady_clock::duration hold = copy_hold);

  // Decides about `files` (sightings of files the caller does not hold;
  // a continuation may take a sighting's descriptor out of it).
  [[nodiscard]] identity_decisions decide(std::vector<sighting>& files, identity_ledger& ledger);

  // copytruncate: the log at `truncated_path` was copied to another name in
  // its folder, then truncated in place. The copy holds what was loaded and
  // what was written after sluice's last read: a regular file at least as
  // long as what was loaded, whose bytes before that offset are the loaded
  // ones (`guard`). Of a row of which nothing was loaded yet, the copy is
  // known by the row's first line (`lead`) and holds at least what the file
  // held when the row saw it (`seen_size`).
  [[nodiscard]] std::optional<sighting> find_copy(identity_ledger& ledger, const std::string& truncated_path,
                                                  const warehouse::file_stat& truncated, std::int64_t done_bytes,
                                                  const std::string& guard, const feed_plan* feed,
                                                  const std::optional<std::string>& lead = std::nullopt,
                                                  std::int64_t seen_size = 0);

  // How long a settled new file that starts as a renamed log is held as its
  // possible copy before it is judged: the log's rest, when the log was not
  // seen again, else a file of its own.
  static constexpr auto copy_hold = std::chrono::seconds(10);

 private:
  enum class row_file { holds_it, truncated, elsewhere };
  struct content_lookups;

  void claim_suspects(std::vector<sighting>& files, std::vector<warehouse::file_sighting>& asked,
                      std::vector<warehouse::file_matches>& matches, identity_ledger& ledger,
                      identity_decisions& out);
  bool judge_known(sighting& f, const warehouse::file_matches& m, identity_ledger& ledger, identity_decisions& out,
                   std::size_t index);
  void judge_new(sighting& f, const warehouse::file_matches& m,
                 const std::map<std::pair<std::string, std::int64_t>, int>& sizes_in_group, identity_ledger& ledger,
                 verdict& d, std::size_t index, content_lookups& lookups);
  void drop_continued(const std::vector<sighting>& files, identity_decisions& out, content_lookups& lookups);
  void match_contents(std::vector<sighting>& files, identity_ledger& ledger, identity_decisions& out,
                      const content_lookups& lookups);
  void wait_for_copies(std::vector<sighting>& files, identity_ledger& ledger, identity_decisions& out);
  // The file of a row that a new file starts as: the descriptor this
  // process holds for it, or its path opened again while it still has the
  // row's inode (fd -1 when neither: busy, refused, or no inode known);
  // `elsewhere`: the path holds no file or another one.
  struct row_handle {
    unique_fd opened;
    int fd = -1;
    bool elsewhere = false;
  };
  void judge_settled_match(sighting& f, const warehouse::prefix_match& match, identity_ledger& ledger,
                           verdict& v, identity_decisions& out);
  enum class orphan { yes, no, busy };
  orphan continue_in_copy(sighting& f, const warehouse::prefix_match& match, identity_ledger& ledger,
                          identity_decisions& out);
  static bool holds_loaded_lines(const sighting& f, const warehouse::prefix_match& row);
  row_handle open_row(const warehouse::prefix_match& row);
  row_file where_is(const warehouse::prefix_match& row, const row_handle& file);
  std::optional<warehouse::file_offset> shared_start(const sighting& f, const warehouse::prefix_match& row,
                                                     int row_fd);
  orphan orphaned(const warehouse::file_row& row, const sighting& copy, identity_ledger& ledger,
                  std::set<std::int64_t>& claimed);

  int inbox_fd_;
  std::filesystem::path inbox_;
  std::function<int(std::int64_t)> held_fd_;
  std::chrono::steady_clock::duration hold_;
  // Settled new files held as the possible copy of a log renamed since its
  // row saw it, by (path, device, inode) -> since when (judge_settled_match).
  std::map<std::tuple<std::string, std::int64_t, std::int64_t>, std::chrono::steady_clock::time_point> held_copies_;
};

// Files up to this size are hashed whole when they are looked up (they are
// about to be read anyway): their lookup is one exact index probe.
constexpr std::int64_t small_file_bytes = 256 << 10;

// Whether the ledger row describes the file now at f (same inode): trusted
// when size and mtime are as at its last commit; else its loaded prefix must
// still end (and begin) with the bytes it did (same_file.cpp).
[[nodiscard]] bool same_file(const warehouse::file_row& row, const sighting& f);

// Whether the .gz file f's content begins and, before the row's offset,
// ends as the row's loaded content did (one inflate pass up to the offset).
[[nodiscard]] bool holds_loaded_content(const sighting& f, const warehouse::file_row& row);

}  // namespace sluice::loader

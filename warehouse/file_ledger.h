// The file ledger (sluice.files): every statement sluice runs on it lives in
// file_ledger.cpp, so the identity rules and the exactly-once advance can be
// read in one place.
//
// Identity (see sql/sluice/0002_ledger.sql):
// - a live file is the row with its (device, inode): renames keep the row;
// - a settled file whose whole content (feed, size, hash) equals a loaded
//   file's is a duplicate of it; never of a row still loading;
// - rows from before ledger version 2 have no inode and are found by path.
//
// Claims: a loader that works on a file holds a session-level advisory lock on
// its row (claim()), so a second sluice on the same warehouse takes other files
// or waits. A lost connection drops every claim with it: the caller must then
// forget what it knew and look again.
//
// Threading: functions take the connection to use; a connection is one
// thread's at a time. Errors: every function throws db_error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "warehouse/connection.h"

namespace sluice::warehouse {

// What fstat says of a file.
struct file_stat {
  std::int64_t device = 0;
  std::int64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  friend bool operator==(const file_stat&, const file_stat&) = default;
};

// Where a file's committed batches have brought it.
struct file_offset {
  std::int64_t bytes = 0;
  std::int64_t lines = 0;
  std::int64_t records = 0;
  std::string hash;        // XXH3-128 chain over bytes [0, bytes): each resumption hashes
                           // the previous digest, then the new bytes
  std::string guard_hash;  // XXH3-128 of the (at most) 4 KiB before `bytes`
};

struct file_row {
  std::int64_t id = 0;
  std::string feed;
  std::string path;
  std::string state;  // loading | loaded | duplicate
  file_offset done;
  std::optional<file_stat> seen;  // at the last commit; nullopt for rows older than v2
  std::string head_hash;  // XXH3-128 of the (at most) 4 KiB at the start of what was loaded ("" if unknown)
  std::optional<std::int64_t> content_size;
  std::optional<std::string> content_hash;
  std::optional<std::string> lead_hash;  // of its first line, when known
};

// One file as the loader found it.
struct file_sighting {
  std::string feed;
  std::string path;  // relative to the inbox
  file_stat stat;
  // Ask whether a row of the feed has a settled content of this size (worth
  // hashing a large file for). Small files are hashed anyway and skip it.
  bool check_size = false;
};

// What the ledger knows that bears on one sighting.
struct file_matches {
  // The newest row with the same (device, inode): active, or replaced (its
  // path was taken by another file, but it may live on under another name).
  std::optional<file_row> by_inode;
  std::optional<file_row> by_path;  // the newest active row at the path
  bool size_known = false;  // check_size: a loading/loaded row of the feed has content_size == size
};

// One query for many sightings; the result is in the same order.
[[nodiscard]] std::vector<file_matches> lookup_files(connection& conn,
                                                     std::span<const file_sighting> files);

// The active row of any feed whose file has this (device, inode): a file
// renamed to a name no feed takes (a rotated log) is still followed.
[[nodiscard]] std::optional<file_row> find_by_inode(connection& conn, const file_stat& stat);

// The row `id`, whatever its state; nullopt when there is none.
[[nodiscard]] std::optional<file_row> find_row(connection& conn, std::int64_t id);

// Whole-content matches: for each (feed, size, hash), the loaded row with that
// content (nullopt if none) and whether a row still loading has it.
struct content_key {
  std::string feed;
  std::int64_t size = 0;
  std::string hash;
};
struct content_match {
  std::optional<file_row> loaded;
  // A row still loading has this content, or has this size and a hash not
  // known yet: wait until it is loaded, then look again (unless its file is
  // gone: then this copy finishes it).
  std::optional<file_row> in_progress;
};
[[nodiscard]] std::vector<content_match> lookup_contents(connection& conn,
                                                         std::span<const content_key> keys);

// Serialises identity decisions between every sluice on the warehouse for the
// rest of the caller's transaction (lookups, then inserts, then commit).
void lock_identity(connection& conn);

// Whether a row of `feed`, loading or loaded, holds a settled content of
// `content_size` bytes (worth hashing a large file's content for).
[[nodiscard]] bool content_size_known(connection& conn, const std::string& feed, std::int64_t content_size);

// A new row in state loading. content_size: the size of its content when it
// is settled (a .gz: decompressed; nullopt for a growing log); content_hash: its whole hash when it was
// computed; lead_hash: the hash of its first line (nullopt: not known, a
// compressed file). Returns the id.
std::int64_t insert_loading(connection& conn, const file_sighting& file,
                            std::optional<std::int64_t> content_size,
                            const std::optional<std::string>& content_hash,
                            const std::optional<std::string>& lead_hash);

// Prefix matches for files seen while they are written: a row of the feed
// whose file starts with the same bytes (head: the hash of the first 4 KiB,
// for a file of at least that; else lead: the hash of its first line) and is
// loading (a growing log: its file may have grown past what the row says; a
// copy of it is what copytruncate makes) or loaded and at least `size` long.
// A file of 4 KiB or more also matches by its first line a row that has not
// committed 4 KiB yet (its head_hash, kept at each commit, does not cover
// them yet): a copy made as soon as its original was dropped in.
// nullopt when there is none.
struct prefix_key {
  std::string feed;
  std::int64_t size = 0;
  std::string head;  // set when size >= 4 KiB
  std::string lead;  // the hash of its first line
};
struct prefix_match {
  std::int64_t id = 0;
  std::string path;
  std::int64_t size = 0;  // the longest that row's file is known to be
  bool loading = false;   // state loading (else loaded)
  std::int64_t bytes_done = 0;
  std::optional<std::pair<std::int64_t, std::int64_t>> inode;  // (device, inode) last seen
  std::string guard_hash;  // of the 4 KiB before bytes_done
};
[[nodiscard]] std::vector<std::optional<prefix_match>> lookup_prefixes(connection& conn,
                                                                       std::span<const prefix_key> keys);

// A new row in state duplicate: `file` holds exactly the content of `original`
// (its records stay under the original's id; what a later append adds is
// loaded under this row). Returns the id.
std::int64_t insert_duplicate(connection& conn, const file_sighting& file, const file_row& original,
                              const std::string& reason);

// A new row in state refused (never read: not a regular file, unreadable),
// unless the path's newest row is already refused for the same reason.
// Returns the id, or nullopt when it was there already.
std::optional<std::int64_t> insert_refused(connection& conn, const std::string& feed,
                                           const std::string& path, const std::string& reason);

// The row's file is now at `path` (a rename) with `stat`; a replaced row is
// active again.
void move_file(connection& conn, std::int64_t id, const std::string& path, const file_stat& stat);
// The row no longer describes its file (rewritten in place, or gone).
void retire_file(connection& conn, std::int64_t id, const std::string& state, const std::string& reason);
// Says in a loading row's reason why it is not loaded ("not loaded: " and
// `reason`: a batch the server refused for good); the next advance of the
// row clears it.
void note_file_failure(connection& conn, std::int64_t id, const std::string& reason);
// The feed, among `feeds`, of the newest live row (loading, loaded,
// duplicate) of this file: by (device, inode), else by path. nullopt when
// none has one. For a path that several feeds take: it stays in its row's.
std::optional<std::string> feed_of_file(connection& conn, const std::string& path, const file_stat& stat,
                                        const std::vector<std::string>& feeds);
// A duplicate that grew: it now loads what follows the original's content.
void reopen_duplicate(connection& conn, std::int64_t id);

// `sluice reload`: the row to load again, found by id or by path (the newest
// row at the path that is not retired), with what stands in the way.
struct reload_target {
  file_row row;
  std::optional<std::int64_t> duplicate_of;  // a duplicate: reload that one instead
  std::optional<std::int64_t> reloading;     // a reload of it not finished yet: its row
};
[[nodiscard]] std::optional<reload_target> find_reload_target(connection& conn, std::optional<std::int64_t> id,
                                                              const std::optional<std::string>& path);
// A new row in state loading at byte 0 for the file of `old` as it is now
// (`stat`), which reloads it (reload_of; first_seen_at kept: packs date
// exports by it). Its first batch's transaction removes what `old` loaded
// (sluice.finish_reload). Returns the id.
std::int64_t insert_reload(connection& conn, const file_row& old, const file_stat& stat);

// Session-level claims on rows; returns the ids that this session now holds.
[[nodiscard]] std::vector<std::int64_t> claim_files(connection& conn, std::span<const std::int64_t> ids);
void release_files(connection& conn, std::span<const std::int64_t> ids);

// One batch's advance of one file, applied inside the batch's transaction.
struct file_advance {
  std::int64_t id = 0;
  std::int64_t from_bytes = 0;
  std::string from_hash;
  file_offset to;
  file_stat seen;
  std::string head_hash;  // of the (at most) 4 KiB at the start of [0, to.bytes)
  std::int64_t loaded = 0;
  std::int64_t rejected = 0;
  bool complete = false;  // state loaded (read to its end once it had settled)
  // With complete: the whole file's hash when `to.hash` is not it (a resumed
  // file's done_hash chains from the digest it resumed at, a compressed file's
  // content is not the file).
  std::optional<std::string> content_hash;
  // For a file whose offsets count decompressed content: its own size now,
  // which content_size counts (nullopt: to.bytes is that position).
  std::optional<std::int64_t> file_bytes;
  // With complete: why the file is not loaded completely although read to its
  // end (a damaged gzip member), for the row's reason.
  std::optional<std::string> reason;
};

enum class advance_outcome {
  advanced,         // the row was at from_bytes and now is at to
  already_applied,  // the row is at `to` already: an earlier attempt committed
  elsewhere,        // the row is somewhere else: not this batch's turn, or taken by another
};

// Locks the rows (in id order) and advances each that is where its batch
// starts and is live (loading or loaded: a retired row is elsewhere). One
// round trip for all of them.
[[nodiscard]] std::vector<advance_outcome> advance_files(connection& conn,
                                                         std::span<const file_advance> advances);

}  // namespace sluice::warehouse

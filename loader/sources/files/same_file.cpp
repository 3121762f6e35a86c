#include "loader/sources/files/identity.h"

#include <algorithm>

#include "loader/bytes/content_hash.h"

namespace sluice::loader {

bool holds_loaded_content(const sighting& f, const warehouse::file_row& row) {
  auto done = static_cast<std::uint64_t>(row.done.bytes);
  auto source = make_gzip_source(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size), guard_bytes);
  // Offsets past a lost part are those of a checked source (byte_source.h).
  source->check_integrity();
  if (!row.head_hash.empty()) {
    auto head = read_content(*source, 0, std::min<std::uint64_t>(done, guard_bytes));
    if (content_hash::of(head) != row.head_hash) return false;
  }
  return content_guard_of(*source, done) == row.done.guard_hash;
}

// Whether the ledger row describes the file now at f (same inode): trusted
// when size and mtime are as at its last commit; else its loaded prefix must
// still end with the bytes it ended with.
bool same_file(const warehouse::file_row& row, const sighting& f) {
  if (row.seen && *row.seen == f.stat) return true;
  if (row.done.bytes == 0) {
    // Nothing of it loaded yet: the same file unless it shrank since, or
    // starts with another first line now (truncated and written again: a
    // copy elsewhere may hold what it had, see find_copy).
    if (row.seen && f.stat.size < row.seen->size) return false;
    if (row.lead_hash && !is_gzip_path(f.path)) {
      auto now = lead_hash_of(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
      if (now && *now != *row.lead_hash) return false;
    }
    return true;
  }
  if (is_gzip_path(f.path)) {
    // Offsets count content: inflate up to the loaded offset (as resuming
    // will) and compare the content at its start and before it; a small file
    // known by its whole content is compared whole (its own bytes). Its own
    // size says nothing here: compressed again, a file holding the loaded
    // content and more may be smaller than it was.
    if (!holds_loaded_content(f, row)) return false;
    if (row.content_hash && row.content_size && f.stat.size <= small_file_bytes) {
      // (Content of another size that holds the loaded content: it grew.)
      auto source = make_gzip_source(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
      if (static_cast<std::int64_t>(source->check_integrity()) != *row.content_size) return true;
      return content_digest(*source).hex() == *row.content_hash;
    }
    return true;
  }
  if (f.stat.size < row.done.bytes) return false;
  if (row.done.guard_hash.empty()) {
    auto prefix = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(row.done.bytes));
    return prefix && prefix->hex() == row.done.hash;
  }
  // Touched since its last commit: the bytes before the offset must still
  // end, and begin, as they did; a small file known by its whole content is
  // compared whole (a rewrite in place of the same length changes nothing
  // else that could be seen without reading).
  auto done = static_cast<std::uint64_t>(row.done.bytes);
  if (guard_hash_of(f.file.fd.get(), done) != row.done.guard_hash) return false;
  if (!row.head_hash.empty() && head_hash_of(f.file.fd.get(), done) != row.head_hash) return false;
  if (row.content_hash && row.content_size == f.stat.size && f.stat.size <= small_file_bytes) {
    auto whole = hash_prefix(f.file.fd.get(), static_cast<std::uint64_t>(f.stat.size));
    return whole && whole->hex() == *row.content_hash;
  }
  return true;
}

}  // namespace sluice::loader

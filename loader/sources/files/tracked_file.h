// A file the loader holds: open, claimed, with its batches in flight. The
// loader's thread reads and writes it; batches share its descriptor (and
// keep it open after the file is let go) through `fd`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "loader/bytes/byte_source.h"
#include "loader/bytes/content_hash.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_reader.h"
#include "loader/formats/registry.h"
#include "loader/sources/files/file_access.h"
#include "warehouse/file_ledger.h"

namespace sluice::loader {

struct tracked_file {
  std::int64_t id = 0;
  const feed_plan* feed = nullptr;
  std::string path;
  std::shared_ptr<const unique_fd> fd;
  // Its content: the file's bytes, or a .gz file's inflated content (kept open
  // while it is tracked, so that a growing .gz is inflated once).
  std::shared_ptr<byte_source> source;
  bool compressed = false;
  std::uint64_t raw_read = 0;  // compressed: the file's size when it was last read
  std::string raw_guard;       // compressed: guard hash of its own bytes before raw_read
  std::uint64_t checked_size = 0;  // compressed: the size check_integrity() last saw
  std::string content_head;  // compressed: the first (at most) 4 KiB of content, for head_hash
  std::string damage;        // read to its end, but parts of it were lost (a damaged .gz): which
  std::optional<header_row> header;  // a format with a header row (csv): once read
  bool header_problem_told = false;
  warehouse::file_stat stat;
  position at;  // after the last batch handed to the committer
  content_hash hash;
  // What the ledger row says once the batches handed over commit: where the
  // next checkpoint starts ("" and 0 for a new row, before a BOM is skipped).
  std::uint64_t ledger_bytes = 0;
  std::string ledger_hash;
  std::string guard;  // guard hash at ledger_bytes
  const input_format* format = nullptr;  // told by the feed, or by the file's head for "auto"
  bool whole = true;  // `hash` covers the file from byte 0 (not a chain from a resumed digest)
  bool settled = false;
  bool complete = false;  // read to its end once settled (as far as queued batches go)
  bool failed = false;
  std::string key;  // the committer's source key
  std::uint64_t next_seq = 0;
  int in_flight = 0;
  std::uint64_t first_record = 1;  // where this loader started in it (for log lines)
  std::uint64_t loaded = 0;         // committed by this loader since then
  std::uint64_t rejected = 0;
  std::uint64_t reported = 0;       // records already told in a log line
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
};

}  // namespace sluice::loader

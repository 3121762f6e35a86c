// Reading files beneath the inbox, and the hashes that tell one file's
// content from another's: what the file source knows of POSIX.
//
// - open_beneath() opens a path relative to the inbox and refuses what sluice
//   never reads (a symbolic link anywhere on the path, a FIFO, a device);
// - the hashes (content_hash, XXH3-128) are over fixed windows that the file
//   ledger keeps per row: the 4 KiB before a checkpoint (guard), the 4 KiB at
//   the start (head), the first line (lead), or a whole prefix.
//
// Threading: free functions on descriptors; pread() only, so several threads
// may read one descriptor. Errors: a short read is a value ("" or nullopt, as
// each function says), never an exception.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "loader/bytes/byte_source.h"
#include "loader/bytes/content_hash.h"
#include "warehouse/file_ledger.h"

namespace sluice::loader {

constexpr std::size_t guard_bytes = 4096;  // what proves a grown file is the same

// Owns a file descriptor: closed once, moved not copied.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  void reset();
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

[[nodiscard]] warehouse::file_stat stat_of(const struct stat& st);

// A file opened beneath the inbox, or why it could not be.
struct opened_file {
  unique_fd fd;
  struct stat st {};
  bool gone = false;     // no such file (any more): nothing to say
  bool busy = false;     // the process (or system) is out of descriptors or memory: try again later
  std::string refusal;   // not gone, but never to be read: why (or, when busy, why not now)
};

// Opens `path` (relative) beneath the directory `inbox_fd`, never following a
// link, and says why not.
[[nodiscard]] opened_file open_beneath(int inbox_fd, const std::string& path);

// Whether the file open as `fd` has a name inside `inbox` now (its name as
// /proc/self/fd tells it, for its first link).
[[nodiscard]] bool inside_inbox(int fd, const std::filesystem::path& inbox);

// Bytes [from, to) of the file; fewer when it is shorter.
[[nodiscard]] std::string read_range(int fd, std::uint64_t from, std::uint64_t to);

// Hash of the (at most) guard_bytes before `end`; "" when the file is shorter.
[[nodiscard]] std::string guard_hash_of(int fd, std::uint64_t end);

// Hash of the (at most) guard_bytes at the start of [0, end).
[[nodiscard]] std::string head_hash_of(int fd, std::uint64_t end);

// Hash of a file's first line (through its line break, at most guard_bytes),
// given its first `bytes` of content (at most guard_bytes): what a copy being
// written shares with its original from its first line on. nullopt while
// those bytes hold no line break and are fewer than guard_bytes (its first
// line may still grow).
[[nodiscard]] std::optional<std::string> lead_hash_in(std::string bytes);

// lead_hash_in() of a plain file `size` bytes long, read from `fd`.
[[nodiscard]] std::optional<std::string> lead_hash_of(int fd, std::uint64_t size);

// Hash of bytes [0, length), or nullopt when the file is shorter. When
// `line_breaks` is given, it is set to the number of '\n' among them.
[[nodiscard]] std::optional<content_hash> hash_prefix(int fd, std::uint64_t length,
                                                      std::uint64_t* line_breaks = nullptr);

// Hash of the (at most) guard_bytes of content before `end`, read through a
// compressed file's source (which still holds them: see byte_source.h).
[[nodiscard]] std::string content_guard_of(byte_source& source, std::uint64_t end);

// The hash of a source's whole content (a .gz: streamed, inflated as it is
// read; its lost parts as byte_source.h says).
[[nodiscard]] content_hash content_digest(byte_source& source);

// What was lost of a source's content before `end` (damaged gzip members), in
// words; "" when nothing was.
[[nodiscard]] std::string lost_summary(const byte_source& source, std::uint64_t end);

}  // namespace sluice::loader

#include "loader/sources/files/file_access.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace sluice::loader {

using warehouse::file_stat;

void unique_fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

file_stat stat_of(const struct stat& st) {
  return {static_cast<std::int64_t>(st.st_dev), static_cast<std::int64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

opened_file open_beneath(int inbox_fd, const std::string& path) {
  opened_file out;
  open_how how{};
  how.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, inbox_fd, path.c_str(), &how, sizeof how));
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      out.gone = true;
    } else if (error == ELOOP || error == EXDEV) {
      out.refusal = "is a symbolic link (or lies under one); sluice reads only regular files inside the"
                    " inbox and never follows links";
    } else if (error == EACCES || error == EPERM) {
      out.refusal = "cannot be read: permission denied (give the user sluice runs as read access)";
    } else {
      // Out of descriptors or memory passes (batches in flight let go of
      // theirs): not the file's fault, so not a refusal.
      out.busy = error == EMFILE || error == ENFILE || error == ENOMEM;
      out.refusal = std::string("cannot be opened: ") + std::strerror(error);
    }
    return out;
  }
  out.fd = unique_fd(fd);
  if (::fstat(fd, &out.st) != 0) {
    out.refusal = std::string("cannot be examined: ") + std::strerror(errno);
  } else if (!S_ISREG(out.st.st_mode)) {
    out.refusal = S_ISFIFO(out.st.st_mode) ? "is a FIFO (named pipe), not a regular file; not read"
                                           : "is not a regular file; not read";
  }
  return out;
}

std::string read_range(int fd, std::uint64_t from, std::uint64_t to) {
  std::string out(to - from, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    auto n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

// Hash of the (at most) guard_bytes before `end`; "" when the file is shorter.
std::string guard_hash_of(int fd, std::uint64_t end) {
  auto from = end > guard_bytes ? end - guard_bytes : 0;
  auto bytes = read_range(fd, from, end);
  if (bytes.size() != end - from) return "";
  return content_hash::of(bytes);
}

// Hash of the (at most) guard_bytes at the start of [0, end).
std::string head_hash_of(int fd, std::uint64_t end) {
  auto bytes = read_range(fd, 0, std::min<std::uint64_t>(end, guard_bytes));
  return content_hash::of(bytes);
}

// Hash of a file's first line (through its line break, at most guard_bytes),
// given its first `bytes` of content (at most guard_bytes): what a copy being
// written shares with its original from its first line on. nullopt while
// those bytes hold no line break and are fewer than guard_bytes (its first
// line may still grow).
std::optional<std::string> lead_hash_in(std::string bytes) {
  if (auto newline = bytes.find('\n'); newline != std::string::npos) bytes.resize(newline + 1);
  else if (bytes.size() < guard_bytes) return std::nullopt;
  return content_hash::of(bytes);
}

// lead_hash_in() of a plain file `size` bytes long, read from `fd`.
std::optional<std::string> lead_hash_of(int fd, std::uint64_t size) {
  return lead_hash_in(read_range(fd, 0, std::min<std::uint64_t>(size, guard_bytes)));
}

// Hash of bytes [0, length), or nullopt when the file is shorter.
std::optional<content_hash> hash_prefix(int fd, std::uint64_t length, std::uint64_t* line_breaks) {
  content_hash hash;
  if (line_breaks) *line_breaks = 0;
  // (No bigger than the prefix: most files hashed are small, and a 1 MiB
  // buffer zeroed for each is most of the cost.)
  std::vector<char> chunk(static_cast<std::size_t>(std::clamp<std::uint64_t>(length, 1, 1 << 20)));
  std::uint64_t at = 0;
  while (at < length) {
    auto want = std::min<std::uint64_t>(chunk.size(), length - at);
    auto n = ::pread(fd, chunk.data(), static_cast<std::size_t>(want), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    hash.update({chunk.data(), static_cast<std::size_t>(n)});
    if (line_breaks) *line_breaks += static_cast<std::uint64_t>(std::count(chunk.data(), chunk.data() + n, '\n'));
    at += static_cast<std::uint64_t>(n);
  }
  return hash;
}

// Hash of the (at most) guard_bytes of content before `end`, read through a
// compressed file's source (which still holds them: see byte_source.h).
std::string content_guard_of(byte_source& source, std::uint64_t end) {
  auto from = end > guard_bytes ? end - guard_bytes : 0;
  auto bytes = read_content(source, from, end);
  if (bytes.size() != end - from) return "";
  return content_hash::of(bytes);
}

// The hash of a source's whole content (a .gz: streamed, inflated as it is
// read; its lost parts as byte_source.h says).
content_hash content_digest(byte_source& source) {
  content_hash hash;
  std::vector<char> chunk(1 << 20);
  std::uint64_t at = 0;
  while (auto n = source.read(chunk.data(), chunk.size(), at)) {
    hash.update({chunk.data(), n});
    at += n;
  }
  return hash;
}

// What was lost of a source's content before `end` (damaged gzip members), in
// words; "" when nothing was.
std::string lost_summary(const byte_source& source, std::uint64_t end) {
  auto first = source.lost_from(0);
  if (!first || first->at >= end) return "";
  std::size_t more = 0;
  for (auto next = source.lost_from(first->at + 1); next && next->at < end; next = source.lost_from(next->at + 1)) ++more;
  return first->describe() + (more == 0 ? "" : " (and " + std::to_string(more) + " more lost part" + (more == 1 ? "" : "s") + ", each a reject)");
}


bool inside_inbox(int fd, const std::filesystem::path& inbox_path) {
  std::error_code ec;
  auto now = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
  if (ec) return false;
  auto inbox = std::filesystem::weakly_canonical(inbox_path, ec);
  if (ec) return false;
  auto rel = now.lexically_relative(inbox);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace sluice::loader

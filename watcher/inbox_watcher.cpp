#include "watcher/inbox_watcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "watcher/logger.h"
#include "watcher/inotify_buffer.h"
#include "watcher/tree.h"

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace sluice::watcher {

namespace {

// IN_CREATE is only for noticing new directories; IN_MOVED_FROM and IN_DELETE let
// us drop files (and directories) that leave before they settle. IN_ONLYDIR closes
// the race where a directory is replaced by a file before the watch is added.
constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_MODIFY |
                                     IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_ONLYDIR | IN_EXCL_UNLINK;

// Room for many events per read(); one event is at most sizeof(inotify_event) +
// NAME_MAX + 1 bytes, so a read never fails with EINVAL.
constexpr std::size_t read_buffer_size = 64 * 1024;
// Reads per readiness notification before yielding to other handlers, so a storm
// of events cannot starve timers.
constexpr int max_reads_per_turn = 16;

bool is_regular(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(path, ec));
}

bool starts_with_dot(std::string_view name) { return !name.empty() && name.front() == '.'; }

// Whether some process holds `path` open for writing, as the kernel tells it:
// a read lease (fcntl F_SETLEASE) is refused with EAGAIN exactly then. The
// lease is given back at once. A writer that opens the file meanwhile breaks
// it, which signals the lease's owner: SIGURG (ignored by default), not
// SIGIO (which would end the process). nullopt when leases are not ours to
// take: another user's file without CAP_LEASE, or a file system without them.
std::optional<bool> open_for_writing(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  std::optional<bool> answer;
  if (::fcntl(fd, F_SETSIG, SIGURG) == 0 && ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
    answer = false;
    ::fcntl(fd, F_SETLEASE, F_UNLCK);
  } else if (errno == EAGAIN) {
    answer = true;
  }
  ::close(fd);
  return answer;
}

}  // namespace

struct inbox_watcher::impl {
  // One pending `settled` report. `generation` tells a stale timer completion
  // (already queued when the timer was re-armed) from the current one.
  struct settling_file {
    explicit settling_file(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::uint64_t generation = 0;
  };

  impl(asio::io_context& io_context, watcher_options opts, handler on_change_handler)
      : io(io_context),
        options(std::move(opts)),
        on_change(std::make_shared<const handler>(std::move(on_change_handler))),
        log(detail::logger()),
        inotify(io_context) {
    if (!*on_change) {
      throw std::invalid_argument("inbox_watcher for " + options.inbox.string() +
                                  " needs a handler");
    }
    open_inotify();
  }

  asio::io_context& io;
  const watcher_options options;
  // Shared so a handler that destroys the watcher does not destroy itself mid-call.
  const std::shared_ptr<const handler> on_change;
  const std::shared_ptr<spdlog::logger> log;
  asio::posix::stream_descriptor inotify;
  // Watch descriptor -> directory relative to the inbox ("" is the inbox).
  std::unordered_map<int, std::string> dir_of_watch;
  std::unordered_map<std::string, std::unique_ptr<settling_file>> settling;
  std::unordered_set<std::string> grown_queued;
  // Non-null while started. Every completion handler holds a weak_ptr and does
  // nothing once it has expired: that is how stop() keeps its promise for
  // handlers Asio has already queued, and how they survive the watcher's death.
  std::shared_ptr<int> alive;
  std::uint64_t next_generation = 0;
  alignas(inotify_event) std::array<std::byte, read_buffer_size> buffer{};
  std::vector<detail::inotify_record> records;

  std::string inbox_string() const { return options.inbox.string(); }
  fs::path full_path(const std::string& rel) const {
    return rel.empty() ? options.inbox : options.inbox / rel;
  }

  void open_inotify() {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      throw std::system_error(errno, std::system_category(),
                              "cannot set up inotify for inbox " + inbox_string() +
                                  " (raise fs.inotify.max_user_instances if at its limit)");
    }
    inotify.assign(fd);
  }

  void start() {
    if (alive) {
      return;
    }
    if (!inotify.is_open()) {
      open_inotify();
    }
    const int root_wd = ::inotify_add_watch(inotify.native_handle(), options.inbox.c_str(),
                                            watch_mask);
    if (root_wd < 0) {
      throw std::system_error(errno, std::system_category(),
                              "cannot watch inbox " + inbox_string());
    }
    alive = std::make_shared<int>(0);
    dir_of_watch[root_wd] = "";
    try {
      scan("", /*throw_on_start_error=*/true);
    } catch (...) {
      stop();
      throw;
    }
    wait_for_events();
    log->info("watching inbox {} ({} directories, settle {} ms)", inbox_string(),
              dir_of_watch.size(), options.settle.count());
  }

  void stop() {
    if (!alive) {
      return;
    }
    alive.reset();
    // Closing the descriptor removes every watch and aborts the pending wait.
    boost::system::error_code ignored;
    inotify.close(ignored);
    dir_of_watch.clear();
    settling.clear();  // destroying a timer cancels it
    grown_queued.clear();
    log->info("stopped watching inbox {}", inbox_string());
  }

  // Adds watches for every directory below `rel_dir` and arms `settled` for every
  // candidate file, measured from its mtime. The caller has watched rel_dir itself
  // already, so nothing written from now on is missed.
  void scan(const std::string& rel_dir, bool throw_on_start_error) {
    detail::walk_tree(
        options.inbox, rel_dir, throw_on_start_error,
        [this](const std::string& rel) { add_watch(rel); },
        [this](const std::string& rel) { arm_settle_from_mtime(rel); });
  }

  bool add_watch(const std::string& rel) {
    const fs::path path = full_path(rel);
    const int wd = ::inotify_add_watch(inotify.native_handle(), path.c_str(), watch_mask);
    if (wd < 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        log->debug("directory {} vanished before it could be watched", path.string());
      } else if (err == ENOSPC) {
        log->warn("cannot watch directory {}: out of inotify watches; raise "
                  "fs.inotify.max_user_watches. Files there are found only by rescans",
                  path.string());
      } else {
        log->warn("cannot watch directory {}: {}; skipped", path.string(),
                  std::system_category().message(err));
      }
      return false;
    }
    // A directory renamed within the inbox keeps its inode and so its wd: the
    // assignment moves the wd to the new name.
    dir_of_watch[wd] = rel;
    log->debug("watching directory {}", path.string());
    return true;
  }

  // A directory that left (or was renamed): stop watching it and everything below,
  // and drop its files' pending reports. If it reappears inside the inbox,
  // IN_MOVED_TO adds it back with fresh watches and a scan.
  void forget_tree(const std::string& rel_dir) {
    const std::string prefix = rel_dir + "/";
    for (auto it = dir_of_watch.begin(); it != dir_of_watch.end();) {
      if (it->second == rel_dir || it->second.starts_with(prefix)) {
        ::inotify_rm_watch(inotify.native_handle(), it->first);
        it = dir_of_watch.erase(it);
      } else {
        ++it;
      }
    }
    std::erase_if(settling, [&prefix](const auto& entry) { return entry.first.starts_with(prefix); });
    log->debug("stopped watching directory {}", full_path(rel_dir).string());
  }

  void wait_for_events() {
    inotify.async_wait(asio::posix::descriptor_base::wait_read,
                       [this, token = std::weak_ptr<int>(alive)](boost::system::error_code ec) {
                         if (token.expired()) {
                           return;
                         }
                         if (ec) {
                           log->error("waiting for inotify events on inbox {} failed: {}; "
                                      "no more changes will be noticed",
                                      inbox_string(), ec.message());
                           return;
                         }
                         if (drain_events()) {
                           wait_for_events();
                         }
                       });
  }

  // Reads with ::read on the non-blocking descriptor rather than async_read_some:
  // one readiness notification drains several reads, and no buffer has to outlive
  // the watcher while an operation is pending. Returns false on a fatal error.
  bool drain_events() {
    for (int read_idx = 0; read_idx < max_reads_per_turn; ++read_idx) {
      const ssize_t got = ::read(inotify.native_handle(), buffer.data(), buffer.size());
      if (got < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return true;
        }
        log->error("reading inotify events for inbox {} failed: {}; no more changes will be "
                   "noticed",
                   inbox_string(), std::system_category().message(errno));
        return false;
      }
      const auto bytes = std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(got));
      records.clear();
      if (detail::parse_inotify_buffer(bytes, records) != bytes.size()) {
        log->error("inotify returned a truncated event for inbox {}; rescanning", inbox_string());
        rescan();
      }
      for (const auto& record : records) {
        handle(record);
      }
    }
    return true;
  }

  void handle(const detail::inotify_record& record) {
    if ((record.mask & IN_Q_OVERFLOW) != 0) {
      log->warn("inotify queue overflowed for inbox {}; rescanning everything (raise "
                "fs.inotify.max_queued_events if this recurs)",
                inbox_string());
      rescan();
      return;
    }
    const auto dir_it = dir_of_watch.find(record.wd);
    if (dir_it == dir_of_watch.end()) {
      return;  // a watch we already removed; its last events are still queued
    }
    const std::string rel_dir = dir_it->second;
    if ((record.mask & IN_IGNORED) != 0) {
      dir_of_watch.erase(dir_it);
      if (rel_dir.empty()) {
        log->error("inbox {} was removed; no more changes will be noticed", inbox_string());
      }
      return;
    }
    if ((record.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
      if (rel_dir.empty()) {
        log->error("inbox {} was deleted or moved away; no more changes will be noticed",
                   inbox_string());
      } else if ((record.mask & IN_MOVE_SELF) != 0) {
        // Normally the parent's IN_MOVED_FROM has removed this watch already.
        forget_tree(rel_dir);
      }
      return;  // after IN_DELETE_SELF the kernel sends IN_IGNORED
    }
    if (record.name.empty()) {
      return;
    }
    const std::string rel = detail::join_relative(rel_dir, record.name);
    if ((record.mask & IN_ISDIR) != 0) {
      if ((record.mask & (IN_CREATE | IN_MOVED_TO)) != 0 && !starts_with_dot(record.name)) {
        // Files may have landed before the watch existed: watch first, then scan.
        if (add_watch(rel)) {
          scan(rel, /*throw_on_start_error=*/false);
        }
      } else if ((record.mask & IN_MOVED_FROM) != 0) {
        forget_tree(rel);
      }
      return;
    }
    if (!is_candidate(rel)) {
      return;
    }
    if ((record.mask & IN_MODIFY) != 0) {
      queue_grown(rel);
    }
    if ((record.mask & IN_MOVED_TO) != 0 && open_for_writing(full_path(rel)) == false) {
      // Moved in whole (written elsewhere, then renamed in): no one writes it,
      // so it has settled now, reported in order with the reports before and
      // after it (a cp of it begun at once is seen after it, as a copy).
      settle_now(rel);
    } else if ((record.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) {
      arm_settle(rel, options.settle);
    }
    if ((record.mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
      settling.erase(rel);
    }
  }

  void rescan() {
    const int root_wd =
        ::inotify_add_watch(inotify.native_handle(), options.inbox.c_str(), watch_mask);
    if (root_wd < 0) {
      log->error("cannot watch inbox {} again: {}", inbox_string(),
                 std::system_category().message(errno));
      return;
    }
    dir_of_watch[root_wd] = "";
    scan("", /*throw_on_start_error=*/false);
  }

  void queue_grown(const std::string& rel) {
    if (settling.contains(rel)) {
      arm_settle(rel, options.settle);  // a write restarts the quiet period
    }
    if (!grown_queued.insert(rel).second) {
      return;  // one queued report covers every write until it runs
    }
    asio::post(io, [this, token = std::weak_ptr<int>(alive), rel] {
      if (token.expired()) {
        return;
      }
      grown_queued.erase(rel);
      if (!is_regular(full_path(rel))) {
        return;  // e.g. a FIFO, or already gone
      }
      log->debug("file {} grew", full_path(rel).string());
      const auto call = on_change;  // the handler may destroy *this
      (*call)(file_event{rel, change::grown});
    });
  }

  void arm_settle_from_mtime(const std::string& rel) {
    std::error_code ec;
    const auto mtime = fs::last_write_time(full_path(rel), ec);
    if (ec) {
      return;  // gone already
    }
    const auto age = fs::file_time_type::clock::now() - mtime;
    if (age < std::chrono::nanoseconds::zero()) {
      arm_settle(rel, options.settle);  // mtime in the future: wait the full period
    } else if (age >= options.settle) {
      arm_settle(rel, std::chrono::milliseconds::zero());
    } else {
      arm_settle(rel, std::chrono::ceil<std::chrono::milliseconds>(options.settle - age));
    }
  }

  void arm_settle(const std::string& rel, std::chrono::milliseconds delay) {
    auto& slot = settling[rel];
    if (!slot) {
      slot = std::make_unique<settling_file>(io);
    }
    const std::uint64_t generation = ++next_generation;
    slot->generation = generation;
    slot->timer.expires_after(delay);  // cancels a wait that has not completed yet
    slot->timer.async_wait(
        [this, token = std::weak_ptr<int>(alive), rel, generation](boost::system::error_code ec) {
          if (ec || token.expired()) {
            return;
          }
          const auto it = settling.find(rel);
          if (it == settling.end() || it->second->generation != generation) {
            return;  // re-armed or dropped after this completion was queued
          }
          settle_due(rel);
        });
  }

  void settle_now(const std::string& rel) {
    settling.erase(rel);  // a report pending from before the move is stale
    asio::post(io, [this, token = std::weak_ptr<int>(alive), rel] {
      if (token.expired() || settling.contains(rel)) {
        return;  // stopped, or written since: the quiet period reports it
      }
      if (!is_regular(full_path(rel))) {
        return;
      }
      log->debug("file {} moved in and not open for writing: settled", full_path(rel).string());
      const auto call = on_change;  // the handler may destroy *this
      (*call)(file_event{rel, change::settled});
    });
  }

  void settle_due(const std::string& rel) {
    const fs::path path = full_path(rel);
    if (!is_regular(path)) {
      settling.erase(rel);
      log->debug("file {} is gone or no longer a regular file; not reported", path.string());
      return;
    }
    // A write we were not told about (mmap, or lost in an overflow) still counts.
    std::error_code ec;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(path, ec);
    if (!ec && age >= std::chrono::nanoseconds::zero() && age < options.settle) {
      arm_settle(rel, std::chrono::ceil<std::chrono::milliseconds>(options.settle - age));
      return;
    }
    if (open_for_writing(path) == true) {
      // Quiet, but a writer still holds it (one that pauses inside a document,
      // seen at start-up or after its close was missed): it settles once that
      // writer closes it (IN_CLOSE_WRITE arms it again). What it holds so far
      // is reported as grown, for the complete lines in it.
      settling.erase(rel);
      log->debug("file {} is quiet but still open for writing: it settles once closed", path.string());
      queue_grown(rel);
      return;
    }
    settling.erase(rel);  // destroys the timer whose completion this is: allowed by Asio
    log->debug("file {} settled", path.string());
    const auto call = on_change;  // the handler may destroy *this
    (*call)(file_event{rel, change::settled});
  }
};

inbox_watcher::inbox_watcher(asio::io_context& io, watcher_options options, handler on_change)
    : impl_(std::make_unique<impl>(io, std::move(options), std::move(on_change))) {}

inbox_watcher::~inbox_watcher() { impl_->stop(); }

void inbox_watcher::start() { impl_->start(); }

void inbox_watcher::stop() { impl_->stop(); }

}  // namespace sluice::watcher

// sluice::watcher — notices new and growing files under the inbox.
//
// Contract:
// - Paths reported are relative to the inbox, with '/' separators.
// - A file is a *candidate* unless its name (any path component) starts with '.'
//   or it ends in ".tmp" or ".part" (writers use those while a file is not done).
//   The suffix test is case-sensitive. Only regular files are reported; symbolic
//   links are not followed (neither to files nor to directories).
// - Two kinds of change are reported:
//     change::grown    bytes were appended (IN_MODIFY). Whatever ends in a newline
//                      is final in an append-only file; the rest may still change.
//                      Writes that arrive together are coalesced: at most one
//                      `grown` per path is queued at any time. inotify cannot tell
//                      an append from a truncation or rewrite, so the reader must
//                      compare the size with its own offset.
//     change::settled  the file was moved in (IN_MOVED_TO) and no process holds
//                      it open for writing: at once, in order with the other
//                      reports. Or it was closed after writing (IN_CLOSE_WRITE),
//                      moved in while still open for writing, or found by a
//                      scan, and then saw no write for `settle`, and no process
//                      holds it open for writing
//                      (asked with a read lease; a file whose lease sluice may
//                      not take is judged by the quiet period alone): as
//                      complete as anyone can tell. A quiet file still open
//                      for writing is reported `grown` and settles once closed.
//                      A file that grows again is reported again. A file that
//                      disappears (or stops being a regular file) before it
//                      settles is dropped.
//   IN_CREATE alone is never reported.
// - Directories are watched recursively, including ones created or moved in later
//   (their files are scanned when the directory appears). Directories whose name
//   starts with '.' are not watched: nothing under them is a candidate.
//   IN_Q_OVERFLOW triggers a full rescan, which reports every candidate as settled.
// - Threading: every handler call runs on the io_context's thread, from a
//   completion handler (never from inside start() or stop()). The watcher must be
//   used from that thread only. An exception thrown by the handler propagates out
//   of io_context::run(), as with any Asio completion handler.
// - Lifetime: the io_context must outlive the watcher. The handler may call stop()
//   or destroy the watcher; no call follows. Destroying the watcher stops it.
// - Errors: the constructor and start() throw std::system_error when inotify cannot
//   be set up or the inbox cannot be read (message names the path); later
//   failures to watch a single directory are logged and skipped.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::watcher {

enum class change { grown, settled };

struct file_event {
  std::string path;  // relative to the inbox
  change kind;
};

struct watcher_options {
  std::filesystem::path inbox;
  // How long a closed or moved-in file must stay unwritten before it is `settled`.
  std::chrono::milliseconds settle{500};
};

// True when `relative_path` may be reported (see "candidate" above). An empty path,
// an absolute path or one with an empty component is not a candidate.
[[nodiscard]] bool is_candidate(const std::string& relative_path);

// Every candidate regular file under `inbox`, relative, sorted (for --once mode
// and start-up). Throws std::filesystem::filesystem_error if inbox is unreadable;
// a subdirectory that cannot be read (or vanishes meanwhile) is logged and skipped.
// `not_regular`, when given, receives the candidates that are neither
// directories nor regular files (symbolic links, FIFOs, ...), so that a caller
// can say why they are not read instead of passing over them in silence.
[[nodiscard]] std::vector<std::string> scan_inbox(const std::filesystem::path& inbox,
                                                  std::vector<std::string>* not_regular = nullptr);

class inbox_watcher {
 public:
  using handler = std::function<void(const file_event&)>;

  // Opens the inotify descriptor (no watch yet, nothing is reported before start()).
  // Throws std::invalid_argument if `on_change` is empty.
  inbox_watcher(boost::asio::io_context& io, watcher_options options, handler on_change);
  ~inbox_watcher();
  inbox_watcher(const inbox_watcher&) = delete;
  inbox_watcher& operator=(const inbox_watcher&) = delete;

  // Adds the watches, then scans: every existing candidate is reported `settled`
  // once it has been quiet for `settle` (measured from its mtime). Calling start()
  // on a started watcher does nothing; start() after stop() starts afresh.
  void start();
  // Stops watching; no handler call happens after stop() returns. Pending
  // `settled` reports are dropped. Safe to call more than once.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::watcher

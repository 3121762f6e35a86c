#include "loader/sources/files/progress_board.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

namespace sluice::loader {

std::optional<double> file_progress::percent() const {
  if (bytes == 0) return std::nullopt;
  return 100.0 * static_cast<double>(std::min(bytes_read, bytes)) / static_cast<double>(bytes);
}

std::string file_progress::describe() const {
  constexpr double mb = 1 << 20;
  std::string out;
  if (auto p = percent()) {
    out = fmt::format("{:.0f}% ({:.0f} of {:.0f} MB)", *p, static_cast<double>(bytes_read) / mb,
                      static_cast<double>(bytes) / mb);
  } else {
    out = fmt::format("{:.0f} MB of its content", static_cast<double>(bytes_read) / mb);
  }
  out += fmt::format(", {} rows/s", static_cast<std::uint64_t>(rows_per_second));
  if (eta_seconds) out += fmt::format(", about {:.0f} s left", *eta_seconds);
  return out;
}

void progress_board::begin(std::int64_t id, const std::string& feed, const std::string& path,
                           std::uint64_t from_bytes, std::uint64_t size) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  entry e;
  e.shown = {id, feed, path, from_bytes, size, 0, std::nullopt};
  e.from_bytes = from_bytes;
  e.started = now;
  e.logged = now;
  files_[id] = std::move(e);
}

std::optional<file_progress> progress_board::advance(std::int64_t id, std::uint64_t bytes_read,
                                                     std::uint64_t records_read) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto it = files_.find(id);
  if (it == files_.end()) return std::nullopt;
  auto& e = it->second;
  double seconds = std::chrono::duration<double>(now - e.started).count();
  e.shown.bytes_read = bytes_read;
  if (seconds > 0) {
    e.shown.rows_per_second = static_cast<double>(records_read) / seconds;
    double done = static_cast<double>(bytes_read - std::min(bytes_read, e.from_bytes));
    if (e.shown.bytes > bytes_read && done > 0) {
      e.shown.eta_seconds = static_cast<double>(e.shown.bytes - bytes_read) * seconds / done;
    } else {
      e.shown.eta_seconds.reset();
    }
  }
  if (now - e.logged < log_every) return std::nullopt;
  e.logged = now;
  return e.shown;
}

void progress_board::end(std::int64_t id) {
  std::lock_guard lock(mutex_);
  files_.erase(id);
}

std::vector<file_progress> progress_board::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<file_progress> out;
  for (const auto& [id, e] : files_) out.push_back(e.shown);
  return out;
}

}  // namespace sluice::loader

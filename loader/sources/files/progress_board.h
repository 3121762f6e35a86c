// Files being read now that take more than a batch: how far each is, for
// `sluice status` (the daemon's report reads it from another thread) and for
// a log line every few seconds while a large file loads.
//
// Threading: begin/advance/end on the loader's thread, snapshot from any.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sluice::loader {

// One file's progress. `bytes` is 0 when its size does not say how far it
// is (a .gz: its content's size is not known until the end).
struct file_progress {
  std::int64_t file_id = 0;
  std::string feed;
  std::string path;
  std::uint64_t bytes_read = 0;  // of its content, from its start
  std::uint64_t bytes = 0;       // the size it is read up to now
  double rows_per_second = 0;    // records read per second since this reading began
  std::optional<double> eta_seconds;
  [[nodiscard]] std::optional<double> percent() const;
  // "45% (120 of 270 MB), 310000 rows/s, about 12 s left" (what is known).
  [[nodiscard]] std::string describe() const;
};

class progress_board {
 public:
  static constexpr std::chrono::seconds log_every{5};

  void begin(std::int64_t id, const std::string& feed, const std::string& path, std::uint64_t from_bytes,
             std::uint64_t size);
  // How far the file is now; its progress when a log line is due.
  std::optional<file_progress> advance(std::int64_t id, std::uint64_t bytes_read, std::uint64_t records_read);
  void end(std::int64_t id);
  [[nodiscard]] std::vector<file_progress> snapshot() const;

 private:
  struct entry {
    file_progress shown;
    std::uint64_t from_bytes = 0;
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point logged;
  };
  mutable std::mutex mutex_;
  std::map<std::int64_t, entry> files_;
};

}  // namespace sluice::loader

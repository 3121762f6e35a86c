// Paths to look at again, each when it is due, with why it is not loaded yet
// (what --once reports of a file it could not finish). A path scheduled again
// after it came due and was looked at waits twice as long as it did: 0.5 s,
// then 1 s, 2 s, ... at most 30 s.
//
// Threading: the loader's thread only. Errors: none.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sluice::loader {

class retry_book {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr auto first_delay = std::chrono::milliseconds(500);
  static constexpr auto max_delay = std::chrono::milliseconds(30'000);

  struct due_path {
    std::string path;
    bool settled = false;
    std::chrono::milliseconds delay{};  // what it had waited
  };

  // Looks at `path` again after its delay (`settled` sticks once said).
  void schedule(const std::string& path, bool settled, const std::string& reason, clock::time_point now = clock::now());
  // Not to be looked at again (it is being looked at now).
  void forget(const std::string& path) { entries_.erase(path); }
  [[nodiscard]] bool waiting(const std::string& path) const { return entries_.count(path) != 0; }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

  // The paths due at `now`, taken out of the book.
  [[nodiscard]] std::vector<due_path> take_due(clock::time_point now = clock::now());
  // Of the paths `taken`, those scheduled again since wait twice as long.
  void back_off(const std::vector<due_path>& taken, clock::time_point now = clock::now());

  // The earliest due time, or `limit` when that is earlier (or none waits).
  [[nodiscard]] clock::time_point next_due(clock::time_point limit) const;
  // Every waiting path with why.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> reasons() const;

 private:
  struct entry {
    bool settled = false;
    clock::time_point due;
    std::chrono::milliseconds delay = first_delay;
    std::string reason;
  };
  std::map<std::string, entry> entries_;
};

}  // namespace sluice::loader

#include "loader/sources/files/retry_book.h"

#include <algorithm>

namespace sluice::loader {

void retry_book::schedule(const std::string& path, bool settled, const std::string& reason, clock::time_point now) {
  auto& r = entries_[path];
  r.settled = r.settled || settled;
  r.due = now + r.delay;
  r.reason = reason;
}

std::vector<retry_book::due_path> retry_book::take_due(clock::time_point now) {
  std::vector<due_path> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.due <= now) {
      out.push_back({it->first, it->second.settled, it->second.delay});
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void retry_book::back_off(const std::vector<due_path>& taken, clock::time_point now) {
  for (const auto& d : taken) {
    if (auto it = entries_.find(d.path); it != entries_.end()) {
      it->second.delay = std::min(std::max(it->second.delay, d.delay * 2), std::chrono::milliseconds(max_delay));
      it->second.due = now + it->second.delay;
    }
  }
}

retry_book::clock::time_point retry_book::next_due(clock::time_point limit) const {
  auto next = limit;
  for (const auto& [path, r] : entries_) next = std::min(next, r.due);
  return next;
}

std::vector<std::pair<std::string, std::string>> retry_book::reasons() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [path, r] : entries_) out.emplace_back(path, r.reason);
  return out;
}

}  // namespace sluice::loader

#include "loader/pipeline/order_book.h"

#include <algorithm>

namespace sluice::loader {

bool order_book::is_turn(const std::vector<source_turn>& turns) {
  std::lock_guard lock(mutex_);
  return turn_locked(turns);
}

bool order_book::wait_for_turn(const std::vector<source_turn>& turns, const std::atomic<bool>& stop) {
  std::unique_lock lock(mutex_);
  while (true) {
    if (failed_locked(turns) || stop) return false;
    if (turn_locked(turns)) return true;
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

bool order_book::wait_for_predecessors_streamed(const std::vector<source_turn>& turns, std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, patience, [&] { return failed_locked(turns) || streamed_locked(turns); }) &&
         !failed_locked(turns);
}

int order_book::wait_for_turn_while_streamed(const std::vector<source_turn>& turns, const std::atomic<bool>& stop) {
  std::unique_lock lock(mutex_);
  while (true) {
    if (failed_locked(turns) || stop) return -1;
    if (turn_locked(turns)) return 1;
    if (!streamed_locked(turns)) return 0;
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void order_book::streamed(const std::vector<source_turn>& turns) {
  std::lock_guard lock(mutex_);
  for (const auto& t : turns) sources_[t.key].streamed.insert(static_cast<std::int64_t>(t.seq));
  changed_.notify_all();
}

void order_book::unstreamed(const std::vector<source_turn>& turns) {
  std::lock_guard lock(mutex_);
  for (const auto& t : turns) sources_[t.key].streamed.erase(static_cast<std::int64_t>(t.seq));
  changed_.notify_all();
}

void order_book::committed(const std::vector<source_turn>& turns) {
  std::lock_guard lock(mutex_);
  for (const auto& t : turns) {
    auto& s = sources_[t.key];
    s.committed = std::max(s.committed, static_cast<std::int64_t>(t.seq));
  }
  changed_.notify_all();
}

void order_book::failed(const std::vector<source_turn>& turns) {
  std::lock_guard lock(mutex_);
  for (const auto& t : turns) sources_[t.key].failed = true;
  changed_.notify_all();
}

bool order_book::any_failed(const std::vector<source_turn>& turns) {
  std::lock_guard lock(mutex_);
  return failed_locked(turns);
}

bool order_book::failed(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = sources_.find(key);
  return it != sources_.end() && it->second.failed;
}

void order_book::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  sources_.erase(key);
}

bool order_book::streamed_locked(const std::vector<source_turn>& turns) {
  for (const auto& t : turns) {
    auto it = sources_.find(t.key);
    auto previous = static_cast<std::int64_t>(t.seq) - 1;
    if (previous < 0) continue;
    if (it == sources_.end()) return false;
    if (it->second.committed >= previous) continue;
    // Every batch between the last committed one and this one must be streamed.
    for (auto seq = it->second.committed + 1; seq <= previous; ++seq) {
      if (!it->second.streamed.count(seq)) return false;
    }
  }
  return true;
}

bool order_book::turn_locked(const std::vector<source_turn>& turns) {
  for (const auto& t : turns) {
    auto it = sources_.find(t.key);
    std::int64_t committed = it == sources_.end() ? -1 : it->second.committed;
    if (committed + 1 < static_cast<std::int64_t>(t.seq)) return false;
  }
  return true;
}

bool order_book::failed_locked(const std::vector<source_turn>& turns) {
  for (const auto& t : turns) {
    auto it = sources_.find(t.key);
    if (it != sources_.end() && it->second.failed) return true;
  }
  return false;
}

}  // namespace sluice::loader

// The order in which batches commit: per source (a committer key), batch
// seq N commits only after seq N-1 did. A batch may hold several sources'
// turns (a batch of many files) and waits for all of them. While a batch's
// predecessors have streamed their rows (an open transaction, not committed
// yet), it may stream its own and wait for their commits holding its
// transaction; should one of them roll back to stream again, it rolls back
// too (it may hold a lock that one needs).
//
// Threading: every member may be called from any thread; the waits wake when
// the book changes (or every 100 ms, to see `stop`). Errors: none.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "loader/pipeline/batch.h"

namespace sluice::loader {

// Per source: the last batch that committed, and whether one failed.
class order_book {
 public:
  // Whether every source's predecessor of this batch has committed.
  bool is_turn(const std::vector<source_turn>& turns);
  // Waits until every source's predecessor committed. False when one of them
  // failed or `stop` was set.
  bool wait_for_turn(const std::vector<source_turn>& turns, const std::atomic<bool>& stop);
  // Waits (at most `patience`) until every source's predecessor has at least
  // streamed its rows. A batch whose predecessors all streamed may wait for
  // their commits while it holds its transaction open: what they still do
  // (lock ledger rows, commit) never waits on this batch's locks.
  bool wait_for_predecessors_streamed(const std::vector<source_turn>& turns, std::chrono::milliseconds patience);
  // While the predecessors stay streamed, waits for them to commit. 1: it is
  // this batch's turn; 0: a predecessor rolled back to stream again (it may
  // need a lock this batch holds: roll back too); -1: a source failed or stop.
  int wait_for_turn_while_streamed(const std::vector<source_turn>& turns, const std::atomic<bool>& stop);
  void streamed(const std::vector<source_turn>& turns);
  // The batch rolled back: its rows are no longer streamed.
  void unstreamed(const std::vector<source_turn>& turns);
  void committed(const std::vector<source_turn>& turns);
  void failed(const std::vector<source_turn>& turns);
  bool any_failed(const std::vector<source_turn>& turns);
  bool failed(const std::string& key);
  void forget(const std::string& key);
  void wake() { changed_.notify_all(); }

 private:
  struct state {
    std::int64_t committed = -1;
    std::set<std::int64_t> streamed;  // batches whose rows are in an open transaction now
    bool failed = false;
  };
  bool streamed_locked(const std::vector<source_turn>& turns);
  bool turn_locked(const std::vector<source_turn>& turns);
  bool failed_locked(const std::vector<source_turn>& turns);
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, state> sources_;
};

}  // namespace sluice::loader

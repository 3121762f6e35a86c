// The report jobs' scheduler without a warehouse: its rounds are a fake that
// records what woke them and can be held mid-round.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "warehouse/job_scheduler.h"

using namespace std::chrono_literals;
using sluice::warehouse::job_scheduler;
using sluice::warehouse::jobs_outcome;

namespace {

// Rounds as the scheduler runs them: what woke each, and a gate that holds a
// round until it is opened.
struct fake_rounds {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::set<std::string>> seen;
  bool held = false;
  int cancels = 0;
  int fail_next = 0;

  job_scheduler::hooks hooks() {
    return {[this](const std::vector<std::string>& woken) {
              std::unique_lock lock(mutex);
              seen.emplace_back(woken.begin(), woken.end());
              changed.notify_all();
              changed.wait(lock, [this] { return !held; });
              if (fail_next > 0) {
                --fail_next;
                throw std::runtime_error("the warehouse is down");
              }
              return jobs_outcome{1, 0, 0, 0, {}};
            },
            [this] {
              std::lock_guard lock(mutex);
              ++cancels;
              held = false;
              changed.notify_all();
            }};
  }
  // Waits until `n` rounds began.
  bool wait_rounds(std::size_t n, std::chrono::milliseconds within = 5s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, within, [&] { return seen.size() >= n; });
  }
  std::size_t rounds() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
  void hold(bool h) {
    std::lock_guard lock(mutex);
    held = h;
    changed.notify_all();
  }
};

}  // namespace

TEST_CASE("a wake runs a round at once, not at the next tick, with the tables that woke it", "[warehouse][jobs]") {
  fake_rounds fake;
  job_scheduler jobs(fake.hooks(), std::chrono::hours(1));
  REQUIRE(fake.wait_rounds(1));  // the first round, for the timers, at start
  CHECK(fake.seen[0].empty());
  auto woke_at = std::chrono::steady_clock::now();
  jobs.wake({"staging.a", "staging.b"});
  REQUIRE(fake.wait_rounds(2, 2s));
  CHECK(std::chrono::steady_clock::now() - woke_at < 1s);
  CHECK(fake.seen[1] == std::set<std::string>{"staging.a", "staging.b"});
  jobs.wake({});  // a commit that wrote no table wakes nothing
  std::this_thread::sleep_for(200ms);
  CHECK(fake.rounds() == 2);
}

TEST_CASE("a hundred wakes while a round runs coalesce into one more round", "[warehouse][jobs]") {
  fake_rounds fake;
  fake.hold(true);
  job_scheduler jobs(fake.hooks(), std::chrono::hours(1));
  REQUIRE(fake.wait_rounds(1));  // held mid-round
  for (int i = 0; i < 100; ++i) jobs.wake({"staging.t" + std::to_string(i % 3)});
  fake.hold(false);
  REQUIRE(fake.wait_rounds(2));
  std::this_thread::sleep_for(300ms);
  CHECK(fake.rounds() == 2);
  CHECK(fake.seen[1] == std::set<std::string>{"staging.t0", "staging.t1", "staging.t2"});
}

TEST_CASE("the timer runs a round when nothing wakes the scheduler", "[warehouse][jobs]") {
  fake_rounds fake;
  job_scheduler jobs(fake.hooks(), 100ms);
  REQUIRE(fake.wait_rounds(4, 3s));
  for (const auto& woken : fake.seen) CHECK(woken.empty());
}

TEST_CASE("a round that fails keeps its wakes for the next try", "[warehouse][jobs]") {
  fake_rounds fake;
  job_scheduler jobs(fake.hooks(), std::chrono::hours(1));
  REQUIRE(fake.wait_rounds(1));
  {
    std::lock_guard lock(fake.mutex);
    fake.fail_next = 1;
  }
  jobs.wake({"staging.lost_unless_kept"});
  REQUIRE(fake.wait_rounds(3, 5s));  // the failed round, then a second later its retry
  CHECK(fake.seen[1] == std::set<std::string>{"staging.lost_unless_kept"});
  CHECK(fake.seen[2] == std::set<std::string>{"staging.lost_unless_kept"});
}

TEST_CASE("a stop cancels the round in flight and the scheduler ends", "[warehouse][jobs]") {
  fake_rounds fake;
  fake.hold(true);
  auto jobs = std::make_unique<job_scheduler>(fake.hooks(), std::chrono::hours(1));
  REQUIRE(fake.wait_rounds(1));
  auto asked = std::chrono::steady_clock::now();
  jobs->request_stop();
  jobs.reset();  // joins: would hang if the round were not cancelled
  CHECK(std::chrono::steady_clock::now() - asked < 2s);
  CHECK(fake.cancels == 1);
  CHECK(fake.rounds() == 1);
}

#include "loader/pipeline/order_book.h"

#include <catch2/catch.hpp>
#include <future>
#include <thread>

namespace sluice::loader {
namespace {

using std::chrono::milliseconds;
using turns = std::vector<source_turn>;

TEST_CASE("a source's batch takes its turn only once the one before it committed", "[order]") {
  order_book book;
  std::atomic<bool> stop{false};
  CHECK(book.is_turn({{"file:1", 0}}));
  CHECK_FALSE(book.is_turn({{"file:1", 1}}));
  book.committed({{"file:1", 0}});
  CHECK(book.is_turn({{"file:1", 1}}));
  CHECK_FALSE(book.is_turn({{"file:1", 2}}));
  CHECK(book.wait_for_turn({{"file:1", 1}}, stop));
  // Sources do not wait for each other.
  CHECK(book.is_turn({{"file:2", 0}}));
}

TEST_CASE("a batch of several sources waits for the turn of each", "[order]") {
  order_book book;
  book.committed({{"file:1", 0}});
  turns both{{"file:1", 1}, {"file:2", 1}};
  CHECK_FALSE(book.is_turn(both));
  book.committed({{"file:2", 0}});
  CHECK(book.is_turn(both));
}

TEST_CASE("a waiting batch wakes when its predecessor commits, and gives up when it fails", "[order]") {
  order_book book;
  std::atomic<bool> stop{false};
  auto waiting = std::async(std::launch::async, [&] { return book.wait_for_turn({{"src", 1}}, stop); });
  CHECK(waiting.wait_for(milliseconds(150)) == std::future_status::timeout);
  book.committed({{"src", 0}});
  CHECK(waiting.get());

  auto doomed = std::async(std::launch::async, [&] { return book.wait_for_turn({{"src", 3}}, stop); });
  book.failed({{"src", 2}});
  CHECK_FALSE(doomed.get());
  CHECK(book.failed("src"));
  CHECK(book.any_failed({{"src", 9}, {"other", 0}}));
  book.forget("src");
  CHECK_FALSE(book.failed("src"));
  CHECK(book.is_turn({{"src", 0}}));
}

TEST_CASE("a stop ends a wait for a turn", "[order]") {
  order_book book;
  std::atomic<bool> stop{false};
  auto waiting = std::async(std::launch::async, [&] { return book.wait_for_turn({{"src", 5}}, stop); });
  stop = true;
  book.wake();
  CHECK_FALSE(waiting.get());
}

TEST_CASE("a batch whose predecessors streamed waits for their commits, and rolls back when one unstreams",
          "[order]") {
  order_book book;
  std::atomic<bool> stop{false};
  turns third{{"src", 2}};
  CHECK_FALSE(book.wait_for_predecessors_streamed(third, milliseconds(10)));
  book.streamed({{"src", 0}});
  CHECK_FALSE(book.wait_for_predecessors_streamed(third, milliseconds(10)));  // seq 1 has not streamed
  book.streamed({{"src", 1}});
  CHECK(book.wait_for_predecessors_streamed(third, milliseconds(10)));

  SECTION("its turn comes once they commit") {
    auto waiting = std::async(std::launch::async, [&] { return book.wait_for_turn_while_streamed(third, stop); });
    book.committed({{"src", 0}});
    book.committed({{"src", 1}});
    CHECK(waiting.get() == 1);
  }
  SECTION("a predecessor that rolls back to stream again makes it roll back too") {
    auto waiting = std::async(std::launch::async, [&] { return book.wait_for_turn_while_streamed(third, stop); });
    book.unstreamed({{"src", 1}});
    CHECK(waiting.get() == 0);
  }
  SECTION("a failed source ends the wait") {
    auto waiting = std::async(std::launch::async, [&] { return book.wait_for_turn_while_streamed(third, stop); });
    book.failed({{"src", 0}});
    CHECK(waiting.get() == -1);
  }
}

}  // namespace
}  // namespace sluice::loader

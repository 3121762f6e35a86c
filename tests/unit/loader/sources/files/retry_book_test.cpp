#include "loader/sources/files/retry_book.h"

#include <catch2/catch.hpp>

namespace sluice::loader {
namespace {

using std::chrono::milliseconds;

TEST_CASE("a path is due after half a second, and each time it fails again it waits twice as long, up to 30 s",
          "[retry]") {
  retry_book book;
  auto t = retry_book::clock::now();
  book.schedule("a.log", false, "busy", t);
  CHECK(book.take_due(t + milliseconds(499)).empty());
  auto due = book.take_due(t + milliseconds(500));
  REQUIRE(due.size() == 1);
  CHECK(due[0].path == "a.log");
  CHECK_FALSE(book.waiting("a.log"));

  std::vector<milliseconds> waits;
  for (int round = 0; round < 9; ++round) {
    t = book.next_due(t + std::chrono::hours(1));
    if (round > 0) {
      due = book.take_due(t);
      REQUIRE(due.size() == 1);
    }
    book.schedule("a.log", false, "still busy", t);  // looked at, failed again
    book.back_off(due, t);
    waits.push_back(std::chrono::duration_cast<milliseconds>(book.next_due(t + std::chrono::hours(1)) - t));
  }
  CHECK(waits == std::vector<milliseconds>{milliseconds(1000), milliseconds(2000), milliseconds(4000),
                                           milliseconds(8000), milliseconds(16000), milliseconds(30000),
                                           milliseconds(30000), milliseconds(30000), milliseconds(30000)});
}

TEST_CASE("a path that was looked at and not scheduled again is out of the book, and settled sticks", "[retry]") {
  retry_book book;
  auto t = retry_book::clock::now();
  book.schedule("a.log", true, "first", t);
  book.schedule("a.log", false, "second", t);
  auto reasons = book.reasons();
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].second == "second");
  auto due = book.take_due(t + milliseconds(500));
  REQUIRE(due.size() == 1);
  CHECK(due[0].settled);
  book.back_off(due, t);
  CHECK(book.empty());
}

}  // namespace
}  // namespace sluice::loader

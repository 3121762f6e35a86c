// Every fault the loader throws is a sluice::fault that says whether trying
// again can help, as its callers treat it (warehouse/fault.h).
#include <catch2/catch.hpp>

#include "loader/contract/feed.h"
#include "loader/sources/postgres/replication.h"
#include "loader/sources/postgres/replicator.h"

namespace sluice::loader {
namespace {

template <class error>
bool retryable_as_fault(const std::string& message) {
  try {
    throw error(message);
  } catch (const sluice::fault& e) {
    CHECK(std::string(e.what()) == message);
    return e.is_retryable();
  }
}

}  // namespace

TEST_CASE("a lost replication connection or a busy source is worth retrying, and a stopped source or a bad feed is not",
          "[loader][fault]") {
  CHECK(retryable_as_fault<replication_error>("source app: cannot open a replication connection: refused"));
  CHECK(retryable_as_fault<source_busy>("source app: another sluice replicates it"));
  CHECK_FALSE(retryable_as_fault<source_stopped>("source app: its slot was dropped"));
  CHECK_FALSE(retryable_as_fault<feed_error>("feed shop: target table staging.x does not exist"));
}

}  // namespace sluice::loader

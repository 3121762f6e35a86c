// copy_in and copy_out (warehouse/copy_stream.h), the only way sluice runs a
// COPY, against a real PostgreSQL: what finish() reports, what the destructor
// undoes, what copy_out reads.
#include <catch2/catch.hpp>

#include <string>

#include "support/fixture.h"
#include "warehouse/copy_stream.h"

namespace sluice::testing {

using warehouse::copy_in;
using warehouse::copy_out;
using warehouse::db_error;
using warehouse::error_kind;

TEST_CASE("a finished copy_in writes its rows, and one the server refuses says why at finish()",
          "[integration][copy]") {
  sluice_fixture fx(fixture_options{false, {}});
  auto& conn = fx.db();
  conn.exec("create table numbers (n integer not null)");
  {
    copy_in copy(conn, "copy numbers (n) from stdin");
    copy.write(std::string("1\n2\n"));
    copy.write(std::string("3\n"));
    copy.finish();
  }
  CHECK(fx.scalar("select sum(n) from numbers") == 6);
  try {
    copy_in copy(conn, "copy numbers (n) from stdin");
    copy.write(std::string("4\nfour\n"));
    copy.finish();
    FAIL("the server took 'four' for an integer");
  } catch (const db_error& e) {
    CHECK(e.kind() == error_kind::data);
    CHECK(e.sqlstate() == "22P02");
    CHECK_THAT(e.what(), Catch::StartsWith("COPY failed: "));
    CHECK_THAT(e.server_message(), Catch::Contains("four"));
  }
  // The COPY is over: the connection goes on.
  CHECK(fx.scalar("select count(*) from numbers") == 3);
}

TEST_CASE("a copy_in left without finish() aborts its COPY, and its transaction rolls back",
          "[integration][copy]") {
  sluice_fixture fx(fixture_options{false, {}});
  auto& conn = fx.db();
  conn.exec("create table numbers (n integer not null)");
  try {
    warehouse::transaction tx(conn);
    copy_in copy(conn, "copy numbers (n) from stdin", "test: abandoned on purpose");
    copy.write(std::string("1\n2\n"));
    throw std::runtime_error("a failure while the COPY is open");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "a failure while the COPY is open");
  }
  CHECK_FALSE(conn.in_transaction());
  CHECK(fx.scalar("select count(*) from numbers") == 0);
}

TEST_CASE("a copy_in whose statement fails throws at once and leaves nothing open", "[integration][copy]") {
  sluice_fixture fx(fixture_options{false, {}});
  try {
    copy_in copy(fx.db(), "copy no_such_table (n) from stdin");
    FAIL("a COPY into a missing table started");
  } catch (const db_error& e) {
    CHECK(e.kind() == error_kind::schema);
    CHECK_THAT(e.what(), Catch::StartsWith("COPY failed to start: "));
  }
  CHECK(fx.scalar("select 1") == 1);
}

TEST_CASE("copy_out reads a COPY TO STDOUT to its end, then the connection goes on", "[integration][copy]") {
  sluice_fixture fx(fixture_options{false, {}});
  auto& conn = fx.db();
  std::string all;
  {
    copy_out copy(conn, "copy (select n from generate_series(1, 3) n) to stdout");
    std::string chunk;
    while (copy.read(chunk)) all += chunk;
  }
  CHECK(all == "1\n2\n3\n");
  CHECK(fx.scalar("select 2") == 2);
  try {
    copy_out copy(conn, "copy (select 1 / 0) to stdout");
    std::string chunk;
    while (copy.read(chunk)) {
    }
    FAIL("a division by zero was copied");
  } catch (const db_error& e) {
    CHECK(e.sqlstate() == "22012");
  }
  CHECK(fx.scalar("select 3") == 3);
}

}  // namespace sluice::testing

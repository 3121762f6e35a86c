#include <catch2/catch.hpp>

#include <cstdlib>

#include "warehouse/connection.h"
#include "warehouse/error.h"
#include "warehouse/packs.h"

using namespace sluice::warehouse;

TEST_CASE("SQLSTATEs map to the kinds a caller acts on", "[warehouse]") {
  CHECK(classify_sqlstate("08006") == error_kind::connection);
  CHECK(classify_sqlstate("57P01") == error_kind::connection);
  CHECK(classify_sqlstate("40001") == error_kind::transient);
  CHECK(classify_sqlstate("40P01") == error_kind::transient);
  CHECK(classify_sqlstate("53100") == error_kind::transient);
  CHECK(classify_sqlstate("22P02") == error_kind::data);
  CHECK(classify_sqlstate("23505") == error_kind::data);
  CHECK(classify_sqlstate("42P01") == error_kind::schema);
  CHECK(classify_sqlstate("XX000") == error_kind::internal);
  CHECK(classify_sqlstate("") == error_kind::internal);
}

TEST_CASE("only connection and transient errors are retryable", "[warehouse]") {
  CHECK(db_error(error_kind::connection, "08006", "x").is_retryable());
  CHECK(db_error(error_kind::transient, "40001", "x").is_retryable());
  CHECK_FALSE(db_error(error_kind::data, "22P02", "x").is_retryable());
  CHECK_FALSE(db_error(error_kind::schema, "42P01", "x").is_retryable());
}

TEST_CASE("a connection that cannot be made says where it tried and what to set", "[warehouse]") {
  try {
    connection conn("host=/nonexistent-socket-dir port=1 dbname=nowhere connect_timeout=1");
    FAIL("connected to nothing");
  } catch (const db_error& e) {
    CHECK(e.kind() == error_kind::connection);
    CHECK(e.is_retryable());
    CHECK_THAT(e.what(), Catch::Contains("SLUICE_DSN"));
  }
}

TEST_CASE("the DSN comes from the flag, else SLUICE_DSN", "[warehouse]") {
  CHECK(resolve_dsn(std::string("dbname=a")) == "dbname=a");
  ::setenv("SLUICE_DSN", "dbname=b", 1);
  CHECK(resolve_dsn(std::nullopt) == "dbname=b");
  ::unsetenv("SLUICE_DSN");
  CHECK(resolve_dsn(std::nullopt).empty());
}

TEST_CASE("warehouse errors are sluice faults: a db_error answers by its kind, a pack_error never retries",
          "[warehouse][fault]") {
  auto answer = [](const sluice::fault& e) { return e.is_retryable(); };
  CHECK(answer(db_error(error_kind::connection, "08006", "x")));
  CHECK(answer(db_error(error_kind::transient, "53100", "x")));
  CHECK_FALSE(answer(db_error(error_kind::data, "23505", "x")));
  CHECK_FALSE(answer(db_error(error_kind::schema, "42P01", "x")));
  CHECK_FALSE(answer(db_error(error_kind::internal, "XX000", "x")));
  CHECK_FALSE(answer(pack_error("--packs nope: no such pack")));
  try {
    throw pack_error("--packs nope: no such pack");
  } catch (const sluice::fault& e) {
    CHECK(std::string(e.what()) == "--packs nope: no such pack");
  }
}

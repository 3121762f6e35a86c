// Secrets stay in libpq's own places (.pgpass, PGPASSFILE, service files):
// never in the warehouse's tables, never readable on a command line.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include "support/checks.h"
#include "support/fixture.h"
#include "warehouse/error.h"

namespace sluice::testing {

// BUG (2026-12-05): `?password=`, `?%70assword=` and `sslpassword=` in a
// source's conninfo were accepted (only the keyword `password=` and
// `user:password@` were refused), so the password sat in sluice.sources.
TEST_CASE("a source's conninfo holding a password is refused however it is spelled",
          "[integration][cdc][secrets][regression]") {
  sluice_fixture fx;
  const char* spellings[] = {
      "host=shop dbname=shop password=secret",
      "host=shop dbname=shop sslpassword=secret",
      "host=shop dbname=shop  password = 'secret'",
      "postgresql://app@shop/shop?password=secret",
      "postgresql://app@shop/shop?%70assword=secret",
      "postgresql://app@shop/shop?sslmode=require&%73slpassword=secret",
      "postgres://app:secret@shop/shop",
  };
  int idx = 0;
  for (const char* conninfo : spellings) {
    INFO(conninfo);
    std::string name = "s" + std::to_string(++idx);
    try {
      fx.db().exec_params("insert into sluice.sources (name, conninfo, publication) values ($1, $2, 'p')",
                          {name, conninfo});
      FAIL("accepted");
    } catch (const warehouse::db_error& e) {
      CHECK(e.sqlstate() == "22023");
      CHECK(std::string(e.what()).find("pgpass") != std::string::npos);
    }
  }
  // Without one (a passfile, a query parameter named like one, a service) it is taken.
  for (const char* conninfo : {"host=shop dbname=shop passfile=/etc/sluice/pgpass",
                               "postgresql://app@shop/shop?application_name=password",
                               "service=shop"}) {
    INFO(conninfo);
    CHECK_NOTHROW(fx.db().exec_params(
        "insert into sluice.sources (name, conninfo, publication) values ($1, $2, 'p')",
        {"ok" + std::to_string(++idx), conninfo}));
  }
}

// BUG (2026-12-05): a password in --dsn was visible to every local user in
// /proc/PID/cmdline (ps) for as long as the daemon ran, with no word about it.
TEST_CASE("a password given with --dsn is hidden from the command line and the user is pointed to .pgpass",
          "[integration][daemon][secrets][regression]") {
  sluice_fixture fx;
  const std::string secret = "s3cret-in-argv";
  // The test cluster trusts local connections: the password is sent for nothing.
  child_process daemon({SLUICE_BINARY, "run", "--dsn", fx.dsn() + " password=" + secret, "--inbox",
                        fx.inbox().string()},
                       fx.inbox().parent_path() / "secret-daemon.log");
  REQUIRE(wait_until([&] { return daemon.output().find("watching") != std::string::npos || !daemon.running(); },
                     20s));
  INFO(daemon.output());
  REQUIRE(daemon.running());
  std::ifstream cmdline("/proc/" + std::to_string(daemon.pid()) + "/cmdline", std::ios::binary);
  std::stringstream seen;
  seen << cmdline.rdbuf();
  CHECK(seen.str().find(secret) == std::string::npos);
  CHECK(seen.str().find("--inbox") != std::string::npos);  // the rest of it is still there
  CHECK(daemon.output().find(".pgpass") != std::string::npos);
  CHECK(daemon.output().find(secret) == std::string::npos);
  stop_daemon(daemon);
}

}  // namespace sluice::testing

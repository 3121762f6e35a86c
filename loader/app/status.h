// `sluice status`: what the warehouse says of its feeds, sources, jobs and
// daemons (sluice.status(), sql/sluice/0017_status.sql), for a person or, with
// --json, for a program; and what in it needs a person (main.cpp, and the
// daemon's /readyz through metrics.cpp).
#pragma once

#include <simdjson.h>

#include <string>
#include <vector>

namespace sluice::app {

// Prints the status; returns 0 when nothing needs a person, else 1 with what
// does (a source stopped, a feed skipped, a job failing, a daemon that died
// without saying so) on stderr.
int run_status(const std::string& dsn, bool json);

// Something in a status document (warehouse::status_json) that needs a
// person, said in a line. `unready`: it makes the daemon not ready (/readyz):
// a source stopped, a feed skipped; a job failing or a daemon gone does not.
struct problem {
  std::string what;
  bool unready = false;
};
[[nodiscard]] std::vector<problem> problems_in(simdjson::dom::element status);

}  // namespace sluice::app

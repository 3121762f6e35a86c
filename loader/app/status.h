// `sluice status`: what the warehouse says of its feeds, sources, jobs and
// daemons (sluice.status(), sql/sluice/0017_status.sql), for a person or, with
// --json, for a program. Used by main.cpp only.
#pragma once

#include <string>

namespace sluice::app {

// Prints the status; returns 0 when nothing needs a person, else 1 with what
// does (a source stopped, a feed skipped, a job failing, a daemon that died
// without saying so) on stderr.
int run_status(const std::string& dsn, bool json);

}  // namespace sluice::app

// `sluice source drop NAME`: removes a replication source from the warehouse
// and drops the slot this warehouse made on it, so that the source stops
// keeping WAL for it. Used by main.cpp (and, through the binary, by
// ./clean.sh and ./rerun.sh before they wipe an embedded warehouse).
#pragma once

#include <string>

namespace sluice::app {

// Returns 0 when the source is gone from the warehouse and its slot from the
// source; 1 when there is no such source, or when the source could not be
// reached to drop the slot (the SQL to run there is printed).
int drop_source(const std::string& dsn, const std::string& name);

}  // namespace sluice::app

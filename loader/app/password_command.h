// `sluice password ROLE --out FILE`: gives a warehouse role (sluice_loader,
// sluice_reader, or any other) a new generated password, kept in FILE for the
// scripts that connect as it (scripts/pg.sh writes the embedded warehouse's
// .pgpass from such files). Used by main.cpp.
#pragma once

#include <filesystem>
#include <string>

namespace sluice::app {

// Generates a password (32 letters and digits from the kernel's random
// source), writes it to a temporary file beside `out` (mode 0600), sets it on
// the warehouse (warehouse::connection::set_password: only its verifier goes
// to the server), then renames the file onto `out`. Returns 0, or 1 after
// logging why (the old password and file then stand). The password is never
// logged.
int set_password(const std::string& dsn, const std::string& role, const std::filesystem::path& out);

}  // namespace sluice::app

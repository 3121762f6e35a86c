// sluice's command line: the subcommands `migrate` and `run`, their flags,
// defaults and --help text (CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "loader/app/reload_command.h"
#include "loader/app/run.h"

namespace sluice::app {

// Every flag, bound to the fields below. Lifetime: built in place and never
// moved (the options hold the fields' addresses). After CLI11_PARSE(app, ...),
// `*migrate` or `*run` says which subcommand was given, and its fields hold
// what was given.
struct command_line {
  command_line();
  command_line(const command_line&) = delete;
  command_line& operator=(const command_line&) = delete;

  CLI::App app;
  std::string level = "info";

  CLI::App* migrate = nullptr;
  std::optional<std::string> dsn;  // --dsn of migrate, status and source (run's is settings.dsn)
  std::vector<std::string> pack_names;
  CLI::Option* packs_option = nullptr;  // set: --packs was given (even as "")
  std::vector<std::string> pack_dirs;

  CLI::App* run = nullptr;
  run_settings settings;

  CLI::App* source = nullptr;
  CLI::App* source_drop = nullptr;
  std::string source_name;

  CLI::App* reload = nullptr;
  reload_request reload_what;
  run_settings reload_settings;

  CLI::App* password = nullptr;
  std::string password_role;
  std::string password_out;

  CLI::App* status = nullptr;
  bool status_json = false;
};

}  // namespace sluice::app

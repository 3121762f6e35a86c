#include "loader/app/command_line.h"

#include <string>

#include "warehouse/packs.h"

namespace sluice::app {

// One declaration of every subcommand and option, in the order --help prints
// them: longer than ~80 lines because it is that list, read top to bottom.
command_line::command_line()
    : app{
          "sluice: loads files dropped into an inbox folder into PostgreSQL staging tables exactly\n"
          "once, and keeps the warehouse's report tables current.\n\n"
          "The DSN is a libpq connection string or URI (\"host=/tmp port=5432 dbname=wh\",\n"
          "\"postgresql://user@host/wh\"); without --dsn, SLUICE_DSN is used, else the usual PG*\n"
          "variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD)."} {
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  app.add_option("--log-level", level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.fallthrough();

  migrate = app.add_subcommand(
      "migrate",
      "Install or upgrade packs of SQL migrations (idempotent): the sluice pack, built-in packs\n"
      "chosen with --packs, your own packs with --pack-dir");
  migrate->add_option("--dsn", dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");
  packs_option =
      migrate
          ->add_option("--packs", pack_names,
                       "Built-in packs to install or upgrade, comma-separated, in this order; \"all\" for\n"
                       "every one, \"\" or sluice for none beyond sluice. Without --packs: every built-in\n"
                       "pack on a new warehouse, else the packs it has")
          ->delimiter(',')
          ->type_name("NAME,...")
          ->expected(1)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  migrate
      ->add_option("--pack-dir", pack_dirs,
                   "Your own pack: a folder of NNNN_name.sql files; the pack is named after the\n"
                   "folder. Repeatable. Read now only: give it again to upgrade the pack")
      ->type_name("DIR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  {
    std::string builtin;
    for (const auto& p : warehouse::builtin_packs()) {
      builtin += "\n  " + p.name + " (" + std::to_string(p.migrations.size()) +
                 (p.migrations.size() == 1 ? " migration" : " migrations") + ", sql/" + p.name +
                 "/)" + (p.name == warehouse::core_pack ? ": sluice's own tables, always installed first" : "");
    }
    migrate->footer(
        "Built-in packs:" + builtin +
        "\n\nOrder: the sluice pack; built-in packs already installed and not named; the packs\n"
        "named in --packs, in that order; --pack-dir packs not named there, in the order given.\n"
        "Each pack's migrations apply by version (versions count per pack), each file in its own\n"
        "transaction. An installed built-in pack is upgraded by every migrate; an installed pack\n"
        "of yours when its folder is given again (otherwise it is left as it is). A migration\n"
        "that was applied and then edited is refused: add a new one. Example:\n"
        "  sluice migrate --dsn DSN --packs hubdoc --pack-dir ./mypack");
  }

  source = app.add_subcommand("source", "Replication sources (rows of sluice.sources; README \"Change data capture\")");
  source->require_subcommand(1);
  source_drop = source->add_subcommand(
      "drop",
      "Remove a source: delete its row from sluice.sources (its staging and core tables stay) and\n"
      "drop the replication slot this warehouse made on it, so that it stops keeping WAL. When the\n"
      "source cannot be reached, prints the SQL to run there and exits 1");
  source_drop->add_option("NAME", source_name, "The source's name")->required();
  source_drop->add_option("--dsn", dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");

  reload = app.add_subcommand(
      "reload",
      "Load a file again (a feed declaration fixed since, a bad export put right in place): it gets\n"
      "a new row in sluice.files and is loaded from its start; the transaction of its first batch\n"
      "removes the old row's staging rows and rejects and rebuilds what the packs derive from\n"
      "them (sluice.rebuilds), so no reader sees it twice or missing. Then the jobs run. Example:\n"
      "  sluice reload hubdoc/app-2019-01.log --inbox data/inbox --dry-run");
  reload->add_option("PATH", reload_what.path, "The file, relative to the inbox (or a path beneath it)");
  reload->add_option("--file-id", reload_what.file_id, "The file's id in sluice.files instead of PATH");
  reload->add_option("--inbox", reload_settings.inbox, "The inbox the file was loaded from")
      ->required()
      ->check(CLI::ExistingDirectory);
  reload->add_flag("--dry-run", reload_what.dry_run, "Say what would be removed and rebuilt; change nothing");
  reload->add_option("--dsn", reload_settings.dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");
  reload->add_option("--batch-mb", reload_settings.batch_mb, "COPY megabytes per batch")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  reload->add_option("--stream-mb", reload_settings.stream_mb,
                     "COPY megabytes per transaction while a large file streams through one COPY (0: off)")
      ->check(CLI::Range(0, 65536))
      ->capture_default_str();
  reload->add_option("--give-up-after-s", reload_settings.give_up_after_s,
                     "How long a database fault is retried before the reload gives up")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  reload->callback([this] {
    if (reload_what.path.has_value() == reload_what.file_id.has_value()) {
      throw CLI::ValidationError("reload", "give PATH or --file-id (one of them)");
    }
  });

  password = app.add_subcommand(
      "password",
      "Give a warehouse role (sluice_loader, sluice_reader, ...) a new generated password, written\n"
      "to FILE (mode 0600) for the scripts that connect as it. Only a SCRAM verifier goes to the\n"
      "server; the password appears in no log, table or process list. Rotating: run it again (open\n"
      "sessions stay; new ones need the new password). Example:\n"
      "  sluice password sluice_reader --out data/pg/sluice_reader.password");
  password->add_option("ROLE", password_role, "The role")->required();
  password->add_option("--out", password_out, "Where the new password is kept")->required()->type_name("FILE");
  password->add_option("--dsn", dsn, "Warehouse connection string, as a role that may change the password (else SLUICE_DSN, else PG*)");

  status = app.add_subcommand(
      "status",
      "What the warehouse says: per feed, files by state, rows and rejects in the last hour, the\n"
      "oldest file still loading; per source, state, lag, last commit and error; per job, last run,\n"
      "duration and error; the daemons, their queues and the large files they load. Exits 1 when\n"
      "something needs a person (a source stopped, a feed skipped, a job failing, a daemon gone)");
  status->add_option("--dsn", dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");
  status->add_flag("--json", status_json, "Print sluice.status()'s JSON document instead of tables");

  run = app.add_subcommand("run", "Load the inbox: watch until SIGINT/SIGTERM, or --once");
  run->add_option("--dsn", settings.dsn, "Warehouse connection string (else SLUICE_DSN, else PG*)");
  run->add_option("--inbox", settings.inbox, "Folder to load, watched recursively")
      ->required()
      ->check(CLI::ExistingDirectory);
  run->add_flag("--once", settings.once, "Load every file present, run every job, exit");
  run->add_option("--http", settings.http,
                  "The daemon serves /metrics (Prometheus), /healthz, /readyz, /status.json and a status\n"
                  "page on ADDRESS:PORT, e.g. 127.0.0.1:9187 (off unless given)")
      ->type_name("ADDRESS:PORT");
  run->add_option("--settle-ms", settings.settle_ms,
                  "Quiet time after a write before a file counts as complete")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  run->add_option("--jobs-every-ms", settings.jobs_every_ms, "How often jobs are checked for a due timer (a commit into a job's inputs runs it at once)")
      ->check(CLI::Range(10, 3'600'000))
      ->capture_default_str();
  run->add_option("--batch-mb", settings.batch_mb, "COPY megabytes per batch (files share batches; a replication source's batch ends at a commit once it holds this)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run->add_option("--stream-mb", settings.stream_mb,
                  "COPY megabytes per transaction while a large file streams through one COPY (0: off)")
      ->check(CLI::Range(0, 65536))
      ->capture_default_str();
  run->add_option("--max-record-mb", settings.max_record_mb, "Longer records are rejected")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run->add_option("--give-up-after-s", settings.give_up_after_s,
                  "With --once: how long a database fault (down, disk full) is retried, for files and sources, before the"
                  " run gives up with an error; also how long (30 s at most) a source another sluice replicates is waited for")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  run->add_option("--copy-streams", settings.copy_streams,
                  "Connections streaming COPY at once (batches still commit in order)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
}

}  // namespace sluice::app

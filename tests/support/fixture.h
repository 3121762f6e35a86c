// What every integration test needs: a fresh warehouse, a fresh inbox, and the
// real `sluice` binary run as a child process.
//
// The server comes from SLUICE_TEST_DSN (a libpq conninfo of a superuser on a
// maintenance database, e.g. "host=/tmp/devpg port=5433 user=postgres
// dbname=postgres"). Each sluice_fixture creates a database with a random name,
// runs `sluice migrate` on it (unless told otherwise), and drops it when it goes
// out of scope, so no test depends on another's leftovers.
//
// Nothing here waits without a bound: every wait takes a timeout, and a child
// still running when its owner goes away is killed with SIGKILL and reaped.
//
// Errors: set-up failures (no SLUICE_TEST_DSN, server down, migrate failing)
// throw std::runtime_error with what to fix; Catch2 reports them as the test's
// failure.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "warehouse/connection.h"

namespace sluice::testing {

using namespace std::chrono_literals;

// SLUICE_TEST_DSN; throws when it is not set.
[[nodiscard]] std::string admin_dsn();

// `dsn` (key=value or URI) with its dbname replaced, as a key=value conninfo.
[[nodiscard]] std::string with_dbname(const std::string& dsn, const std::string& dbname);

// The value of `key` in a key=value conninfo, as written there (quotes kept;
// "" when absent).
[[nodiscard]] std::string conninfo_value(const std::string& dsn, const std::string& key);

// The argv of `pg_ctl restart -m immediate` (a crash: no shutdown checkpoint)
// of the cluster `cluster_dsn` names, as its owner when we are root. The
// clusters of scripts/test.sh keep their data in <host>/data.
[[nodiscard]] std::vector<std::string> crash_restart_command(const std::string& cluster_dsn);

// How a child process ended.
struct exit_status {
  bool exited = false;    // ended through exit(): code is valid
  int code = -1;
  int signal = 0;         // the signal that ended it, else 0
  std::string output;     // its stdout and stderr, interleaved

  [[nodiscard]] bool ok() const noexcept { return exited && code == 0; }
  [[nodiscard]] std::string describe() const;  // for failure messages
};

// A child process with stdin from /dev/null and stdout+stderr appended to
// `log`. Destroying a running child kills it (SIGKILL) and reaps it.
class child_process {
 public:
  child_process(const std::vector<std::string>& argv, std::filesystem::path log);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Sends `sig` if the child has not been reaped yet.
  void signal(int sig);
  // Waits up to `timeout` for the child to end; nullopt if it still runs.
  std::optional<exit_status> wait_for(std::chrono::milliseconds timeout);
  // SIGKILL and reap (waits at most a few seconds); the status it ended with.
  exit_status kill();
  [[nodiscard]] bool running();
  // What it has written so far.
  [[nodiscard]] std::string output() const;

 private:
  bool reap(bool block);
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::optional<exit_status> status_;
};

// Runs argv to completion; a child still running after `timeout` is killed and
// reported with exited == false and signal == SIGKILL.
exit_status run_process(const std::vector<std::string>& argv, const std::filesystem::path& log,
                        std::chrono::milliseconds timeout);

// Polls `done` every `poll` until it is true or `timeout` has passed.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 20ms);

// Records the NDJSON reader sees in `content`: lines (split at '\n') that hold
// something other than blanks (' ', '\t', '\r'), counting a last line without
// its newline.
[[nodiscard]] std::uint64_t count_records(std::string_view content);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

// How a sluice_fixture prepares its database.
struct fixture_options {
  bool migrate = true;                    // run `sluice migrate` on it
  std::vector<std::string> migrate_args;  // extra arguments, e.g. {"--packs", "sluice"}
};

class sluice_fixture {
 public:
  sluice_fixture() : sluice_fixture(fixture_options{}) {}
  explicit sluice_fixture(const fixture_options& options);
  ~sluice_fixture();
  sluice_fixture(const sluice_fixture&) = delete;
  sluice_fixture& operator=(const sluice_fixture&) = delete;

  [[nodiscard]] const std::string& dsn() const noexcept { return dsn_; }
  [[nodiscard]] const std::string& database() const noexcept { return database_; }
  [[nodiscard]] const std::filesystem::path& inbox() const noexcept { return inbox_; }
  // Scratch space outside the inbox (process logs, generator output).
  [[nodiscard]] const std::filesystem::path& work() const noexcept { return work_; }
  [[nodiscard]] warehouse::connection& db() { return *conn_; }
  // A new connection for db() (after the server restarted).
  void reconnect();
  // wait_until() while the warehouse may be restarting: a query of `done`
  // that fails reconnects (when it can) and counts as not yet.
  bool wait_until_reconnecting(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds poll);

  // `sluice migrate --dsn D <extra>`, to completion.
  exit_status migrate(const std::vector<std::string>& extra = {}, std::chrono::milliseconds timeout = 120s);
  // `sluice run --dsn D --inbox I --once <extra>`, to completion.
  exit_status run_once(const std::vector<std::string>& extra = {},
                       std::chrono::milliseconds timeout = 180s);
  // `sluice status --dsn D <extra>`, to completion (stdout and stderr together).
  exit_status status(const std::vector<std::string>& extra = {}, std::chrono::milliseconds timeout = 60s);
  // `sluice <args>` (give --dsn yourself), to completion.
  exit_status command(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 120s);
  // `sluice run --dsn D --inbox I <extra>` in the background (add "--once" to
  // get a one-shot load that can be killed halfway).
  std::unique_ptr<child_process> start_sluice(const std::vector<std::string>& extra,
                                              const std::string& log_name = "sluice-daemon.log");

  // The first column of the first row as an integer (SQL NULL counts as 0).
  std::int64_t scalar(std::string_view sql, std::initializer_list<warehouse::param> params = {});
  std::string text(std::string_view sql, std::initializer_list<warehouse::param> params = {});

  // "select _file_id, _record from <t1> union all select ... from <t2> ..."
  // over every staging table a feed targets.
  [[nodiscard]] const std::string& staging_union();
  std::int64_t staging_rows();
  std::int64_t staging_rows(std::int64_t file_id);
  std::int64_t rejects(std::int64_t file_id);
  // (_file_id, _record) pairs present more than once in staging.
  std::int64_t duplicate_staging_keys();
  // The newest ledger row for a path relative to the inbox; -1 when there is none.
  std::int64_t file_id(const std::string& relative_path);

  // Writes inbox/relative_path the way a careful producer does: into
  // "<name>.part" first, then renamed into place. Creates directories.
  std::filesystem::path write_file(const std::string& relative_path, std::string_view content);
  // Appends to inbox/relative_path (open, write, close).
  void append_file(const std::string& relative_path, std::string_view content);
  // Runs sluice-gen-hubdoc --events N --seed S and moves its output to
  // inbox/relative_path. Returns the full path.
  std::filesystem::path generate_hubdoc(std::uint64_t events, std::uint64_t seed,
                                        const std::string& relative_path);

 private:
  std::string admin_;
  std::string database_;
  std::string dsn_;
  std::filesystem::path root_;
  std::filesystem::path inbox_;
  std::filesystem::path work_;
  std::optional<warehouse::connection> conn_;
  std::string staging_union_;
  int runs_ = 0;
  int migrations_ = 0;
  int commands_ = 0;
};

}  // namespace sluice::testing

#include "support/fixture.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace sluice::testing {

namespace fs = std::filesystem;

namespace {

std::string random_suffix() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<std::uint64_t>(device()) << 32) ^ device() ^
                      static_cast<std::uint64_t>(::getpid()));
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  for (int i = 0; i < 12; ++i) out += digits[rng() % 36];
  return out;
}

std::string quote_conninfo_value(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

exit_status status_from(int wait_status) {
  exit_status s;
  if (WIFEXITED(wait_status)) {
    s.exited = true;
    s.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    s.signal = WTERMSIG(wait_status);
  }
  return s;
}

}  // namespace

std::string admin_dsn() {
  const char* dsn = std::getenv("SLUICE_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    throw std::runtime_error(
        "SLUICE_TEST_DSN is not set: set it to a libpq conninfo of a superuser on a maintenance"
        " database, e.g. SLUICE_TEST_DSN='host=/tmp port=5432 user=postgres dbname=postgres'"
        " (scripts/test.sh starts a server and sets it)");
  }
  return dsn;
}

std::string with_dbname(const std::string& dsn, const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    throw std::runtime_error("SLUICE_TEST_DSN is not a valid conninfo: " + why);
  }
  std::string out;
  for (auto* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr || std::strcmp(option->keyword, "dbname") == 0) continue;
    out += std::string(option->keyword) + "=" + quote_conninfo_value(option->val) + " ";
  }
  PQconninfoFree(options);
  return out + "dbname=" + quote_conninfo_value(dbname);
}

std::string conninfo_value(const std::string& dsn, const std::string& key) {
  std::smatch m;
  std::regex pattern("(^|\\s)" + key + "=(\\S+)");
  return std::regex_search(dsn, m, pattern) ? m[2].str() : "";
}

std::vector<std::string> crash_restart_command(const std::string& cluster_dsn) {
  auto host = conninfo_value(cluster_dsn, "host");
  std::vector<std::string> restart{std::string(PG_BINDIR) + "/pg_ctl", "-D", host + "/data", "restart", "-m",
                                   "immediate", "-w", "-t", "60", "-l", host + "/server.log"};
  if (::geteuid() == 0) restart.insert(restart.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return restart;
}

std::string exit_status::describe() const {
  std::ostringstream out;
  if (exited) out << "exit code " << code;
  else if (signal != 0) out << "killed by signal " << signal << " (" << ::strsignal(signal) << ")";
  else out << "did not end";
  out << "; output:\n" << (output.size() > 20000 ? "..." + output.substr(output.size() - 20000) : output);
  return out.str();
}

// --- child processes --------------------------------------------------------------

child_process::child_process(const std::vector<std::string>& argv, fs::path log)
    : log_(std::move(log)) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::system_error(rc, std::generic_category(), "cannot start " + argv.front());
  }
}

child_process::~child_process() {
  if (!status_ && pid_ > 0) kill();
}

bool child_process::reap(bool block) {
  if (status_) return true;
  int wait_status = 0;
  while (true) {
    pid_t got = ::waitpid(pid_, &wait_status, block ? 0 : WNOHANG);
    if (got == pid_) {
      status_ = status_from(wait_status);
      return true;
    }
    if (got == 0) return false;
    if (errno == EINTR) continue;
    status_ = exit_status{};  // not our child any more: nothing to wait for
    return true;
  }
}

void child_process::signal(int sig) {
  if (!reap(false)) ::kill(pid_, sig);
}

std::optional<exit_status> child_process::wait_for(std::chrono::milliseconds timeout) {
  wait_until([&] { return reap(false); }, timeout, 10ms);
  if (!status_) return std::nullopt;
  exit_status s = *status_;
  s.output = output();
  return s;
}

exit_status child_process::kill() {
  signal(SIGKILL);
  // SIGKILL cannot be caught: the child ends as soon as the kernel gets to it.
  if (auto s = wait_for(10s)) return *s;
  throw std::runtime_error("process " + std::to_string(pid_) + " survived SIGKILL for 10 s");
}

bool child_process::running() { return !reap(false); }

std::string child_process::output() const {
  std::error_code ec;
  if (!fs::exists(log_, ec)) return {};
  return read_file(log_);
}

exit_status run_process(const std::vector<std::string>& argv, const fs::path& log,
                        std::chrono::milliseconds timeout) {
  child_process child(argv, log);
  if (auto s = child.wait_for(timeout)) return *s;
  exit_status s = child.kill();
  s.exited = false;
  s.output += "\n[test harness: killed after " + std::to_string(timeout.count()) + " ms]";
  return s;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

bool sluice_fixture::wait_until_reconnecting(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                                             std::chrono::milliseconds poll) {
  return wait_until(
      [&] {
        try {
          return done();
        } catch (const std::exception&) {
          try {
            reconnect();
          } catch (const std::exception&) {
            // still down: next time
          }
          return false;
        }
      },
      timeout, poll);
}

std::uint64_t count_records(std::string_view content) {
  std::uint64_t records = 0;
  while (!content.empty()) {
    auto newline = content.find('\n');
    auto line = content.substr(0, newline);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) ++records;
    if (newline == std::string_view::npos) break;
    content.remove_prefix(newline + 1);
  }
  return records;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// --- the fixture ------------------------------------------------------------------

sluice_fixture::sluice_fixture(const fixture_options& options)
    : admin_(admin_dsn()), database_("sluice_itest_" + random_suffix()) {
  dsn_ = with_dbname(admin_, database_);
  root_ = fs::temp_directory_path() / ("sluice-itest-" + random_suffix());
  inbox_ = root_ / "inbox";
  work_ = root_ / "work";
  fs::create_directories(inbox_);
  fs::create_directories(work_);
  {
    warehouse::connection admin(admin_);
    admin.exec("create database " + database_);
  }
  try {
    if (options.migrate) {
      auto migrated = migrate(options.migrate_args);
      if (!migrated.ok()) throw std::runtime_error("sluice migrate failed: " + migrated.describe());
    }
    conn_.emplace(dsn_);
  } catch (...) {
    try {
      warehouse::connection admin(admin_);
      admin.exec("drop database if exists " + database_ + " with (force)");
    } catch (...) {
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
    throw;
  }
}

sluice_fixture::~sluice_fixture() {
  conn_.reset();
  try {
    warehouse::connection admin(admin_);
    admin.exec("drop database if exists " + database_ + " with (force)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "could not drop test database %s: %s; drop it by hand\n", database_.c_str(),
                 e.what());
  }
  if (std::getenv("SLUICE_TEST_KEEP") == nullptr) {
    std::error_code ec;
    fs::remove_all(root_, ec);
  } else {
    std::fprintf(stderr, "kept %s\n", root_.c_str());
  }
}

void sluice_fixture::reconnect() { conn_.emplace(dsn_); }

exit_status sluice_fixture::migrate(const std::vector<std::string>& extra,
                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{SLUICE_BINARY, "migrate", "--dsn", dsn_};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_process(argv, work_ / ("migrate-" + std::to_string(++migrations_) + ".log"), timeout);
}

exit_status sluice_fixture::status(const std::vector<std::string>& extra, std::chrono::milliseconds timeout) {
  std::vector<std::string> args{"status", "--dsn", dsn_};
  args.insert(args.end(), extra.begin(), extra.end());
  return command(args, timeout);
}

exit_status sluice_fixture::command(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{SLUICE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, work_ / ("command-" + std::to_string(++commands_) + ".log"), timeout);
}

exit_status sluice_fixture::run_once(const std::vector<std::string>& extra,
                                     std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{SLUICE_BINARY, "run", "--dsn", dsn_, "--inbox", inbox_.string(), "--once"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_process(argv, work_ / ("sluice-once-" + std::to_string(++runs_) + ".log"), timeout);
}

std::unique_ptr<child_process> sluice_fixture::start_sluice(const std::vector<std::string>& extra,
                                                            const std::string& log_name) {
  std::vector<std::string> argv{SLUICE_BINARY, "run", "--dsn", dsn_, "--inbox", inbox_.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<child_process>(argv, work_ / log_name);
}

std::int64_t sluice_fixture::scalar(std::string_view sql, std::initializer_list<warehouse::param> params) {
  auto r = db().exec_params(sql, params);
  if (r.rows() == 0 || r.is_null(0, 0)) return 0;
  return r.int64(0, 0);
}

std::string sluice_fixture::text(std::string_view sql, std::initializer_list<warehouse::param> params) {
  auto r = db().exec_params(sql, params);
  if (r.rows() == 0) return {};
  return std::string(r.text(0, 0));
}

const std::string& sluice_fixture::staging_union() {
  if (staging_union_.empty()) {
    auto tables = db().exec("select distinct target_table from sluice.feed_targets order by 1");
    for (int row = 0; row < tables.rows(); ++row) {
      if (!staging_union_.empty()) staging_union_ += " union all ";
      staging_union_ += "select _file_id, _record from " +
                        db().quote_qualified(tables.text(row, 0));
    }
    if (staging_union_.empty()) throw std::runtime_error("no feed targets declared in sluice.feed_targets");
  }
  return staging_union_;
}

std::int64_t sluice_fixture::staging_rows() {
  return scalar("select count(*) from (" + staging_union() + ") s");
}

std::int64_t sluice_fixture::staging_rows(std::int64_t file_id) {
  return scalar("select count(*) from (" + staging_union() + ") s where _file_id = $1",
                {std::to_string(file_id)});
}

std::int64_t sluice_fixture::rejects(std::int64_t file_id) {
  return scalar("select count(*) from sluice.rejects where file_id = $1", {std::to_string(file_id)});
}

std::int64_t sluice_fixture::duplicate_staging_keys() {
  return scalar("select count(*) from (select 1 from (" + staging_union() +
                ") s group by _file_id, _record having count(*) > 1) d");
}

std::int64_t sluice_fixture::file_id(const std::string& relative_path) {
  auto r = db().exec_params("select id from sluice.files where path = $1 order by id desc limit 1",
                            {relative_path});
  return r.rows() == 0 ? -1 : r.int64(0, 0);
}

fs::path sluice_fixture::write_file(const std::string& relative_path, std::string_view content) {
  fs::path target = inbox_ / relative_path;
  fs::create_directories(target.parent_path());
  fs::path part = target;
  part += ".part";
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + part.string());
  }
  fs::rename(part, target);
  return target;
}

void sluice_fixture::append_file(const std::string& relative_path, std::string_view content) {
  fs::path target = inbox_ / relative_path;
  std::ofstream out(target, std::ios::binary | std::ios::app);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot append to " + target.string());
}

fs::path sluice_fixture::generate_hubdoc(std::uint64_t events, std::uint64_t seed,
                                         const std::string& relative_path) {
  fs::path out_dir = work_ / ("gen-" + std::to_string(seed));
  auto generated = run_process({SLUICE_GEN_HUBDOC, "--events", std::to_string(events), "--seed",
                                std::to_string(seed), "--out-dir", out_dir.string()},
                               work_ / "gen.log", 300s);
  if (!generated.ok()) throw std::runtime_error("sluice-gen-hubdoc failed: " + generated.describe());
  fs::path target = inbox_ / relative_path;
  fs::create_directories(target.parent_path());
  fs::rename(out_dir / "hubdoc-events.log", target);  // same file system: both under root_
  return target;
}

}  // namespace sluice::testing

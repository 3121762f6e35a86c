#include "loader/app/reload_command.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "loader/sources/files/file_access.h"
#include "warehouse/file_ledger.h"
#include "warehouse/migrate.h"
#include "warehouse/scheduler.h"

namespace sluice::app {

namespace {

// PATH as the ledger names files: relative to the inbox.
std::optional<std::string> inbox_relative(const std::filesystem::path& inbox, const std::string& given) {
  std::filesystem::path p(given);
  if (p.is_relative() && std::filesystem::exists(inbox / p)) return p.lexically_normal().string();
  auto relative = std::filesystem::weakly_canonical(std::filesystem::absolute(p))
                      .lexically_relative(std::filesystem::weakly_canonical(inbox));
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  return relative.string();
}

void print_plan(warehouse::connection& conn, std::int64_t id) {
  auto plan = conn.exec_params("select kind, name, count from sluice.reload_plan($1)", {std::to_string(id)});
  for (int row = 0; row < plan.rows(); ++row) {
    if (plan.is_null(row, 2)) {
      std::printf("  %-8s %s\n", std::string(plan.text(row, 0)).c_str(), std::string(plan.text(row, 1)).c_str());
    } else {
      std::printf("  %-8s %-32s %s\n", std::string(plan.text(row, 0)).c_str(), std::string(plan.text(row, 1)).c_str(),
                  std::string(plan.text(row, 2)).c_str());
    }
  }
}

}  // namespace

int reload_file(const run_settings& settings, const reload_request& request) {
  auto dsn = warehouse::resolve_dsn(settings.dsn);
  auto options = loader_options_of(settings);
  // One COPY stream: the first batch's transaction rebuilds the packs
  // (TRUNCATE of their tables), which would wait for a second stream's batch
  // holding locks on those tables while that batch waits for the first to
  // commit (the committer keeps a file's batches in order): a wait no
  // server sees. A file within --stream-mb is then reloaded in one transaction.
  options.copy_streams = 1;
  warehouse::connection conn(dsn);
  warehouse::require_up_to_date(conn);

  std::optional<std::string> path;
  if (request.path) {
    path = inbox_relative(options.inbox, *request.path);
    if (!path) {
      log()->error("{} is not beneath the inbox {}: give its path there (or --file-id)", *request.path,
                   options.inbox.string());
      return 1;
    }
  }
  auto target = warehouse::find_reload_target(conn, request.file_id, path);
  if (!target) {
    log()->error("no file {} in sluice.files", request.file_id ? "with id " + std::to_string(*request.file_id)
                                                                 : "at " + *path);
    return 1;
  }
  const auto& old = target->row;
  if (target->duplicate_of) {
    log()->error("file {} ({}) is a duplicate of file {}, whose rows hold its records: reload file {}", old.id,
                 old.path, *target->duplicate_of, *target->duplicate_of);
    return 1;
  }
  if (old.state != "loaded" && !target->reloading) {
    log()->error("file {} ({}) is {}, not loaded: only a loaded file can be loaded again", old.id, old.path,
                 old.state);
    return 1;
  }
  if (!target->reloading) {
    std::printf("file %lld (%s, feed %s): reloading removes\n", static_cast<long long>(old.id), old.path.c_str(),
                old.feed.c_str());
    print_plan(conn, old.id);
  }
  if (request.dry_run) {
    std::printf("(dry run: nothing changed)\n");
    return 0;
  }

  // The file as it is now, where the ledger says it is.
  struct stat st {};
  auto full = options.inbox / old.path;
  if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    log()->error("file {}: {} is not a regular file there any more: put the file back at that path first", old.id,
                 full.string());
    return 1;
  }
  std::int64_t reloading = 0;
  if (target->reloading) {
    reloading = *target->reloading;
    log()->info("file {}: its reload as file {} was begun before: loading it", old.id, reloading);
  } else {
    warehouse::transaction tx(conn);
    warehouse::lock_identity(conn);
    reloading = warehouse::insert_reload(conn, old, loader::stat_of(st));
    tx.commit();
  }

  {
    loader::loader files(dsn, options);
    files.load(old.path, true);
    auto unfinished = files.finish(std::chrono::seconds(settings.give_up_after_s));
    for (const auto& u : unfinished) log()->error("{}: not loaded completely: {}", u.path, u.reason);
  }
  auto done = conn.exec_params(
      "select n.state, n.rows_loaded, n.rows_rejected, o.state, o.reason from sluice.files n"
      " join sluice.files o on o.id = n.reload_of where n.id = $1",
      {std::to_string(reloading)});
  if (done.rows() == 0 || done.text(0, 0) != "loaded" || done.text(0, 3) != "reloaded") {
    log()->error("file {}: the reload (file {}) did not finish; its row waits in sluice.files and the next"
                 " `sluice reload` or `sluice run` goes on with it",
                 old.id, reloading);
    return 1;
  }
  log()->info("file {} ({}) loaded again as file {}: {} rows, {} rejects; the old rows and rejects are gone"
              " and the packs that read them were rebuilt",
              old.id, old.path, reloading, done.text(0, 1), done.text(0, 2));
  auto ran = warehouse::run_jobs(conn, true);
  if (ran.failed > 0) {
    log()->error("{} jobs failed after the reload (see sluice.jobs.last_error)", ran.failed);
    return 1;
  }
  return 0;
}

}  // namespace sluice::app

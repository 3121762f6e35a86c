// What a daemon tells the warehouse about itself (sluice.daemons), and the
// status document everything shows (sluice.status(), sql/sluice/0017).
//
// Threading: functions take the connection to use. Errors: db_error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "warehouse/connection.h"

namespace sluice::warehouse {

// A file the daemon is reading, as sluice.daemons.loading lists it.
struct loading_file {
  std::int64_t file_id = 0;
  std::string feed;
  std::string path;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes = 0;  // 0: not known (a .gz)
  std::optional<double> percent;
  double rows_per_second = 0;
  std::optional<double> eta_seconds;
};

struct daemon_state {
  std::size_t queued = 0;
  std::optional<std::chrono::system_clock::time_point> oldest_queued_at;
  std::vector<loading_file> loading;
  std::vector<std::pair<std::string, std::string>> skipped_feeds;  // feed, why
};

// Upserts this process's row of sluice.daemons (seen now).
void report_daemon(connection& conn, const daemon_state& state);
// Deletes this process's row (a daemon that stops).
void forget_daemon(connection& conn);
// Deletes sluice.load_log rows older than two days.
void prune_load_log(connection& conn);
// Deletes changes past their keep from the change logs (CALL
// sluice.prune_changes: batches of their own transactions; `conn` must not
// be in one).
void prune_changes(connection& conn);
// sluice.status() as JSON text.
[[nodiscard]] std::string status_json(connection& conn);

}  // namespace sluice::warehouse

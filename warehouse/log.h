// The one log sink (named_logger) and the warehouse room's logger ("warehouse").
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace sluice::warehouse {

[[nodiscard]] std::shared_ptr<spdlog::logger> logger();

// The one log sink: the named logger `name`, created on first use with the
// process-wide settings (stderr, colour when a terminal). One name per room
// ("watcher", "files", "postgres", "pipeline", "warehouse", "sluice").
// Header-only, so that the watcher, which links no libpq, logs the same way.
[[nodiscard]] inline std::shared_ptr<spdlog::logger> named_logger(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  try {
    return spdlog::stderr_color_mt(name);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get(name);  // another thread registered it first
  }
}

}  // namespace sluice::warehouse

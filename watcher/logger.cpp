#include "watcher/logger.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::watcher::detail {

std::shared_ptr<spdlog::logger> logger() {
  if (auto existing = spdlog::get("watcher")) {
    return existing;
  }
  try {
    return spdlog::stdout_color_mt("watcher");
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered it between get() and stdout_color_mt().
    return spdlog::get("watcher");
  }
}

}  // namespace sluice::watcher::detail

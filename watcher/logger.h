// The module's one named logger, "watcher". Private to watcher/src.
#pragma once

#include <spdlog/logger.h>

#include <memory>

namespace sluice::watcher::detail {

// The "watcher" logger, on the one sink every room logs to (stderr; see
// warehouse/log.h).
[[nodiscard]] std::shared_ptr<spdlog::logger> logger();

}  // namespace sluice::watcher::detail

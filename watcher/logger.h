// The module's one named logger, "watcher". Private to watcher/src.
#pragma once

#include <spdlog/logger.h>

#include <memory>

namespace sluice::watcher::detail {

// The "watcher" logger: the one already registered (e.g. configured by main()),
// or a new colour stdout logger registered under that name.
[[nodiscard]] std::shared_ptr<spdlog::logger> logger();

}  // namespace sluice::watcher::detail

#include "watcher/logger.h"

#include "warehouse/log.h"  // header-only: the one sink, no libpq

namespace sluice::watcher::detail {

std::shared_ptr<spdlog::logger> logger() {
  static auto instance = warehouse::named_logger("watcher");
  return instance;
}

}  // namespace sluice::watcher::detail

// The logger of the PostgreSQL source (replication, snapshot, change log): "postgres", one per room, on the one
// sink warehouse/log.h makes (stderr).
#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "warehouse/log.h"

namespace sluice::loader {

inline std::shared_ptr<spdlog::logger> postgres_log() {
  static auto instance = warehouse::named_logger("postgres");
  return instance;
}

}  // namespace sluice::loader

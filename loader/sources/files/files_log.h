// The logger of the files source (identity, tracking, reading): "files", one per room, on the one
// sink warehouse/log.h makes (stderr).
#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "warehouse/log.h"

namespace sluice::loader {

inline std::shared_ptr<spdlog::logger> files_log() {
  static auto instance = warehouse::named_logger("files");
  return instance;
}

}  // namespace sluice::loader

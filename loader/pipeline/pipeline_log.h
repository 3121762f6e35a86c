// The logger of the pipeline (batches, the committer): "pipeline", one per room, on the one
// sink warehouse/log.h makes (stderr).
#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "warehouse/log.h"

namespace sluice::loader {

inline std::shared_ptr<spdlog::logger> pipeline_log() {
  static auto instance = warehouse::named_logger("pipeline");
  return instance;
}

}  // namespace sluice::loader

// The loader rooms' loggers, one per room, on the one sink warehouse/log.h
// makes (stderr): "files" (the files source), "postgres" (the PostgreSQL
// source), "pipeline" (batches, the committer). The executable's is "sluice"
// (loader/app/run.h).
#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "warehouse/log.h"

namespace sluice::loader {

inline std::shared_ptr<spdlog::logger> files_log() {
  static auto instance = warehouse::named_logger("files");
  return instance;
}

inline std::shared_ptr<spdlog::logger> postgres_log() {
  static auto instance = warehouse::named_logger("postgres");
  return instance;
}

inline std::shared_ptr<spdlog::logger> pipeline_log() {
  static auto instance = warehouse::named_logger("pipeline");
  return instance;
}

}  // namespace sluice::loader

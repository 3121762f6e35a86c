// The module's named spdlog logger ("warehouse").
#pragma once

#include <spdlog/logger.h>

#include <memory>

namespace sluice::warehouse {

[[nodiscard]] std::shared_ptr<spdlog::logger> logger();

// The named logger `name`, created on first use with the process-wide sink
// settings (stderr, colour when a terminal). Shared by every module.
[[nodiscard]] std::shared_ptr<spdlog::logger> named_logger(const char* name);

}  // namespace sluice::warehouse

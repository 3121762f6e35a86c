#include "warehouse/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::warehouse {

std::shared_ptr<spdlog::logger> named_logger(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  try {
    return spdlog::stderr_color_mt(name);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get(name);  // another thread registered it first
  }
}

std::shared_ptr<spdlog::logger> logger() {
  static auto instance = named_logger("warehouse");
  return instance;
}

}  // namespace sluice::warehouse

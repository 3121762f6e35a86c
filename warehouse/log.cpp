#include "warehouse/log.h"

namespace sluice::warehouse {

std::shared_ptr<spdlog::logger> logger() {
  static auto instance = named_logger("warehouse");
  return instance;
}

}  // namespace sluice::warehouse

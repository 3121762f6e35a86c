// JSON: documents or one top-level array of records (registry.h).
#pragma once

#include "loader/formats/registry.h"

namespace sluice::loader {

[[nodiscard]] const input_format& json_format();

}  // namespace sluice::loader

// NDJSON: one JSON record per line (registry.h). Its framing is here; its
// records decode as JSON's (json/json_decoder.h).
#pragma once

#include "loader/formats/registry.h"

namespace sluice::loader {

[[nodiscard]] const input_format& ndjson_format();

}  // namespace sluice::loader

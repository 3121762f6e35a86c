// CSV: RFC 4180 rows, with the feed's delimiter, quote, escape and header
// settings (registry.h).
#pragma once

#include "loader/formats/registry.h"

namespace sluice::loader {

[[nodiscard]] const input_format& csv_format();

}  // namespace sluice::loader

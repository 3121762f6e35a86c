// CSV framing (record_reader.h): with a header, the first non-blank row is the
// header (read from the start of the content whatever the start position, or
// taken from framer_setup::known_header), then one record per row (csv.h).
#pragma once

#include <memory>

#include "loader/formats/record_reader.h"

namespace sluice::loader {

[[nodiscard]] std::unique_ptr<record_framer> make_csv_framer(const framer_setup& setup);

}  // namespace sluice::loader

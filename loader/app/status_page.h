// The page the daemon serves at / (--http): what `sluice status` shows, for a
// person, refreshing itself from /status.json every 2 s. Self-contained (no
// file, no network): HTML, CSS and a little JavaScript that writes values as
// text, never as markup.
#pragma once

#include <string_view>

namespace sluice::app {

[[nodiscard]] std::string_view status_page();

}  // namespace sluice::app

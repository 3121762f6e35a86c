// Feed globs (sluice.feeds.file_globs): fnmatch(3) patterns without flags, so
// `*` and `?` also match `/`, `[...]` is a bracket expression and `\` quotes the
// next character. Paths are bytes (sluice never sets a locale: the C locale).
//
// Pure functions, no server; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::loader {

// Whether `glob` matches `relative_path` (what match_feed uses).
[[nodiscard]] bool glob_matches(std::string_view glob, std::string_view relative_path);

// A relative path (not empty, no leading or trailing `/`, no `//`) that both
// globs match, or nullopt when there is none. Decided exactly, not by trying
// paths: each glob is a sequence of one-byte tests (a literal, `?`, a bracket
// expression: the set of bytes fnmatch itself accepts for it) and `*`, and a
// breadth-first search over pairs of positions in the two globs (and whether
// the path is at the start of a name) finds a shortest common path when one
// exists. The path is the witness a message can show.
[[nodiscard]] std::optional<std::string> common_path(std::string_view glob_a, std::string_view glob_b);

}  // namespace sluice::loader

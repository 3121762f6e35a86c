// Walking the inbox, shared by scan_inbox() and the watcher's scans. Private to
// watcher/src.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace sluice::watcher::detail {

// `rel_dir` joined with `name` using '/', the form every reported path takes.
[[nodiscard]] std::string join_relative(const std::string& rel_dir, std::string_view name);

// Walks inbox/start_dir ("" is the inbox itself) depth first. For each directory
// below it whose name does not start with '.', calls on_directory(relative path)
// *before* listing it (so a watch can be added before its content is read); for
// each candidate regular file calls on_file(relative path). Symbolic links are
// never followed; a candidate that is neither a directory nor a regular file
// (a symbolic link, a FIFO, a socket, a device) goes to on_other when given.
// An error opening start_dir throws std::filesystem::filesystem_error when
// `throw_on_start_error`, else it is logged; errors below start_dir are logged and
// that directory is skipped (a writer may remove it at any moment).
void walk_tree(const std::filesystem::path& inbox, const std::string& start_dir,
               bool throw_on_start_error,
               const std::function<void(const std::string&)>& on_directory,
               const std::function<void(const std::string&)>& on_file,
               const std::function<void(const std::string&)>& on_other = {});

}  // namespace sluice::watcher::detail

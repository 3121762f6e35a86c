#include <algorithm>
#include <string_view>

#include "watcher/logger.h"
#include "watcher/inbox_watcher.h"
#include "watcher/tree.h"

namespace fs = std::filesystem;

namespace sluice::watcher {

bool is_candidate(const std::string& relative_path) {
  const std::string_view path = relative_path;
  if (path.empty() || path.front() == '/') {
    return false;
  }
  std::size_t component_start = 0;
  while (true) {
    const std::size_t slash = path.find('/', component_start);
    const std::string_view component = path.substr(
        component_start, slash == std::string_view::npos ? std::string_view::npos
                                                         : slash - component_start);
    // Also rejects "." and "..", so a candidate never leaves the inbox.
    if (component.empty() || component.front() == '.') {
      return false;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    component_start = slash + 1;
  }
  return !path.ends_with(".tmp") && !path.ends_with(".part");
}

std::vector<std::string> scan_inbox(const fs::path& inbox, std::vector<std::string>* not_regular) {
  std::vector<std::string> files;
  std::function<void(const std::string&)> on_other;
  if (not_regular != nullptr) on_other = [not_regular](const std::string& rel) { not_regular->push_back(rel); };
  detail::walk_tree(
      inbox, "", /*throw_on_start_error=*/true, [](const std::string&) {},
      [&files](const std::string& rel) { files.push_back(rel); }, on_other);
  std::sort(files.begin(), files.end());
  if (not_regular != nullptr) std::sort(not_regular->begin(), not_regular->end());
  return files;
}

namespace detail {

std::string join_relative(const std::string& rel_dir, std::string_view name) {
  if (rel_dir.empty()) {
    return std::string(name);
  }
  std::string joined;
  joined.reserve(rel_dir.size() + 1 + name.size());
  joined.append(rel_dir).append("/").append(name);
  return joined;
}

namespace {

void walk_directory(const fs::path& inbox, const std::string& rel_dir, bool throw_on_error,
                    const std::function<void(const std::string&)>& on_directory,
                    const std::function<void(const std::string&)>& on_file,
                    const std::function<void(const std::string&)>& on_other) {
  const fs::path dir_path = rel_dir.empty() ? inbox : inbox / rel_dir;
  std::error_code ec;
  fs::directory_iterator entries(dir_path, ec);
  if (ec) {
    if (throw_on_error) {
      throw fs::filesystem_error("cannot read the inbox directory", dir_path, ec);
    }
    logger()->warn("cannot read directory {}: {}; skipped", dir_path.string(), ec.message());
    return;
  }
  for (; entries != fs::directory_iterator(); entries.increment(ec)) {
    if (ec) {
      break;
    }
    const std::string name = entries->path().filename().string();
    if (name.empty() || name.front() == '.') {
      continue;
    }
    const std::string rel = join_relative(rel_dir, name);
    std::error_code status_ec;
    const fs::file_status status = entries->symlink_status(status_ec);
    if (status_ec) {
      continue;  // vanished between listing and stat
    }
    if (fs::is_directory(status)) {
      on_directory(rel);
      walk_directory(inbox, rel, false, on_directory, on_file, on_other);
    } else if (fs::is_regular_file(status) && is_candidate(rel)) {
      on_file(rel);
    } else if (on_other && is_candidate(rel)) {
      on_other(rel);
    }
  }
  if (ec) {
    logger()->warn("listing directory {} stopped early: {}", dir_path.string(), ec.message());
  }
}

}  // namespace

void walk_tree(const fs::path& inbox, const std::string& start_dir, bool throw_on_start_error,
               const std::function<void(const std::string&)>& on_directory,
               const std::function<void(const std::string&)>& on_file,
               const std::function<void(const std::string&)>& on_other) {
  walk_directory(inbox, start_dir, throw_on_start_error, on_directory, on_file, on_other);
}

}  // namespace detail
}  // namespace sluice::watcher

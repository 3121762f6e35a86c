#include "loader/sources/files/parked_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "loader/log.h"
#include "warehouse/log.h"

namespace sluice::loader {

void parked_files::park(const tracked_file& t) {
  int copy = ::fcntl(t.fd->get(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    files_log()->warn("{} {}: cannot keep a descriptor of it ({}); should it be deleted before it is looked at again,"
                      " the rest of it is not read", t.feed->name, t.path, std::strerror(errno));
    return;
  }
  parked_[{t.stat.device, t.stat.inode}] = parked_file{unique_fd(copy), t.feed->name, t.path};
}

std::vector<sighting> parked_files::deleted(const std::string& path, const opened_file& opened,
                                            const std::function<const feed_plan*(const std::string&)>& feed_named,
                                            const std::function<bool(const inode&)>& held) {
  std::vector<sighting> out;
  for (auto it = parked_.begin(); it != parked_.end();) {
    auto& [key, kept_file] = *it;
    if (kept_file.path != path) {
      ++it;
      continue;
    }
    struct stat now {};
    bool there = !opened.gone && opened.refusal.empty() && static_cast<std::int64_t>(opened.st.st_dev) == key.first &&
                 static_cast<std::int64_t>(opened.st.st_ino) == key.second;
    const feed_plan* feed = feed_named(kept_file.feed);
    if (there || held(key) || ::fstat(kept_file.fd.get(), &now) != 0 || now.st_nlink > 0 || feed == nullptr) {
      it = parked_.erase(it);
      continue;
    }
    opened_file kept;
    kept.fd = unique_fd(::fcntl(kept_file.fd.get(), F_DUPFD_CLOEXEC, 0));
    kept.st = now;
    if (kept.fd.get() < 0) {
      ++it;  // out of descriptors: parked still, looked at again
      continue;
    }
    auto as = opened.gone ? path : path + " (deleted)";
    files_log()->info("{} {}: deleted from the inbox; the rest of it is read through the descriptor sluice kept",
                      feed->name, as);
    out.push_back(sighting{as, true, feed, std::move(kept), stat_of(now)});
    ++it;
  }
  return out;
}

void parked_files::forget(const std::vector<sighting>& taken) {
  for (const auto& s : taken) parked_.erase({s.stat.device, s.stat.inode});
}

std::vector<std::string> parked_files::paths() const {
  std::vector<std::string> out;
  for (const auto& [key, p] : parked_) out.push_back(p.path);
  return out;
}

}  // namespace sluice::loader

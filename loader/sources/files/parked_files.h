// Descriptors kept of files whose batches failed. Such a file is let go and
// looked at again by its path (a retry); until it is tracked (or found loaded)
// again a descriptor of it is kept here, by (device, inode), so that one
// deleted meanwhile is still read to its end: a log rotated away while the
// warehouse was down is not lost. A file that still has a name (renamed) is
// found under it as any file, and forgotten here.
//
// Threading: the loader's thread only. Errors: none; a descriptor that cannot
// be copied is said in a WARN (the file is then only found by its name).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "loader/sources/files/identity.h"
#include "loader/sources/files/tracked_file.h"

namespace sluice::loader {

class parked_files {
 public:
  using inode = std::pair<std::int64_t, std::int64_t>;

  // Keeps a copy of t's descriptor.
  void park(const tracked_file& t);

  // Sightings, through a copy of the kept descriptor, of the files parked
  // under `path` that were deleted (no name left): under that path, or
  // "<path> (deleted)" when another file took it (`opened` is what the path
  // holds now). Read as settled: a deleted file is done. A parked file that is
  // back at its path, held (`held`), renamed, or of a feed no longer declared
  // (`feed_named`) is forgotten here; a deleted one once forget() is told.
  [[nodiscard]] std::vector<sighting> deleted(const std::string& path, const opened_file& opened,
                                              const std::function<const feed_plan*(const std::string&)>& feed_named,
                                              const std::function<bool(const inode&)>& held);

  // The files of these sightings were taken (identity decided about them).
  void forget(const std::vector<sighting>& taken);

  // The paths the parked files had (looked at again while they are parked).
  [[nodiscard]] std::vector<std::string> paths() const;

 private:
  struct parked_file {
    unique_fd fd;
    std::string feed;  // by name: feeds may be read again meanwhile
    std::string path;
  };
  std::map<inode, parked_file> parked_;
};

}  // namespace sluice::loader

// Test support shared by every test executable: a private temporary directory.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace sluice::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "sluice-test-") {
    std::random_device entropy;
    path_ = std::filesystem::temp_directory_path() /
            (prefix + std::to_string(entropy()) + std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `content` (creating parent directories) and closes the file. In
// place: a file already at `path` is truncated and rewritten (same inode),
// as a producer without a rename does; sluice_fixture::write_file is the
// careful producer that renames a finished file into place.
inline void write_in_place(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

}  // namespace sluice::testing

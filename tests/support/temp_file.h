// Helpers shared by the loader unit tests: a temp file holding test bytes, and
// reading every record a record_reader yields.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loader/bytes/content_hash.h"
#include "loader/formats/record_reader.h"

#include "support/gzip.h"

namespace sluice::testing {

// A uniquely named file under the system temp dir (mkstemp), open for reading
// and writing, removed when this goes out of scope.
class temp_file {
 public:
  explicit temp_file(std::string_view content = {}) {
    auto pattern = (std::filesystem::temp_directory_path() / "sluice-loader-test-XXXXXX").string();
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) throw std::runtime_error("mkstemp failed for " + pattern);
    path_ = pattern;
    append(content);
  }
  ~temp_file() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  // Appends at the end, as a writer growing the file would.
  void append(std::string_view bytes) {
    auto at = static_cast<off_t>(size());
    std::size_t written = 0;
    while (written < bytes.size()) {
      auto n = ::pwrite(fd_, bytes.data() + written, bytes.size() - written,
                        at + static_cast<off_t>(written));
      if (n <= 0) throw std::runtime_error("pwrite failed on " + path_);
      written += static_cast<std::size_t>(n);
    }
  }
  void truncate(std::uint64_t length) {
    if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) {
      throw std::runtime_error("ftruncate failed on " + path_);
    }
  }
  [[nodiscard]] std::uint64_t size() const {
    auto end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0) throw std::runtime_error("lseek failed on " + path_);
    return static_cast<std::uint64_t>(end);
  }
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A record with its text copied out of the reader's buffer.
struct owned_record {
  std::string text;
  std::uint64_t offset = 0;
  std::uint64_t line = 0;
  std::uint64_t ordinal = 0;
  std::uint64_t size = 0;
  sluice::loader::flaw defect = sluice::loader::flaw::none;
};

inline owned_record own(const sluice::loader::record& rec) {
  return {std::string(rec.text), rec.offset, rec.line, rec.ordinal, rec.size, rec.defect};
}

// Every record the reader returns until it returns nothing.
inline std::vector<owned_record> read_all(sluice::loader::record_reader& reader) {
  std::vector<owned_record> out;
  while (auto rec = reader.next()) out.push_back(own(*rec));
  return out;
}

inline sluice::loader::reader_options small_buffers(std::size_t initial, std::size_t max,
                                                   std::size_t keep = 1 << 20) {
  sluice::loader::reader_options options;
  options.initial_buffer_bytes = initial;
  options.max_record_bytes = max;
  options.raw_keep_bytes = keep;
  return options;
}

// Several (initial buffer, max record) pairs, so that records straddle
// refills: a Catch2 GENERATE, the test runs once per pair. The smallest max
// is the test's (it must hold the test's longest record).
inline sluice::loader::reader_options generated_small_buffers(std::size_t smallest_max) {
  auto initial = GENERATE(as<std::size_t>{}, 16, 64, 4096);
  auto max = GENERATE_COPY(as<std::size_t>{}, smallest_max, 100, 1 << 20);
  return small_buffers(initial, max);
}

inline std::string hash_of(std::string_view bytes) {
  return sluice::loader::content_hash::of({bytes.data(), bytes.size()});
}

}  // namespace sluice::testing

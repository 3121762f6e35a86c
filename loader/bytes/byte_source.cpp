#include "loader/bytes/byte_source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

namespace sluice::loader {

namespace {

class plain_source final : public byte_source {
 public:
  plain_source(int fd, std::uint64_t limit) : fd_(fd), limit_(limit) {}

  std::size_t read(char* out, std::size_t size, std::uint64_t offset) override {
    if (offset >= limit_) return 0;
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size, limit_ - offset));
    while (true) {
      auto n = ::pread(fd_, out, want, static_cast<off_t>(offset));
      if (n > 0) return static_cast<std::size_t>(n);
      if (n == 0) {
        limit_ = offset;  // the file shrank under us: what there is, is all
        return 0;
      }
      if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "read failed");
    }
  }
  void set_limit(std::uint64_t file_bytes) override { limit_ = file_bytes; }
  source_state state() const noexcept override { return source_state::readable; }
  std::string problem() const override { return {}; }
  bool compressed() const noexcept override { return false; }
  std::uint64_t check_integrity() override { return limit_; }

 private:
  int fd_;
  std::uint64_t limit_;
};

}  // namespace

std::string lost_part::describe() const {
  std::string members = first_member == last_member
                            ? "gzip member " + std::to_string(first_member)
                            : "gzip members " + std::to_string(first_member) + "-" + std::to_string(last_member);
  return members + " (compressed bytes " + std::to_string(from) + ".." + std::to_string(to) +
         " of the file, end excluded) could not be used: " + why + "; nothing of it was loaded";
}

std::unique_ptr<byte_source> make_plain_source(int fd, std::uint64_t limit) {
  return std::make_unique<plain_source>(fd, limit);
}

bool is_gzip_path(std::string_view path) noexcept { return path.ends_with(".gz"); }

std::unique_ptr<byte_source> make_source(std::string_view path, int fd, std::uint64_t limit) {
  if (is_gzip_path(path)) return make_gzip_source(fd, limit);
  return make_plain_source(fd, limit);
}

std::string read_content(byte_source& source, std::uint64_t from, std::uint64_t to) {
  std::string out(to > from ? to - from : 0, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    auto n = source.read(out.data() + got, out.size() - got, from + got);
    if (n == 0) break;
    got += n;
  }
  out.resize(got);
  return out;
}

}  // namespace sluice::loader

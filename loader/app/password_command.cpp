#include "loader/app/password_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <string_view>

#include "loader/app/run.h"
#include "warehouse/connection.h"

namespace sluice::app {

namespace {

std::string generate_password() {
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::ifstream random("/dev/urandom", std::ios::binary);
  std::string out;
  while (out.size() < 32) {
    char byte = 0;
    if (!random.get(byte)) throw std::runtime_error("cannot read /dev/urandom");
    auto value = static_cast<unsigned char>(byte);
    if (value >= 248) continue;  // 248 = 4 * 62: keeps every character equally likely
    out += alphabet[value % alphabet.size()];
  }
  return out;
}

// Writes `text` and a newline to `path`, created 0600 (never an existing file).
void write_private(const std::filesystem::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(errno));
  std::string line = text + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    std::filesystem::remove(path);
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(saved));
  }
}

}  // namespace

int set_password(const std::string& dsn, const std::string& role, const std::filesystem::path& out) {
  if (!std::regex_match(role, std::regex("[a-z_][a-z0-9_$]*"))) {
    log()->error("'{}' is not a role name sluice sets passwords for (lower-case letters, digits, _ and $)", role);
    return 1;
  }
  auto temporary = out;
  temporary += ".new";
  std::filesystem::remove(temporary);
  bool sent = false;
  try {
    auto password = generate_password();
    write_private(temporary, password);
    warehouse::connection wh(dsn);
    sent = true;
    wh.set_password(role, password);
    std::filesystem::rename(temporary, out);
    log()->info("role {} on {} has a new password, kept in {} (mode 0600)", role, wh.target(), out.string());
    return 0;
  } catch (const std::exception& e) {
    if (sent) {
      // The server may have taken it (a connection lost at the commit): the
      // only copy stays.
      log()->error("role {}: the password may not have been changed: {}; the new one is kept in {} (if the old"
                   " password no longer works, it is that one)",
                   role, e.what(), temporary.string());
      return 1;
    }
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    log()->error("role {}: the password was not changed: {}", role, e.what());
    return 1;
  }
}

}  // namespace sluice::app

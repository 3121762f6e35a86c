// is_candidate, scan_inbox and the inotify buffer parser: no io_context involved.
#include <sys/inotify.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"
#include <cstring>
#include "watcher/inotify_buffer.h"

#include <filesystem>
#include <fstream>
#include <random>
#include "watcher/inbox_watcher.h"
#include <string>
#include <vector>

using namespace sluice::watcher;
namespace fs = std::filesystem;

namespace {

using sluice::testing::temp_dir;
using sluice::testing::write_in_place;

}  // namespace

TEST_CASE("finished data files are candidates at any depth", "[watcher][candidate]") {
  CHECK(is_candidate("events.ndjson"));
  CHECK(is_candidate("hubdoc/2024-01.log"));
  CHECK(is_candidate("cards/users/event-1.json"));
  CHECK(is_candidate("sales.csv"));
  // Only the name's suffix matters, not a directory's.
  CHECK(is_candidate("batch.tmp/file.json"));
  // Suffix test is case-sensitive, as documented.
  CHECK(is_candidate("upload.TMP"));
}

TEST_CASE("dotfiles in any component and .tmp or .part files are not candidates",
          "[watcher][candidate]") {
  CHECK_FALSE(is_candidate(".hidden"));
  CHECK_FALSE(is_candidate(".feed/events.json"));
  CHECK_FALSE(is_candidate("feed/.in-progress/events.json"));
  CHECK_FALSE(is_candidate("feed/.events.json.swp"));
  CHECK_FALSE(is_candidate("events.json.tmp"));
  CHECK_FALSE(is_candidate("feed/events.json.part"));
  CHECK_FALSE(is_candidate(".tmp"));
}

TEST_CASE("empty, absolute and escaping paths are not candidates", "[watcher][candidate]") {
  CHECK_FALSE(is_candidate(""));
  CHECK_FALSE(is_candidate("/etc/passwd"));
  CHECK_FALSE(is_candidate("../outside.json"));
  CHECK_FALSE(is_candidate("feed/./events.json"));
  CHECK_FALSE(is_candidate("feed//events.json"));
  CHECK_FALSE(is_candidate("feed/"));
}

TEST_CASE("scan_inbox lists candidate regular files recursively in sorted order",
          "[watcher][scan]") {
  temp_dir inbox;
  const auto& root = inbox.path();
  write_in_place(root / "b.json", "{}");
  write_in_place(root / "a" / "c.log", "x\n");
  write_in_place(root / "a" / "b" / "d.csv", "h\n");
  write_in_place(root / "a" / "b" / ".hidden.csv", "h\n");
  write_in_place(root / ".staging" / "e.json", "{}");
  write_in_place(root / "z.json.tmp", "{}");
  write_in_place(root / "a" / "y.json.part", "{}");
  fs::create_directories(root / "empty");
  fs::create_symlink(root / "b.json", root / "link.json");
  REQUIRE(::mkfifo((root / "pipe.log").c_str(), 0600) == 0);

  const std::vector<std::string> expected{"a/b/d.csv", "a/c.log", "b.json"};
  CHECK(scan_inbox(root) == expected);
}

TEST_CASE("scan_inbox of an empty inbox is empty", "[watcher][scan]") {
  temp_dir inbox;
  CHECK(scan_inbox(inbox.path()).empty());
}

TEST_CASE("scan_inbox throws a filesystem_error naming a missing inbox", "[watcher][scan]") {
  temp_dir parent;
  const auto missing = parent.path() / "no-such-inbox";
  try {
    (void)scan_inbox(missing);
    FAIL("scan_inbox did not throw");
  } catch (const fs::filesystem_error& error) {
    CHECK(error.path1() == missing);
  }
}

namespace {

// Appends one event laid out exactly as the kernel does: header, then `len`
// bytes of name padded with NULs.
void append_event(std::vector<std::byte>& buffer, int wd, std::uint32_t mask,
                  const std::string& name, std::uint32_t padded_len) {
  inotify_event header{};
  header.wd = wd;
  header.mask = mask;
  header.cookie = 7;
  header.len = padded_len;
  const auto* header_bytes = reinterpret_cast<const std::byte*>(&header);
  buffer.insert(buffer.end(), header_bytes, header_bytes + sizeof header);
  std::vector<std::byte> name_bytes(padded_len, std::byte{0});
  if (padded_len > 0) {
    std::memcpy(name_bytes.data(), name.data(), std::min<std::size_t>(name.size(), padded_len));
  }
  buffer.insert(buffer.end(), name_bytes.begin(), name_bytes.end());
}

}  // namespace

TEST_CASE("an inotify buffer with names of different lengths yields every event",
          "[watcher][inotify]") {
  std::vector<std::byte> buffer;
  append_event(buffer, 1, IN_CLOSE_WRITE, "a.json", 16);
  append_event(buffer, 2, IN_DELETE_SELF, "", 0);
  append_event(buffer, 3, IN_MOVED_TO, "a-much-longer-file-name-2024-01.ndjson", 48);
  append_event(buffer, 1, IN_MODIFY, "exactly16bytes!!", 16);  // no NUL at all

  std::vector<detail::inotify_record> records;
  const auto consumed = detail::parse_inotify_buffer(buffer, records);

  CHECK(consumed == buffer.size());
  REQUIRE(records.size() == 4);
  CHECK(records[0].wd == 1);
  CHECK(records[0].mask == IN_CLOSE_WRITE);
  CHECK(records[0].name == "a.json");
  CHECK(records[1].wd == 2);
  CHECK(records[1].name.empty());
  CHECK(records[2].name == "a-much-longer-file-name-2024-01.ndjson");
  CHECK(records[2].cookie == 7);
  CHECK(records[3].mask == IN_MODIFY);
  CHECK(records[3].name == "exactly16bytes!!");
}

TEST_CASE("an inotify buffer that is not aligned still parses", "[watcher][inotify]") {
  std::vector<std::byte> buffer{std::byte{0xff}};  // shifts every event by one byte
  append_event(buffer, 5, IN_MOVED_TO, "shifted.log", 16);
  std::vector<detail::inotify_record> records;
  const auto consumed =
      detail::parse_inotify_buffer(std::span<const std::byte>(buffer).subspan(1), records);
  CHECK(consumed == buffer.size() - 1);
  REQUIRE(records.size() == 1);
  CHECK(records[0].wd == 5);
  CHECK(records[0].name == "shifted.log");
}

TEST_CASE("an inotify buffer cut inside an event stops before that event",
          "[watcher][inotify]") {
  std::vector<std::byte> buffer;
  append_event(buffer, 1, IN_CLOSE_WRITE, "whole.json", 16);
  const auto first_size = buffer.size();
  append_event(buffer, 1, IN_CLOSE_WRITE, "cut.json", 16);

  for (std::size_t cut = first_size; cut < buffer.size(); ++cut) {
    std::vector<detail::inotify_record> records;
    const auto consumed =
        detail::parse_inotify_buffer(std::span<const std::byte>(buffer).first(cut), records);
    INFO("buffer cut at byte " << cut);
    CHECK(consumed == first_size);
    REQUIRE(records.size() == 1);
    CHECK(records[0].name == "whole.json");
  }
}

#include "watcher/inotify_buffer.h"

#include <sys/inotify.h>

#include <cstring>

namespace sluice::watcher::detail {

std::size_t parse_inotify_buffer(std::span<const std::byte> bytes,
                                 std::vector<inotify_record>& out) {
  std::size_t offset = 0;
  while (bytes.size() - offset >= sizeof(inotify_event)) {
    // memcpy instead of a pointer cast: the caller's buffer may not be aligned
    // for inotify_event, and this keeps the code free of aliasing questions.
    inotify_event header{};
    std::memcpy(&header, bytes.data() + offset, sizeof header);
    const std::size_t record_size = sizeof header + header.len;
    if (bytes.size() - offset < record_size) {
      break;
    }
    const auto* name = reinterpret_cast<const char*>(bytes.data() + offset + sizeof header);
    out.push_back(inotify_record{header.wd, header.mask, header.cookie,
                                 std::string_view(name, ::strnlen(name, header.len))});
    offset += record_size;
  }
  return offset;
}

}  // namespace sluice::watcher::detail

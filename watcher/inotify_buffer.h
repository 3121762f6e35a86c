// sluice::watcher internals: splitting what read() returns from an inotify
// descriptor into events. Not part of the module's API; public only so that unit
// tests can feed it synthetic buffers (odd name lengths, truncation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace sluice::watcher::detail {

struct inotify_record {
  int wd;
  std::uint32_t mask;
  std::uint32_t cookie;
  std::string_view name;  // points into the buffer; NUL padding removed; empty for the watched dir itself
};

// Appends one record per complete `struct inotify_event` in `bytes` (events are
// variable length: a fixed header followed by `len` bytes of NUL-padded name).
// Headers are copied out, so `bytes` needs no particular alignment. Returns how
// many bytes were consumed; less than bytes.size() means the buffer ended inside
// an event, which a correct read() of an inotify descriptor never produces.
[[nodiscard]] std::size_t parse_inotify_buffer(std::span<const std::byte> bytes,
                                               std::vector<inotify_record>& out);

}  // namespace sluice::watcher::detail

// Where a record_reader's bytes come from: a file as it is, or the content of
// a gzip file, inflated as it is read. Offsets are always offsets in the
// content (for gzip: the decompressed bytes), which is what positions in the
// ledger and in rejects count.
//
// gzip: every member of a concatenated stream (`cat a.gz b.gz`) is content, in
// order. A stream whose end is not in the file yet (a writer still at work, or a
// cut copy) is `cut`: what could be inflated so far is content, the rest waits.
// Bytes that are not valid gzip make the source `broken`, with a message naming
// the compressed byte and zlib's reason; the content before them stays readable.
// Damage inside deflate data often inflates to garbage that only the member's
// CRC at its end reveals: check_integrity() reads the whole file once first, and
// from then on nothing of a member that fails its check is given out.
//
// Random access: reading forward is streaming. The gzip source keeps the last
// `history_bytes` of content it produced, so that a reader resuming a little
// behind (a record held back, a guard hash) does not start over; reading
// further back inflates again from the start of the file (a resumed .gz file is
// re-inflated up to its offset: acceptable, it happens on restarts).
//
// Memory: the plain source holds nothing; the gzip source an input buffer
// (256 KiB), zlib's window (32 KiB) and the history.
//
// Threading: one thread at a time. The fd is borrowed (read with pread only, so
// several sources may share it).
//
// Errors: read() throws std::system_error when the file cannot be read; bad
// gzip data is a state, not an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::loader {

enum class source_state {
  readable,  // everything up to the limit is content (gzip: the last member ended there)
  cut,       // gzip: the stream stops inside a member at the limit: not written yet, or truncated
  broken,    // gzip: invalid data; problem() says where and why
};

class byte_source {
 public:
  virtual ~byte_source() = default;
  // Up to `size` bytes of content from content offset `offset`; 0 when there
  // is no more content now (see state()).
  [[nodiscard]] virtual std::size_t read(char* out, std::size_t size, std::uint64_t offset) = 0;
  // The file may be read up to this many of its own bytes (its size when last seen).
  virtual void set_limit(std::uint64_t file_bytes) = 0;
  // Why the last read() that returned 0 did.
  [[nodiscard]] virtual source_state state() const noexcept = 0;
  // For cut and broken: what happened, where, in words for a reject or a log line.
  [[nodiscard]] virtual std::string problem() const = 0;
  // Whether offsets differ from the file's own bytes (a compressed file).
  [[nodiscard]] virtual bool compressed() const noexcept = 0;
  // gzip: inflates the file up to the limit once (as fast as zlib goes, the
  // output thrown away) and, when a member fails (bad data, bad CRC), gives out
  // nothing from that member's start on: there the source is broken. For a
  // file that is complete; a cut end is left as it is. Plain: nothing to do.
  virtual void check_integrity() {}
};

[[nodiscard]] std::unique_ptr<byte_source> make_plain_source(int fd, std::uint64_t limit);
[[nodiscard]] std::unique_ptr<byte_source> make_gzip_source(int fd, std::uint64_t limit,
                                                            std::size_t history_bytes = 4 << 20);
// A path whose content is gzip-compressed: it ends in ".gz".
[[nodiscard]] bool is_gzip_path(std::string_view path) noexcept;
// make_gzip_source for such a path, else make_plain_source.
[[nodiscard]] std::unique_ptr<byte_source> make_source(std::string_view path, int fd, std::uint64_t limit);

// Content [from, to), or less when the content ends sooner.
[[nodiscard]] std::string read_content(byte_source& source, std::uint64_t from, std::uint64_t to);

}  // namespace sluice::loader

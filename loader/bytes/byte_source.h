// Where a record_reader's bytes come from: a file as it is, or the content of
// a gzip file, inflated as it is read. Offsets are always offsets in the
// content (for gzip: the decompressed bytes), which is what positions in the
// ledger and in rejects count.
//
// gzip: every member of a concatenated stream (`cat a.gz b.gz`) is content, in
// order. A stream whose end is not in the file yet (a writer still at work, or a
// cut copy) is `cut`: what could be inflated so far is content, the rest waits.
//
// Damaged members. Damage inside deflate data often inflates to garbage that
// only the member's CRC (or its length, ISIZE) at its end reveals, so nothing of
// a member may be given out before that check: check_integrity() inflates the
// whole file once first and finds every *lost part*, which from then on gives
// no content:
//   - a member whose CRC or length check fails: the part is the member, and the
//     next member starts right after its 8-byte trailer;
//   - a member whose gzip header or deflate data is invalid (or bytes that are
//     not gzip at all): the part runs from the member's start to the next gzip
//     magic (1f 8b 08) where a member then inflates and checks whole (or is cut
//     by the end of the file), else to the end of the file.
// Adjacent lost members are one lost part. Content offsets: a lost part stands
// in the content as ONE line feed ("\n") at the offset where its member would
// have begun (lost_part::at), and the content of the members after it follows
// that byte. So offsets after a lost part differ from those of the undamaged
// file, but they are a function of the file's bytes alone: every checked source
// over the same bytes (a restart inflating again up to its offset, a refused
// row's raw text read back) lands on the same content. The byte lets a position
// tell whether a reader has passed the lost part (offset > at) and keeps a
// record before it from being glued to one after it; record_reader never makes
// it part of a record (it ends the record that the lost part cut, as a reject).
//
// An unchecked source (check_integrity() not called, or the file grew past the
// limit it was checked to) inflates as it reads: a member that then fails makes
// the source `broken`, with a message naming the compressed byte and zlib's
// reason; the content before stays readable (and what came out of the failed
// member before its check failed was given out already: only a checked source
// is safe from that).
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
#include <optional>
#include <string>
#include <string_view>

namespace sluice::loader {

// A part of a gzip file that gives no content (see above).
struct lost_part {
  std::uint64_t at = 0;            // content offset of the "\n" that stands for it
  std::uint64_t from = 0;          // the file's own bytes [from, to)
  std::uint64_t to = 0;
  std::uint64_t first_member = 0;  // 1-based numbers of the members it covers
  std::uint64_t last_member = 0;
  std::string why;                 // what was wrong with its first member
  // In words for a reject and a log line: which bytes, which member, why.
  [[nodiscard]] std::string describe() const;
};

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
  // output thrown away) and finds its lost parts (see above): from then on none
  // of their bytes is given out, each stands as one "\n". Returns the size of
  // the content up to the limit (what a reader of the whole file gets). If
  // this source had already given out content past a newly found lost part
  // (read before it was checked), it is broken there instead. A cut end is left
  // as it is. Plain: nothing to do; returns the limit.
  virtual std::uint64_t check_integrity() = 0;
  // The first lost part whose placeholder byte is at or after content offset
  // `offset` (gzip, once checked; nullopt when there is none).
  [[nodiscard]] virtual std::optional<lost_part> lost_from(std::uint64_t offset) const {
    (void)offset;
    return std::nullopt;
  }
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

// The gzip byte source: zlib's inflate over pread, every member of a
// concatenated stream in turn, with a ring of recent content for short
// look-backs (see byte_source.h).
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <system_error>
#include <vector>

#include "sluice/loader/byte_source.h"

namespace sluice::loader {

namespace {

constexpr std::size_t input_bytes = 256 << 10;
constexpr std::size_t skip_bytes = 64 << 10;

class gzip_source final : public byte_source {
 public:
  gzip_source(int fd, std::uint64_t limit, std::size_t history_bytes)
      : fd_(fd), limit_(limit), history_capacity_(std::max<std::size_t>(history_bytes, 1)) {
    std::memset(&stream_, 0, sizeof stream_);
    // 16 + MAX_WBITS: gzip wrapper (header and trailer checked), largest window.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
  }
  ~gzip_source() override { inflateEnd(&stream_); }
  gzip_source(const gzip_source&) = delete;
  gzip_source& operator=(const gzip_source&) = delete;

  std::size_t read(char* out, std::size_t size, std::uint64_t offset) override {
    if (size == 0) return 0;
    if (offset < produced_) {
      if (offset >= produced_ - remembered_) return recall(out, size, offset);
      restart();
    }
    while (produced_ < offset) {
      char scratch[skip_bytes];
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof scratch, offset - produced_));
      if (produce(scratch, want) == 0) return 0;
    }
    return produce(out, size);
  }

  void set_limit(std::uint64_t file_bytes) override { limit_ = file_bytes; }
  source_state state() const noexcept override { return state_; }
  std::string problem() const override { return problem_; }
  bool compressed() const noexcept override { return true; }

  void check_integrity() override {
    gzip_source pass(fd_, limit_, 1);
    std::vector<char> sink(256 << 10);
    while (pass.produce(sink.data(), sink.size()) > 0) {
    }
    if (pass.state_ == source_state::broken) {
      trusted_end_ = pass.last_member_end_;
      trusted_problem_ = pass.problem_;
    } else {
      trusted_end_.reset();
    }
  }

 private:
  void restart() {
    inflateReset(&stream_);
    stream_.avail_in = 0;
    stream_.next_in = nullptr;
    read_offset_ = 0;
    produced_ = 0;
    remembered_ = 0;
    members_ = 0;
    last_member_end_ = 0;
    between_members_ = true;
    state_ = source_state::readable;
    problem_.clear();
  }

  // Inflates up to `size` bytes into `out`; 0 when no more can be had now.
  std::size_t produce(char* out, std::size_t size) {
    if (state_ == source_state::broken) return 0;
    if (trusted_end_) {
      // A member failed its check: nothing from its start on is content.
      if (produced_ >= *trusted_end_) {
        state_ = source_state::broken;
        problem_ = trusted_problem_ + " (found before loading: nothing of that gzip member was loaded)";
        return 0;
      }
      size = static_cast<std::size_t>(std::min<std::uint64_t>(size, *trusted_end_ - produced_));
    }
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    stream_.avail_out = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    std::size_t asked = stream_.avail_out;
    while (stream_.avail_out > 0) {
      if (stream_.avail_in == 0 && !refill()) break;
      if (between_members_) {
        inflateReset(&stream_);
        between_members_ = false;
        member_start_ = read_offset_ - stream_.avail_in;
      }
      int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        between_members_ = true;
        ++members_;
        last_member_end_ = produced_ + (asked - stream_.avail_out);
        continue;
      }
      if (rc == Z_OK) continue;
      if (rc == Z_BUF_ERROR) {
        if (stream_.avail_in == 0) continue;  // needs input: refill, or stop at the limit
        break;
      }
      if (rc == Z_MEM_ERROR) throw std::bad_alloc();
      broke(rc);
      break;
    }
    std::size_t got = asked - stream_.avail_out;
    remember(out, got);
    produced_ += got;
    if (got == 0 && state_ != source_state::broken) {
      state_ = between_members_ && members_ > 0 ? source_state::readable : source_state::cut;
      if (members_ == 0 && read_offset_ == 0) state_ = source_state::readable;  // an empty file
      if (state_ == source_state::cut) {
        problem_ = "the gzip stream ends inside member " + std::to_string(members_ + 1) + " (which starts at byte " +
                   std::to_string(member_start_) + " of the file) without its end marker: the file is truncated" +
                   " or still being written";
      } else {
        problem_.clear();
      }
    }
    return got;
  }

  bool refill() {
    if (read_offset_ >= limit_) return false;
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(input_bytes, limit_ - read_offset_));
    if (input_.size() < want) input_.resize(std::min(input_bytes, std::max(want, 2 * input_.size())));
    ssize_t n = 0;
    while (true) {
      n = ::pread(fd_, input_.data(), want, static_cast<off_t>(read_offset_));
      if (n >= 0) break;
      if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "read failed");
    }
    if (n == 0) {
      limit_ = read_offset_;  // shrank
      return false;
    }
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(n);
    read_offset_ += static_cast<std::uint64_t>(n);
    return true;
  }

  void broke(int rc) {
    state_ = source_state::broken;
    std::uint64_t at = read_offset_ - stream_.avail_in;
    std::string why = stream_.msg != nullptr ? stream_.msg : (rc == Z_NEED_DICT ? "needs a preset dictionary" : "invalid data");
    if (members_ > 0 && why == "incorrect header check") {
      problem_ = "the file is not gzip data from byte " + std::to_string(member_start_) + " on (after " +
                 std::to_string(members_) + " complete gzip member" + (members_ == 1 ? "" : "s") +
                 "): zlib says " + why;
    } else if (members_ == 0 && why == "incorrect header check") {
      problem_ = "the file is not gzip data (its name ends in .gz; zlib says " + why + ")";
    } else {
      problem_ = "the gzip data is corrupt near byte " + std::to_string(at) + " of the file (member " +
                 std::to_string(members_ + 1) + "): zlib says " + why;
    }
  }

  void remember(const char* data, std::size_t size) {
    auto capacity = history_capacity_;
    if (history_.size() < capacity) {
      if (produced_ + size <= history_.size()) {
        // fits in what the ring holds already
      } else if (produced_ + size < capacity) {
        // Until the content outgrows the ring, the ring is only as long as the
        // content (a small file never pays for the whole history).
        history_.resize(std::max<std::size_t>(static_cast<std::size_t>(produced_ + size),
                                              std::min(capacity, 2 * history_.size())));
      } else {
        history_.resize(capacity);
      }
    }
    if (size >= capacity) {
      data += size - capacity;
      std::uint64_t start = produced_ + size - capacity;
      for (std::size_t i = 0; i < capacity;) {
        std::size_t slot = static_cast<std::size_t>((start + i) % capacity);
        std::size_t chunk = std::min(capacity - i, capacity - slot);
        std::memcpy(history_.data() + slot, data + i, chunk);
        i += chunk;
      }
      remembered_ = capacity;
      return;
    }
    for (std::size_t i = 0; i < size;) {
      std::size_t slot = static_cast<std::size_t>((produced_ + i) % capacity);
      std::size_t chunk = std::min(size - i, capacity - slot);
      std::memcpy(history_.data() + slot, data + i, chunk);
      i += chunk;
    }
    remembered_ = std::min<std::uint64_t>(capacity, remembered_ + size);
  }

  std::size_t recall(char* out, std::size_t size, std::uint64_t offset) const {
    auto capacity = history_capacity_;
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size, produced_ - offset));
    for (std::size_t i = 0; i < want;) {
      std::size_t slot = static_cast<std::size_t>((offset + i) % capacity);
      std::size_t chunk = std::min(want - i, capacity - slot);
      std::memcpy(out + i, history_.data() + slot, chunk);
      i += chunk;
    }
    return want;
  }

  int fd_;
  std::uint64_t limit_;
  z_stream stream_;
  std::vector<Bytef> input_;
  std::uint64_t read_offset_ = 0;  // next file byte to read
  std::uint64_t produced_ = 0;     // content bytes produced
  std::size_t history_capacity_;   // the ring's length once the content outgrows it
  std::vector<char> history_;      // ring: content byte o lives at o % history_capacity_ (grown on demand)
  std::uint64_t remembered_ = 0;   // how many of the last produced bytes the ring holds
  std::uint64_t members_ = 0;      // complete members
  std::uint64_t member_start_ = 0;
  std::uint64_t last_member_end_ = 0;  // content offset where the last complete member ended
  std::optional<std::uint64_t> trusted_end_;  // check_integrity(): content past this is damaged
  std::string trusted_problem_;
  bool between_members_ = true;
  source_state state_ = source_state::readable;
  std::string problem_;
};

}  // namespace

std::unique_ptr<byte_source> make_gzip_source(int fd, std::uint64_t limit, std::size_t history_bytes) {
  return std::make_unique<gzip_source>(fd, limit, history_bytes);
}

}  // namespace sluice::loader

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

#include "loader/bytes/byte_source.h"

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

  std::uint64_t check_integrity() override {
    gzip_source pass(fd_, limit_, 1);
    pass.discovering_ = true;
    std::vector<char> sink(256 << 10);
    while (pass.produce(sink.data(), sink.size()) > 0) {
    }
    // Lost parts this source has not known: if it produced content past one
    // (it was read before it was checked), that content is out already, and
    // it is broken there; if it is inside one, it starts over, past it.
    for (const auto& part : pass.lost_) {
      bool known = std::any_of(lost_.begin(), lost_.end(), [&](const lost_part& p) { return p.from == part.from; });
      if (known) continue;
      if (produced_ > part.at) {
        trusted_end_ = part.at;
        trusted_problem_ = part.describe();
        break;
      }
      if (!between_members_ || read_offset_ - stream_.avail_in > part.from) restart();
    }
    lost_ = pass.lost_;
    next_lost_ = 0;
    while (next_lost_ < lost_.size() && lost_[next_lost_].at < produced_) ++next_lost_;
    return pass.produced_;
  }

  std::optional<lost_part> lost_from(std::uint64_t offset) const override {
    auto it = std::lower_bound(lost_.begin(), lost_.end(), offset,
                               [](const lost_part& p, std::uint64_t o) { return p.at < o; });
    if (it == lost_.end()) return std::nullopt;
    return *it;
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
    member_number_ = 0;
    next_lost_ = 0;
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
    // zlib may still owe output for input it has taken (a back-reference
    // longer than the room it had): when the file gives no more, inflate is
    // called once more without input to get it.
    bool input_ended = false;
    while (stream_.avail_out > 0) {
      if (between_members_ && next_lost_ < lost_.size() &&
          lost_[next_lost_].from == read_offset_ - stream_.avail_in) {
        // A lost part (check_integrity): its "\n" instead of its bytes.
        const auto& part = lost_[next_lost_++];
        *stream_.next_out++ = '\n';
        --stream_.avail_out;
        member_number_ = part.last_member;
        skip_to(part.to);
        continue;
      }
      if (stream_.avail_in == 0 && !refill()) {
        if (between_members_ || input_ended) break;
        input_ended = true;
      }
      if (between_members_) {
        inflateReset(&stream_);
        between_members_ = false;
        member_start_ = read_offset_ - stream_.avail_in;
        member_content_start_ = produced_ + (asked - stream_.avail_out);
        ++member_number_;
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
      if (discovering_) {
        lose_member(out, asked);
        continue;
      }
      broke(rc);
      break;
    }
    std::size_t got = asked - stream_.avail_out;
    remember(out, got);
    produced_ += got;
    if (got == 0 && state_ != source_state::broken) {
      state_ = between_members_ && (members_ > 0 || next_lost_ > 0) ? source_state::readable : source_state::cut;
      if (members_ == 0 && read_offset_ == 0) state_ = source_state::readable;  // an empty file
      if (state_ == source_state::cut) {
        problem_ = "the gzip stream ends inside member " + std::to_string(member_number_) + " (which starts at byte " +
                   std::to_string(member_start_) + " of the file) without its end marker: the file is truncated" +
                   " or still being written";
      } else {
        problem_.clear();
      }
    }
    return got;
  }

  // Goes on reading the file at `offset`, between members.
  void skip_to(std::uint64_t offset) {
    stream_.avail_in = 0;
    stream_.next_in = nullptr;
    read_offset_ = offset;
    between_members_ = true;
  }

  // check_integrity()'s pass: the member being inflated failed. Takes back
  // what it produced (nothing of it was given out: the pass gives out
  // nothing), notes the lost part (with its "\n") and goes on where the next
  // member starts.
  void lose_member(char* out, std::size_t asked) {
    std::string zlib_says = stream_.msg != nullptr ? stream_.msg : "invalid data";
    std::uint64_t at = read_offset_ - stream_.avail_in;  // just after what zlib took
    std::uint64_t call_start = produced_;
    if (member_content_start_ >= call_start) {
      auto kept = static_cast<std::size_t>(member_content_start_ - call_start);
      stream_.next_out = reinterpret_cast<Bytef*>(out + kept);
      stream_.avail_out = static_cast<uInt>(asked - kept);
    } else {
      // Earlier calls produced part of it: they count no more.
      remembered_ -= std::min(remembered_, produced_ - member_content_start_);
      produced_ = member_content_start_;
      stream_.next_out = reinterpret_cast<Bytef*>(out);
      stream_.avail_out = static_cast<uInt>(asked);
    }
    std::uint64_t resume = 0;
    std::string why;
    if (zlib_says == "incorrect data check") {
      // zlib stops right after the CRC-32; the length (ISIZE) follows.
      resume = at + 4;
      why = "its CRC-32 does not match its data (zlib says " + zlib_says + ")";
    } else if (zlib_says == "incorrect length check") {
      resume = at;
      why = "its length (ISIZE) does not match its data (zlib says " + zlib_says + ")";
    }
    if (resume != 0 && resume < limit_) {
      // The next member must start there (else zlib stopped elsewhere than
      // after the trailer: look for it as for bad data).
      unsigned char magic[3] = {0, 0, 0};
      if (pread_fully(magic, 3, resume) != 3 || magic[0] != 0x1f || magic[1] != 0x8b || magic[2] != 0x08) resume = 0;
    }
    resume = std::min(resume, limit_);
    if (resume == 0) {
      resume = resync(member_start_ + 1);
      if (why.empty()) why = (zlib_says == "incorrect header check" ? "not gzip data (zlib says " : "invalid gzip data (zlib says ") +
            zlib_says + " near byte " + std::to_string(at) + ")";
    }
    if (!lost_.empty() && lost_.back().to == member_start_ && lost_.back().at + 1 == member_content_start_) {
      // Right after another lost part, with no content between: one part.
      lost_.back().to = resume;
      lost_.back().last_member = member_number_;
    } else {
      lost_.push_back({member_content_start_, member_start_, resume, member_number_, member_number_, why});
      *stream_.next_out++ = '\n';
      --stream_.avail_out;
    }
    next_lost_ = lost_.size();
    skip_to(resume);
  }

  // The first offset from `from` on where a gzip member header (1f 8b 08)
  // starts a member that inflates and checks whole (or runs into the limit
  // without an error); the limit when there is none.
  std::uint64_t resync(std::uint64_t from) {
    std::vector<unsigned char> chunk(64 << 10);
    std::uint64_t at = from;
    while (at + 3 <= limit_) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), limit_ - at));
      auto n = pread_fully(chunk.data(), want, at);
      if (n < 3) break;
      for (std::size_t i = 0; i + 3 <= n; ++i) {
        if (chunk[i] == 0x1f && chunk[i + 1] == 0x8b && chunk[i + 2] == 0x08 && member_checks(at + i)) return at + i;
      }
      at += n - 2;
    }
    return limit_;
  }

  // Whether a gzip member starting at `offset` inflates and checks whole.
  bool member_checks(std::uint64_t offset) {
    z_stream probe;
    std::memset(&probe, 0, sizeof probe);
    if (inflateInit2(&probe, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
    std::vector<unsigned char> in(64 << 10);
    std::vector<unsigned char> sink(64 << 10);
    bool ok = false;
    std::uint64_t at = offset;
    while (true) {
      if (probe.avail_in == 0) {
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), limit_ - std::min(limit_, at)));
        auto n = want == 0 ? 0 : pread_fully(in.data(), want, at);
        if (n == 0) {
          ok = true;  // cut by the end of what there is: not wrong (yet)
          break;
        }
        at += n;
        probe.next_in = in.data();
        probe.avail_in = static_cast<uInt>(n);
      }
      probe.next_out = sink.data();
      probe.avail_out = static_cast<uInt>(sink.size());
      int rc = inflate(&probe, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ok = true;
        break;
      }
      if (rc == Z_OK || (rc == Z_BUF_ERROR && probe.avail_in == 0)) continue;
      break;
    }
    inflateEnd(&probe);
    return ok;
  }

  std::size_t pread_fully(unsigned char* out, std::size_t size, std::uint64_t offset) {
    std::size_t got = 0;
    while (got < size) {
      auto n = ::pread(fd_, out + got, size - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::system_error(errno, std::generic_category(), "read failed");
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
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
                 std::to_string(member_number_) + "): zlib says " + why;
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
  std::uint64_t member_start_ = 0;          // the file offset where the current member starts
  std::uint64_t member_content_start_ = 0;  // the content offset where it starts
  std::uint64_t member_number_ = 0;         // 1-based number of the current (or last) member
  std::vector<lost_part> lost_;             // known lost parts, in order (check_integrity)
  std::size_t next_lost_ = 0;               // the first of lost_ not passed yet
  bool discovering_ = false;                // check_integrity()'s pass: failing members are lost parts
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

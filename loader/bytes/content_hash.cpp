#include "loader/bytes/content_hash.h"

#include <xxhash.h>

#include <new>

namespace sluice::loader {

struct content_hash::state {
  XXH3_state_t* xxh;
  state() : xxh(XXH3_createState()) {
    if (xxh == nullptr) throw std::bad_alloc();
    XXH3_128bits_reset(xxh);
  }
  state(const state& other) : xxh(XXH3_createState()) {
    if (xxh == nullptr) throw std::bad_alloc();
    XXH3_copyState(xxh, other.xxh);
  }
  state& operator=(const state&) = delete;
  ~state() { XXH3_freeState(xxh); }
};

content_hash::content_hash() : state_(std::make_unique<state>()) {}
content_hash::content_hash(const content_hash& other)
    : state_(std::make_unique<state>(*other.state_)) {}
content_hash& content_hash::operator=(const content_hash& other) {
  if (this != &other) state_ = std::make_unique<state>(*other.state_);
  return *this;
}
content_hash::content_hash(content_hash&&) noexcept = default;
content_hash& content_hash::operator=(content_hash&&) noexcept = default;
content_hash::~content_hash() = default;

void content_hash::update(std::span<const char> bytes) {
  XXH3_128bits_update(state_->xxh, bytes.data(), bytes.size());
}

std::string content_hash::hex() const {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_->xxh));
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char byte : canonical.digest) {
    out += digits[byte >> 4];
    out += digits[byte & 0xf];
  }
  return out;
}

std::string content_hash::of(std::span<const char> bytes) {
  content_hash h;
  h.update(bytes);
  return h.hex();
}

}  // namespace sluice::loader

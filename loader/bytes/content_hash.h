// A running XXH3-128 over a file's bytes, as stored in sluice.files.done_hash.
// Copyable (a copy continues independently); not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace sluice::loader {

class content_hash {
 public:
  content_hash();
  content_hash(const content_hash& other);
  content_hash& operator=(const content_hash& other);
  content_hash(content_hash&&) noexcept;
  content_hash& operator=(content_hash&&) noexcept;
  ~content_hash();

  void update(std::span<const char> bytes);
  // 32 hex digits of the hash of everything updated so far.
  [[nodiscard]] std::string hex() const;

  // Hash of one buffer.
  [[nodiscard]] static std::string of(std::span<const char> bytes);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace sluice::loader

// PostgreSQL binary COPY encoding (the "COPY BINARY" file format of the
// PostgreSQL manual, "COPY" page): a header, rows of length-prefixed
// big-endian fields, a trailer. Values are already validated when they get here.
//
// A row is built field by field; if a later field turns out to be invalid the
// caller abandons the row with rollback_row() and the buffer is as before.
//
// The buffer is one malloc'd block grown with realloc (large blocks move by
// remapping pages, not copying them); fields are stored with direct writes,
// not per-field string appends: this is the loader's innermost loop.
// Move-only.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::loader {

class copy_encoder {
 public:
  copy_encoder();
  copy_encoder(copy_encoder&& other) noexcept;
  copy_encoder& operator=(copy_encoder&& other) noexcept;
  copy_encoder(const copy_encoder&) = delete;
  copy_encoder& operator=(const copy_encoder&) = delete;
  ~copy_encoder() = default;

  void begin_row(std::int16_t field_count);
  void rollback_row() noexcept { size_ = row_start_; }
  void end_row() noexcept { ++rows_; }

  void put_null() { put_be32(static_cast<std::uint32_t>(-1)); }
  void put_bool(bool value);
  void put_int2(std::int16_t value);
  void put_int4(std::int32_t value);
  void put_int8(std::int64_t value);
  void put_float4(float value);
  void put_float8(double value);
  void put_text(std::string_view value);   // text, varchar, bpchar, json: UTF-8 bytes
  void put_bytea(std::span<const char> value);
  void put_jsonb(std::string_view json);   // jsonb binary: version 1 + JSON text
  void put_timestamp(std::int64_t micros_since_2000);  // timestamp and timestamptz
  void put_date(std::int32_t days_since_2000);
  void put_time(std::int64_t micros_since_midnight);
  void put_interval(std::int64_t micros, std::int32_t days, std::int32_t months);
  void put_uuid(const std::array<unsigned char, 16>& bytes);
  // numeric: base-10000 digits, most significant first (see numeric.h).
  void put_numeric(std::int16_t weight, std::uint16_t sign, std::uint16_t dscale,
                   std::span<const std::int16_t> digits);

  // Fields already in binary COPY form (each its length, then its bytes), as
  // they are: a row copied from another server's binary COPY.
  void put_encoded(std::string_view fields) { put_bytes(fields.data(), fields.size()); }

  [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }
  [[nodiscard]] bool empty() const noexcept { return rows_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // The whole COPY stream: header, rows, trailer. Call once, when done adding rows.
  [[nodiscard]] std::span<const char> finish();
  // The rows alone, without header and trailer: what each of several encoders
  // sends into one COPY stream that stream_header() opens and
  // stream_trailer() closes.
  [[nodiscard]] std::span<const char> row_bytes() const noexcept;
  [[nodiscard]] static std::span<const char> stream_header() noexcept;
  [[nodiscard]] static std::span<const char> stream_trailer() noexcept;

  // Where each row starts, plus where the last one ends (rows() + 1 offsets),
  // found by walking the encoded rows: nothing is kept per row while encoding.
  [[nodiscard]] std::vector<std::size_t> row_offsets() const;
  // A complete COPY stream (header, rows [first, last), trailer) from offsets
  // that row_offsets() returned: what a split batch sends.
  [[nodiscard]] std::string stream_of(const std::vector<std::size_t>& offsets, std::size_t first,
                                      std::size_t last) const;

 private:
  void put_be16(std::uint16_t value);
  void put_be32(std::uint32_t value);
  void put_be64(std::uint64_t value);
  void put_bytes(const void* bytes, std::size_t size);
  // Room for `size` more bytes; returns where they go.
  char* make_room(std::size_t size) {
    if (size_ + size > capacity_) grow(size_ + size);
    return data_.get() + size_;
  }
  void grow(std::size_t needed);

  struct free_block {
    void operator()(char* block) const noexcept { std::free(block); }
  };
  std::unique_ptr<char, free_block> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t row_start_ = 0;
  std::uint64_t rows_ = 0;
  bool finished_ = false;
};

}  // namespace sluice::loader

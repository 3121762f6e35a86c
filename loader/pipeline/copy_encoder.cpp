#include "loader/pipeline/copy_encoder.h"

#include <bit>
#include <new>
#include <utility>

namespace sluice::loader {

namespace {
// "PGCOPY\n\377\r\n\0", then flags (int32 0) and header extension length (int32 0).
constexpr char header[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\xff', '\r', '\n', '\0',
                           0,   0,   0,   0,   0,   0,   0,    0};
}  // namespace

copy_encoder::copy_encoder() { put_bytes(header, sizeof header); }

copy_encoder::copy_encoder(copy_encoder&& other) noexcept
    : data_(std::move(other.data_)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      row_start_(other.row_start_),
      rows_(std::exchange(other.rows_, 0)),
      finished_(other.finished_) {}

copy_encoder& copy_encoder::operator=(copy_encoder&& other) noexcept {
  if (this != &other) {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    row_start_ = other.row_start_;
    rows_ = std::exchange(other.rows_, 0);
    finished_ = other.finished_;
  }
  return *this;
}

void copy_encoder::grow(std::size_t needed) {
  std::size_t capacity = std::max<std::size_t>(capacity_ * 2, 4096);
  while (capacity < needed) capacity *= 2;
  auto* block = static_cast<char*>(std::realloc(data_.get(), capacity));
  if (block == nullptr) throw std::bad_alloc();
  (void)data_.release();
  data_.reset(block);
  capacity_ = capacity;
}

void copy_encoder::put_bytes(const void* bytes, std::size_t size) {
  std::memcpy(make_room(size), bytes, size);
  size_ += size;
}

void copy_encoder::put_be16(std::uint16_t value) {
  value = static_cast<std::uint16_t>((value >> 8) | (value << 8));
  std::memcpy(make_room(2), &value, 2);
  size_ += 2;
}

void copy_encoder::put_be32(std::uint32_t value) {
  value = __builtin_bswap32(value);
  std::memcpy(make_room(4), &value, 4);
  size_ += 4;
}

void copy_encoder::put_be64(std::uint64_t value) {
  value = __builtin_bswap64(value);
  std::memcpy(make_room(8), &value, 8);
  size_ += 8;
}

void copy_encoder::begin_row(std::int16_t field_count) {
  row_start_ = size_;
  put_be16(static_cast<std::uint16_t>(field_count));
}

void copy_encoder::put_bool(bool value) {
  put_be32(1);
  char byte = value ? '\1' : '\0';
  put_bytes(&byte, 1);
}

void copy_encoder::put_int2(std::int16_t value) {
  put_be32(2);
  put_be16(static_cast<std::uint16_t>(value));
}

void copy_encoder::put_int4(std::int32_t value) {
  put_be32(4);
  put_be32(static_cast<std::uint32_t>(value));
}

void copy_encoder::put_int8(std::int64_t value) {
  put_be32(8);
  put_be64(static_cast<std::uint64_t>(value));
}

void copy_encoder::put_float4(float value) {
  put_be32(4);
  put_be32(std::bit_cast<std::uint32_t>(value));
}

void copy_encoder::put_float8(double value) {
  put_be32(8);
  put_be64(std::bit_cast<std::uint64_t>(value));
}

void copy_encoder::put_text(std::string_view value) {
  char* at = make_room(4 + value.size());
  auto length = __builtin_bswap32(static_cast<std::uint32_t>(value.size()));
  std::memcpy(at, &length, 4);
  std::memcpy(at + 4, value.data(), value.size());
  size_ += 4 + value.size();
}

void copy_encoder::put_bytea(std::span<const char> value) {
  put_be32(static_cast<std::uint32_t>(value.size()));
  put_bytes(value.data(), value.size());
}

void copy_encoder::put_jsonb(std::string_view json) {
  put_be32(static_cast<std::uint32_t>(json.size() + 1));
  char version = '\1';
  put_bytes(&version, 1);
  put_bytes(json.data(), json.size());
}

void copy_encoder::put_timestamp(std::int64_t micros_since_2000) {
  put_int8(micros_since_2000);
}

void copy_encoder::put_date(std::int32_t days_since_2000) { put_int4(days_since_2000); }

void copy_encoder::put_time(std::int64_t micros_since_midnight) { put_int8(micros_since_midnight); }

void copy_encoder::put_interval(std::int64_t micros, std::int32_t days, std::int32_t months) {
  put_be32(16);
  put_be64(static_cast<std::uint64_t>(micros));
  put_be32(static_cast<std::uint32_t>(days));
  put_be32(static_cast<std::uint32_t>(months));
}

void copy_encoder::put_uuid(const std::array<unsigned char, 16>& bytes) {
  put_be32(16);
  put_bytes(bytes.data(), bytes.size());
}

void copy_encoder::put_numeric(std::int16_t weight, std::uint16_t sign, std::uint16_t dscale,
                               std::span<const std::int16_t> digits) {
  put_be32(static_cast<std::uint32_t>(8 + 2 * digits.size()));
  put_be16(static_cast<std::uint16_t>(digits.size()));
  put_be16(static_cast<std::uint16_t>(weight));
  put_be16(sign);
  put_be16(dscale);
  for (auto digit : digits) put_be16(static_cast<std::uint16_t>(digit));
}

std::span<const char> copy_encoder::finish() {
  if (!finished_) {
    put_be16(0xffff);
    finished_ = true;
  }
  return {data_.get(), size_};
}

std::span<const char> copy_encoder::row_bytes() const noexcept {
  std::size_t end = finished_ ? size_ - 2 : size_;
  return {data_.get() + sizeof header, end - sizeof header};
}

std::span<const char> copy_encoder::stream_header() noexcept { return {header, sizeof header}; }

std::span<const char> copy_encoder::stream_trailer() noexcept {
  static constexpr char trailer[] = {'\xff', '\xff'};
  return {trailer, sizeof trailer};
}

std::vector<std::size_t> copy_encoder::row_offsets() const {
  auto be16 = [&](std::size_t at) {
    const char* data = data_.get();
    return static_cast<std::uint16_t>((static_cast<unsigned char>(data[at]) << 8) |
                                      static_cast<unsigned char>(data[at + 1]));
  };
  auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(data_.get()[at + i]);
    return v;
  };
  std::vector<std::size_t> offsets;
  offsets.reserve(rows_ + 1);
  std::size_t at = sizeof header;
  for (std::uint64_t row = 0; row < rows_; ++row) {
    offsets.push_back(at);
    auto fields = be16(at);
    at += 2;
    for (std::uint16_t field = 0; field < fields; ++field) {
      auto length = be32(at);
      at += 4;
      if (length != 0xffffffffu) at += length;
    }
  }
  offsets.push_back(at);
  return offsets;
}

std::string copy_encoder::stream_of(const std::vector<std::size_t>& offsets, std::size_t first,
                                    std::size_t last) const {
  std::string out(header, sizeof header);
  out.append(data_.get() + offsets[first], offsets[last] - offsets[first]);
  out.append("\xff\xff", 2);
  return out;
}

}  // namespace sluice::loader

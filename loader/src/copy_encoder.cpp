#include "sluice/loader/copy_encoder.h"

#include <bit>

namespace sluice::loader {

namespace {
// "PGCOPY\n\377\r\n\0", then flags (int32 0) and header extension length (int32 0).
constexpr char header[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\xff', '\r', '\n', '\0',
                           0,   0,   0,   0,   0,   0,   0,    0};
}  // namespace

copy_encoder::copy_encoder() { data_.append(header, sizeof header); }

void copy_encoder::put_be16(std::uint16_t value) {
  char bytes[2] = {static_cast<char>(value >> 8), static_cast<char>(value)};
  data_.append(bytes, 2);
}

void copy_encoder::put_be32(std::uint32_t value) {
  char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                   static_cast<char>(value >> 8), static_cast<char>(value)};
  data_.append(bytes, 4);
}

void copy_encoder::put_be64(std::uint64_t value) {
  put_be32(static_cast<std::uint32_t>(value >> 32));
  put_be32(static_cast<std::uint32_t>(value));
}

void copy_encoder::begin_row(std::int16_t field_count) {
  row_start_ = data_.size();
  put_be16(static_cast<std::uint16_t>(field_count));
}

void copy_encoder::put_bool(bool value) {
  put_be32(1);
  data_.push_back(value ? '\1' : '\0');
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
  put_be32(static_cast<std::uint32_t>(value.size()));
  data_.append(value);
}

void copy_encoder::put_bytea(std::span<const char> value) {
  put_be32(static_cast<std::uint32_t>(value.size()));
  data_.append(value.data(), value.size());
}

void copy_encoder::put_jsonb(std::string_view json) {
  put_be32(static_cast<std::uint32_t>(json.size() + 1));
  data_.push_back('\1');
  data_.append(json);
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
  data_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
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
  return {data_.data(), data_.size()};
}

std::vector<std::size_t> copy_encoder::row_offsets() const {
  auto be16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(data_[at]) << 8) |
                                      static_cast<unsigned char>(data_[at + 1]));
  };
  auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(data_[at + i]);
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
  out.append(data_, offsets[first], offsets[last] - offsets[first]);
  out.append("\xff\xff", 2);
  return out;
}

}  // namespace sluice::loader

// What the record_decoder unit tests share: the columns sluice fills itself in
// a hand-built feed plan, and the bytes a binary COPY field holds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "loader/contract/feed.h"

namespace sluice::testing {

// A bigint NOT NULL column that sluice fills itself (`source`: the file's id,
// the record's ordinal), not the input.
inline loader::column_plan generated_column(std::string name, loader::column_source source) {
  loader::column_plan column;
  column.name = std::move(name);
  column.type_name = "bigint";
  column.type = loader::column_type::int8;
  column.not_null = true;
  column.source = source;
  return column;
}

// `value` as `width` bytes, most significant first, as binary COPY writes an
// integer.
inline std::string big_endian(std::uint64_t value, int width) {
  std::string out;
  for (int i = width - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

}  // namespace sluice::testing

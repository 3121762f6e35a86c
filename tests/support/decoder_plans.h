// What the record_decoder unit tests share: the columns sluice fills itself in
// a hand-built feed plan, and the bytes a binary COPY field holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "loader/contract/feed.h"
#include "loader/formats/record_reader.h"
#include "loader/pipeline/copy_encoder.h"

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

// A record whose text is followed by padding, as record_reader guarantees
// (the decoders read past a record's end).
struct padded_record {
  std::string storage;
  loader::record rec;
  explicit padded_record(std::string_view text, std::uint64_t ordinal = 1, loader::flaw defect = loader::flaw::none)
      : storage(text) {
    storage.append(64, ' ');
    rec.text = std::string_view(storage.data(), text.size());
    rec.ordinal = ordinal;
    rec.line = ordinal;
    rec.size = text.size();
    rec.defect = defect;
  }
};

// The rows an encoder holds: its binary COPY without the header (19 bytes)
// and the trailer (2).
inline std::string copy_body(loader::copy_encoder& encoder) {
  auto all = encoder.finish();
  return std::string(all.data(), all.size()).substr(19, all.size() - 19 - 2);
}

}  // namespace sluice::testing

// One record -> one staging row, or a reject with a reason a person can act on.
//
// JSON feeds: the record is parsed in full with simdjson (DOM, so that every
// byte is validated, UTF-8 included), routed by the feed's route pointer, and
// each mapped column is converted to its column's type and encoded for binary
// COPY. JSON strings are read with the feed's value formats where the column's
// type is not text (dates, timestamps and the time zone of those without an
// offset, numeric, uuid, time, interval), and a string in the feed's
// null_strings is NULL; booleans and integers take JSON's own types.
// CSV feeds: see csv_decoder.h.
//
// Threading: one decoder per thread (it owns a simdjson parser).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loader/pipeline/copy_encoder.h"
#include "loader/contract/feed.h"
#include "loader/formats/record_reader.h"

namespace sluice::loader {

struct reject_reason {
  std::string field;   // JSON pointer at fault, or "" for the record as a whole
  std::string reason;  // e.g. "/account: expected an integer, got the string \"abc\""
};

class record_decoder {
 public:
  explicit record_decoder(const feed_plan& feed);
  ~record_decoder();
  record_decoder(const record_decoder&) = delete;
  record_decoder& operator=(const record_decoder&) = delete;

  // CSV feeds: binds the header of the file about to be decoded (nullopt
  // without header rows). Returns "" when every declared column was found, else
  // the reason each record of the file will be rejected with.
  std::string bind_csv_header(const std::optional<csv_header_row>& header);

  // On success appends one row to rows[target index] and returns true; else
  // leaves `rows` as it was, fills `why` and returns false. `rows` must have
  // one encoder per feed target. `target_used`, when given, is set to the
  // index of the encoder that got the row.
  [[nodiscard]] bool decode(const record& rec, std::int64_t file_id,
                            std::vector<copy_encoder>& rows, reject_reason& why,
                            std::size_t* target_used = nullptr);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The reject's raw columns: `text` is valid UTF-8 without NUL (invalid bytes and
// NUL become U+FFFD); `exact` is set only when that changed anything.
struct raw_text {
  std::string text;
  bool lossy = false;
};
[[nodiscard]] raw_text printable_raw(std::string_view bytes);

// Byte offset of the first invalid UTF-8 sequence (bytes.size() when valid).
[[nodiscard]] std::size_t first_invalid_utf8(std::string_view bytes);

}  // namespace sluice::loader

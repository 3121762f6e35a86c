// One record -> one staging row, or a reject with a reason a person can act on.
//
// The record is parsed in full with simdjson (DOM, so that every byte is
// validated, UTF-8 included), routed by the feed's route pointer, and each
// mapped column is converted to its column's type and encoded for binary COPY.
//
// Threading: one decoder per thread (it owns a simdjson parser).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/loader/copy_encoder.h"
#include "sluice/loader/feed.h"
#include "sluice/loader/record_reader.h"

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

}  // namespace sluice::loader

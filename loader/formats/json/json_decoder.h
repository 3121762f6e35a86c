// One JSON record -> one staging row, or a reject with a reason a person can
// act on (the decoder of json/ and ndjson/).
//
// The record is parsed in full with simdjson (DOM, so that every byte is
// validated, UTF-8 included), routed by the feed's route pointer, and each
// mapped column is converted to its column's type and encoded for binary COPY.
// JSON strings are read with the feed's value formats where the column's type
// is not text (dates, timestamps and the time zone of those without an offset,
// numeric, uuid, time, interval), and a string in the feed's null_strings is
// NULL; booleans and integers take JSON's own types.
//
// Threading: one decoder per thread (it owns a simdjson parser).
#pragma once

#include <memory>

#include "loader/formats/record_decoder.h"

namespace sluice::loader {

class json_decoder final : public format_decoder {
 public:
  // `feed` is borrowed and must outlive the decoder.
  explicit json_decoder(const feed_plan& feed);
  ~json_decoder() override;

  [[nodiscard]] bool decode(const record& rec, std::int64_t file_id, std::vector<copy_encoder>& rows,
                            reject_reason& why, std::size_t& target_used) override;

 private:
  struct impl;  // keeps simdjson out of this header
  std::unique_ptr<impl> impl_;
};

// A json_decoder for `feed`, as an input_format's make_decoder (json and
// ndjson decode alike).
[[nodiscard]] std::unique_ptr<format_decoder> make_json_decoder(const feed_plan& feed);

}  // namespace sluice::loader

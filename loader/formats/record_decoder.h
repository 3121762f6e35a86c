// One record -> one staging row, or a reject with a reason a person can act on.
// How depends on the feed's format (registry.h): json/json_decoder.h for JSON
// and NDJSON, csv/csv_decoder.h for CSV.
//
// Threading: one decoder per thread (a format's decoder may own a parser).
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

// What a format decodes records with (a format's folder implements it).
class format_decoder {
 public:
  format_decoder() = default;
  virtual ~format_decoder() = default;
  format_decoder(const format_decoder&) = delete;
  format_decoder& operator=(const format_decoder&) = delete;

  // A format with a header row: binds the header of the file about to be
  // decoded (nullopt: none read yet, or the feed has no header rows). Returns
  // "" when every declared column was found, else the reason each record of the
  // file will be rejected with.
  virtual std::string bind_header(const std::optional<header_row>& /*header*/) { return {}; }
  // Whether the feed's files start with a header row: until one is read, what
  // bind_header() says of a file is not its last word.
  [[nodiscard]] virtual bool expects_header() const { return false; }

  // As record_decoder::decode; `target_used` is set on success.
  [[nodiscard]] virtual bool decode(const record& rec, std::int64_t file_id, std::vector<copy_encoder>& rows,
                                    reject_reason& why, std::size_t& target_used) = 0;
};

class record_decoder {
 public:
  // The decoder of the feed's format; `feed` is borrowed and must outlive it.
  explicit record_decoder(const feed_plan& feed);
  ~record_decoder();
  record_decoder(const record_decoder&) = delete;
  record_decoder& operator=(const record_decoder&) = delete;

  // As format_decoder::bind_header (a JSON feed has no header: always "").
  std::string bind_header(const std::optional<header_row>& header);
  // As format_decoder::expects_header.
  [[nodiscard]] bool expects_header() const;

  // On success appends one row to rows[target index] and returns true; else
  // leaves `rows` as it was, fills `why` and returns false. `rows` must have
  // one encoder per feed target. `target_used`, when given, is set to the
  // index of the encoder that got the row.
  [[nodiscard]] bool decode(const record& rec, std::int64_t file_id,
                            std::vector<copy_encoder>& rows, reject_reason& why,
                            std::size_t* target_used = nullptr);

 private:
  std::unique_ptr<format_decoder> impl_;
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

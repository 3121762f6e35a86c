// One CSV row -> one staging row, or a reject (the decoder of csv/, registry.h).
//
// Columns come from fields by header name (order-independent) or by 1-based
// position. Each file's header is bound once (bind_header()); a header that lacks a
// declared column makes every row of that file a reject naming the column: the
// file-level reject keeps every record accounted for (loaded + rejected ==
// records) and keeps each row's raw text, so nothing is lost when the
// declaration or the file is fixed.
//
// Rows are rejected, with the line (from the record), the field's header name
// in reject_reason.field, the value and what was expected, when: the row has
// another number of fields than the header (ragged), a quoted field is not
// closed at the end of the file, text follows a closing quote, the row is not
// valid UTF-8, a value does not parse or does not fit its column, or a NOT NULL
// column gets NULL.
//
// Threading: one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/contract/feed.h"
#include "loader/contract/text_value.h"
#include "loader/formats/csv/csv.h"
#include "loader/formats/record_decoder.h"
#include "loader/formats/record_reader.h"
#include "loader/pipeline/copy_encoder.h"

namespace sluice::loader {

class csv_decoder final : public format_decoder {
 public:
  // `feed` is borrowed and must outlive the decoder.
  explicit csv_decoder(const feed_plan& feed);

  // Binds the header of the file about to be decoded (nullopt for a feed
  // without header rows). Returns "" when every declared column was found, else
  // the reason every row of the file will be rejected with.
  std::string bind_header(const std::optional<header_row>& header) override;
  // The feed's csv_header.
  [[nodiscard]] bool expects_header() const override { return feed_.csv.header; }

  // As record_decoder::decode, for the feed's one target (target_used is 0).
  [[nodiscard]] bool decode(const record& rec, std::int64_t file_id, std::vector<copy_encoder>& rows,
                            reject_reason& why, std::size_t& target_used) override;

 private:
  [[nodiscard]] std::string field_name(std::size_t field_index) const;

  const feed_plan& feed_;
  csv_splitter splitter_;
  text_value_writer values_;
  std::vector<std::size_t> field_of_;  // per target column: its field index (npos: generated)
  std::vector<std::string> header_names_;
  std::size_t expected_fields_ = 0;    // with a header: exactly this many
  std::size_t min_fields_ = 0;         // without: at least this many
  reject_reason file_problem_;         // non-empty reason: every row is rejected with it
};

}  // namespace sluice::loader

// A value written as text (a CSV field, a JSON string) converted to its
// column's type and appended to a binary COPY row, with the limits PostgreSQL
// would enforce checked first (so COPY never fails on them): integer ranges,
// numeric(p,s) (rounded to s places, then at most p - s digits before the
// point), varchar(n)/char(n) lengths, the calendar, UTF-8 without NUL.
//
// NULL is the caller's business: it checks value_formats::is_null first.
//
// Threading: one writer per thread (it keeps scratch buffers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "loader/pipeline/copy_encoder.h"
#include "loader/contract/feed.h"
#include "loader/contract/numeric.h"
#include "loader/contract/result.h"

namespace sluice::loader {

class text_value_writer {
 public:
  // Appends `text` as `column`'s value; on failure nothing is appended and the
  // static reason says what was wrong and what was expected.
  [[nodiscard]] result<ok_t> put(const column_plan& column, std::string_view text, copy_encoder& rows);

 private:
  numeric_value numeric_;
};

// The values an int2, int4 or int8 column holds: {lowest, highest}.
[[nodiscard]] std::pair<std::int64_t, std::int64_t> integer_range(column_type type);

// Writes `column`'s value when it comes from the record's place, not its
// content (column_source::file_id, record_ordinal); false for any other column.
bool put_record_place(const column_plan& column, std::int64_t file_id, std::uint64_t ordinal, copy_encoder& rows);

// The reject reason for a value that failed: names the column's origin, the
// value, the column's type, the reason, and the accepted formats where they
// matter. E.g. `Price: "100USD" is not a valid numeric(10,2): not a number
// (...)`.
[[nodiscard]] std::string value_failure(const column_plan& column, std::string_view text, const char* why);

}  // namespace sluice::loader

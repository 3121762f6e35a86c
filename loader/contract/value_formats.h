// How a feed reads values written as text (CSV fields, JSON strings): the
// strings that mean NULL, the accepted date and timestamp formats, the time zone
// of timestamps written without an offset, and the words for true and false.
// Declared per feed in sluice.feeds, overridable per column in
// sluice.feed_columns (see sql/sluice/0003_value_formats.sql).
//
// Threading: immutable once compiled; shared by every decoder of a feed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loader/contract/result.h"
#include "loader/contract/time_zone.h"

namespace sluice::loader {

// The date and time fields a format read. A date format leaves the time at 0.
struct datetime_fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int32_t micros = 0;
  bool has_offset = false;
  std::int32_t offset_seconds = 0;  // east of UTC
};

// A date or timestamp format: YYYY (four digits), MM, DD, HH24, MI, SS (one or
// two digits, exactly two when another number follows without a separator),
// FF (1 to 9 digits of a second's fraction; beyond microseconds truncated), TZ
// (an offset: Z, +HH, +HH:MM or +HHMM); every other character stands for
// itself. E.g. "YYYY/MM/DD", "DD.MM.YYYY HH24:MI", "YYYYMMDD".
class datetime_format {
 public:
  // Why `pattern` is no format (a message naming it), e.g. a date format with
  // HH24 in it, or a format without YYYY, MM and DD.
  [[nodiscard]] static result<datetime_format, std::string> compile(std::string_view pattern, bool with_time);

  // The fields of `text`, checked against the calendar and the clock; or why not.
  [[nodiscard]] result<datetime_fields> parse(std::string_view text) const noexcept;
  [[nodiscard]] const std::string& pattern() const noexcept { return pattern_; }

 private:
  enum class token : std::uint8_t { year, month, day, hour, minute, second, fraction, offset, literal };
  struct step {
    token kind = token::literal;
    char literal = 0;
    bool fixed_width = false;  // another number follows directly: exactly two digits
  };
  std::string pattern_;
  std::vector<step> steps_;
};

struct value_formats {
  std::vector<std::string> null_strings;  // trimmed; a value equal to one (after trimming) is NULL
  std::vector<datetime_format> date_formats;
  std::vector<datetime_format> timestamp_formats;  // tried after ISO 8601
  std::shared_ptr<const time_zone> zone;           // nullptr: a timestamptz needs an offset
  std::vector<std::string> true_strings;           // lower case
  std::vector<std::string> false_strings;

  // A value that means NULL (`text` is trimmed here).
  [[nodiscard]] bool is_null(std::string_view text) const noexcept;
  // "YYYY-MM-DD, YYYY/MM/DD" for messages.
  [[nodiscard]] std::string date_format_list() const;
  [[nodiscard]] std::string timestamp_format_list() const;
};

// The formats of a feed that declares none (sluice.feeds' column defaults).
[[nodiscard]] const value_formats& default_value_formats();

// Spaces and tabs off both ends.
[[nodiscard]] std::string_view trim_blanks(std::string_view text) noexcept;

}  // namespace sluice::loader

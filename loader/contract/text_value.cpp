#include "loader/contract/text_value.h"

#include <limits>

#include "loader/contract/ascii.h"
#include "loader/contract/text_parse.h"
#include "loader/contract/time_parse.h"

namespace sluice::loader {

namespace {

constexpr std::int64_t unix_seconds_at_2000 = 946'684'800;

constexpr const char* too_long_text = "longer than the column's length limit";

std::size_t utf8_chars(std::string_view text) {
  std::size_t chars = 0;
  for (char c : text) chars += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  return chars;
}

std::int64_t micros_of(const datetime_fields& f) {
  std::int64_t seconds = static_cast<std::int64_t>(days_since_2000(f.year, f.month, f.day)) * 86400 +
                         f.hour * 3600 + f.minute * 60 + f.second;
  return seconds * micros_per_second + f.micros;
}

const value_formats& formats_of(const column_plan& column) {
  return column.formats ? *column.formats : default_value_formats();
}

// The first format that reads `text`; else the most telling reason: a
// calendar or clock check (the text had the format's shape) over a mismatch.
result<datetime_fields> parse_with(const std::vector<datetime_format>& formats, std::string_view text) {
  const char* shape_miss = nullptr;
  const char* value_miss = nullptr;
  for (const auto& format : formats) {
    auto parsed = format.parse(text);
    if (parsed) return parsed;
    std::string_view why = parsed.error();
    if (why.starts_with("does not match") || why.starts_with("unexpected text") || why.starts_with("no UTC")) {
      if (shape_miss == nullptr) shape_miss = parsed.error();
    } else if (value_miss == nullptr) {
      value_miss = parsed.error();
    }
  }
  if (value_miss != nullptr) return failure{value_miss};
  return failure{shape_miss != nullptr ? shape_miss : "does not match any accepted format"};
}

// A timestamp for `column`: ISO 8601 first, then the feed's formats. Returns
// microseconds since 2000 (UTC for timestamptz).
result<std::int64_t> read_timestamp(const column_plan& column, std::string_view text) {
  const auto& formats = formats_of(column);
  bool with_zone = column.type == column_type::timestamptz;
  std::int64_t local = 0;
  bool has_offset = false;
  std::int32_t offset = 0;
  auto iso = parse_iso_timestamp(text);
  if (iso) {
    local = iso.value().local_micros;
    has_offset = iso.value().has_offset;
    offset = iso.value().offset_seconds;
  } else {
    auto parsed = parse_with(formats.timestamp_formats, text);
    if (!parsed) {
      // The ISO reason is the one to show when no other format was declared.
      return failure{formats.timestamp_formats.empty() ? iso.error() : parsed.error()};
    }
    local = micros_of(parsed.value());
    has_offset = parsed.value().has_offset;
    offset = parsed.value().offset_seconds;
  }
  if (!with_zone) {
    if (has_offset) return failure{"has a UTC offset, but the column is timestamp without time zone"};
    return local;
  }
  if (has_offset) return local - static_cast<std::int64_t>(offset) * micros_per_second;
  if (!formats.zone) {
    return failure{"no UTC offset (add Z or +HH:MM, or declare the feed's time_zone: a time without one is ambiguous)"};
  }
  // The zone works in whole seconds; the fraction rides along.
  std::int64_t seconds = local >= 0 ? local / micros_per_second : -((-local + micros_per_second - 1) / micros_per_second);
  std::int64_t fraction = local - seconds * micros_per_second;
  std::int64_t utc = formats.zone->to_utc(seconds + unix_seconds_at_2000) - unix_seconds_at_2000;
  return utc * micros_per_second + fraction;
}

// An int2, int4 or int8 column: an integer within the type's range.
result<ok_t> put_integer(const column_plan& column, std::string_view text, copy_encoder& rows) {
  auto [low, high] = integer_range(column.type);
  auto value = parse_integer(text, low, high);
  if (!value) return failure{value.error()};
  if (column.type == column_type::int2) rows.put_int2(static_cast<std::int16_t>(value.value()));
  else if (column.type == column_type::int4) rows.put_int4(static_cast<std::int32_t>(value.value()));
  else rows.put_int8(value.value());
  return ok_value;
}

// A text, char(n), json or jsonb column: the text as it is, within the
// column's length.
result<ok_t> put_characters(const column_plan& column, std::string_view text, copy_encoder& rows) {
  if (text.find('\0') != std::string_view::npos) {
    return failure{"contains a NUL character, which PostgreSQL text cannot hold"};
  }
  if (column.max_chars > 0) {
    auto chars = utf8_chars(text);
    if (chars > column.max_chars) {
      if (column.type != column_type::bpchar) return failure{too_long_text};
      // char(n): spaces past n are dropped, anything else is too long.
      std::size_t cut = 0;
      for (std::size_t kept = 0; kept < column.max_chars; ++cut) {
        if ((static_cast<unsigned char>(text[cut]) & 0xc0) != 0x80) ++kept;
      }
      while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) ++cut;
      if (text.find_first_not_of(' ', cut) != std::string_view::npos) return failure{too_long_text};
      text = text.substr(0, cut);
    }
  }
  if (column.type == column_type::jsonb) rows.put_jsonb(text);
  else rows.put_text(text);
  return ok_value;
}

}  // namespace

result<ok_t> text_value_writer::put(const column_plan& column, std::string_view text, copy_encoder& rows) {
  switch (column.type) {
    case column_type::boolean: {
      auto value = parse_boolean(text, formats_of(column).true_strings, formats_of(column).false_strings);
      if (!value) return failure{value.error()};
      rows.put_bool(value.value());
      return ok_value;
    }
    case column_type::int2:
    case column_type::int4:
    case column_type::int8:
      return put_integer(column, text, rows);
    case column_type::float4:
    case column_type::float8: {
      auto value = parse_float(text, column.type == column_type::float4);
      if (!value) return failure{value.error()};
      if (column.type == column_type::float4) rows.put_float4(static_cast<float>(value.value()));
      else rows.put_float8(value.value());
      return ok_value;
    }
    case column_type::numeric: {
      auto parsed = parse_numeric(text, column.numeric_precision, column.numeric_scale, numeric_);
      if (!parsed) return failure{parsed.error()};
      rows.put_numeric(numeric_.weight, numeric_.sign, numeric_.dscale, numeric_.digits);
      return ok_value;
    }
    case column_type::text:
    case column_type::bpchar:
    case column_type::json:
    case column_type::jsonb:
      return put_characters(column, text, rows);
    case column_type::date: {
      auto parsed = parse_with(formats_of(column).date_formats, trim_blanks(text));
      if (!parsed) return failure{parsed.error()};
      const auto& f = parsed.value();
      rows.put_date(days_since_2000(f.year, f.month, f.day));
      return ok_value;
    }
    case column_type::timestamp:
    case column_type::timestamptz: {
      auto micros = read_timestamp(column, trim_blanks(text));
      if (!micros) return failure{micros.error()};
      rows.put_timestamp(micros.value());
      return ok_value;
    }
    case column_type::time: {
      auto micros = parse_time_of_day(text);
      if (!micros) return failure{micros.error()};
      rows.put_time(micros.value());
      return ok_value;
    }
    case column_type::interval: {
      auto value = parse_interval(text);
      if (!value) return failure{value.error()};
      rows.put_interval(value.value().micros, value.value().days, value.value().months);
      return ok_value;
    }
    case column_type::uuid: {
      auto value = parse_uuid(text);
      if (!value) return failure{value.error()};
      rows.put_uuid(value.value());
      return ok_value;
    }
  }
  return failure{"unsupported column type"};
}

std::string value_failure(const column_plan& column, std::string_view text, const char* why) {
  std::string shown(text.substr(0, 80));
  if (text.size() > 80) shown += "...";
  std::string out = column.origin() + ": \"" + shown + "\" is not a valid " + column.type_name + ": " + why;
  if (std::string_view(why) == too_long_text) {
    out = column.origin() + ": " + std::to_string(utf8_chars(text)) + " characters, more than " + column.type_name +
          " column " + column.name + " holds (" + std::to_string(column.max_chars) + ")";
  } else if (column.type == column_type::date) {
    out += " (accepted formats: " + formats_of(column).date_format_list() + ")";
  } else if (column.type == column_type::timestamp || column.type == column_type::timestamptz) {
    out += " (accepted formats: " + formats_of(column).timestamp_format_list() + ")";
  }
  return out;
}

std::pair<std::int64_t, std::int64_t> integer_range(column_type type) {
  switch (type) {
    case column_type::int2: return {std::numeric_limits<std::int16_t>::min(), std::numeric_limits<std::int16_t>::max()};
    case column_type::int4: return {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()};
    default: return {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
  }
}

bool put_record_place(const column_plan& column, std::int64_t file_id, std::uint64_t ordinal, copy_encoder& rows) {
  if (column.source == column_source::file_id) {
    rows.put_int8(file_id);
    return true;
  }
  if (column.source == column_source::record_ordinal) {
    rows.put_int8(static_cast<std::int64_t>(ordinal));
    return true;
  }
  return false;
}

}  // namespace sluice::loader

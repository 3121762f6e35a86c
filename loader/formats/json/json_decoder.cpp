#include "loader/formats/json/json_decoder.h"

#include <simdjson.h>

#include <charconv>
#include <cstdio>
#include <cmath>
#include <limits>

#include "loader/formats/json/json_framing.h"
#include "loader/contract/text_value.h"
#include "loader/contract/time_parse.h"

namespace sluice::loader {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

const char* type_words(element_type type) {
  switch (type) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// A short rendering of a value for messages.
std::string shown(element value) {
  std::string text = simdjson::minify(value);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

// Significant digits of a decimal number's text ("0.30000000000000004" has 17).
std::size_t significant_digits(std::string_view number) {
  auto exponent = number.find_first_of("eE");
  number = number.substr(0, exponent);
  std::string digits;
  for (char c : number) {
    if (c >= '0' && c <= '9') digits += c;
  }
  auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 0;
  auto last = digits.find_last_not_of('0');
  return last - first + 1;
}

}  // namespace

namespace {

// Whether minified JSON text holds the escape \u0000 (and not an escaped
// backslash followed by "u0000").
bool has_escaped_nul(std::string_view json) {
  for (auto at = json.find("u0000"); at != std::string_view::npos; at = json.find("u0000", at + 1)) {
    std::size_t backslashes = 0;
    while (backslashes < at && json[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) return true;
  }
  return false;
}

std::string parse_failure(simdjson::error_code error, std::string_view text) {
  using simdjson::error_code;
  switch (error) {
    case error_code::UTF8_ERROR:
      return "not valid UTF-8 (first bad byte at offset " +
             std::to_string(first_invalid_utf8(text)) + " of the record); re-encode the file as UTF-8";
    case error_code::UNCLOSED_STRING:
    case error_code::INCOMPLETE_ARRAY_OR_OBJECT:
      return "truncated JSON: a string, object or array is not closed";
    case error_code::NUMBER_ERROR:
    case error_code::NUMBER_OUT_OF_RANGE:
      return "a number is malformed or too large for 64 bits";
    case error_code::DEPTH_ERROR:
      return "JSON nested too deeply";
    default:
      break;
  }
  if (error == error_code::TAPE_ERROR) {
    // simdjson reports a value cut short as a structure error; say what it is.
    json_value_scanner scanner;
    auto start = text.find_first_not_of(" \t\r\n");
    bool closed = false;
    for (std::size_t i = start == std::string_view::npos ? text.size() : start;
         i < text.size() && !closed; ++i) {
      closed = scanner.feed(text[i]);
    }
    if (!closed && scanner.open()) return "truncated JSON: a string, object or array is not closed";
  }
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] != '{' && text[first] != '[') {
    auto c = static_cast<unsigned char>(text[first]);
    char shown_byte[16];
    std::snprintf(shown_byte, sizeof shown_byte, c >= 0x20 && c < 0x7f ? "'%c'" : "byte 0x%02x", c);
    return std::string("not JSON: a record must be a JSON object, and this starts with ") + shown_byte;
  }
  return std::string("not valid JSON: ") + simdjson::error_message(error);
}

// A reason for a JSON value of the wrong type for `column`.
std::string type_mismatch(const column_plan& column, element value, const char* expected) {
  return column.json_pointer + ": expected " + expected + " for " + column.type_name + " column " + column.name +
         ", got " + type_words(value.type()) + " " + shown(value);
}

// An int2, int4 or int8 column: a JSON integer within the type's range.
std::string put_integer(const column_plan& column, element value, copy_encoder& rows) {
  auto type = value.type();
  std::int64_t number = 0;
  if (type == element_type::INT64) {
    number = value.get_int64().value_unsafe();
  } else if (type == element_type::UINT64) {
    return column.json_pointer + ": " + shown(value) + " is out of range for " +
           column.type_name + " column " + column.name;
  } else {
    return type_mismatch(column, value, "an integer");
  }
  auto [low, high] = integer_range(column.type);
  if (number < low || number > high) {
    return column.json_pointer + ": " + std::to_string(number) + " is out of range for " +
           column.type_name + " column " + column.name + " (" + std::to_string(low) +
           " to " + std::to_string(high) + ")";
  }
  if (column.type == column_type::int2) rows.put_int2(static_cast<std::int16_t>(number));
  else if (column.type == column_type::int4) rows.put_int4(static_cast<std::int32_t>(number));
  else rows.put_int8(number);
  return {};
}

// A float4 or float8 column: a JSON number that stays finite in the type.
std::string put_float(const column_plan& column, element value, copy_encoder& rows) {
  auto type = value.type();
  double number = 0;
  if (type == element_type::DOUBLE) number = value.get_double().value_unsafe();
  else if (type == element_type::INT64) number = static_cast<double>(value.get_int64().value_unsafe());
  else if (type == element_type::UINT64) number = static_cast<double>(value.get_uint64().value_unsafe());
  else return type_mismatch(column, value, "a number");
  // A JSON number too large for the column would become Infinity: refuse it.
  if (column.type == column_type::float4 &&
      (number > std::numeric_limits<float>::max() || number < -std::numeric_limits<float>::max())) {
    return column.json_pointer + ": " + shown(value) + " is out of range for " + column.type_name +
           " column " + column.name + " (at most about 3.4e38)";
  }
  if (!std::isfinite(number)) {
    return column.json_pointer + ": " + shown(value) + " is out of range for " + column.type_name +
           " column " + column.name + " (at most about 1.8e308)";
  }
  if (column.type == column_type::float4) rows.put_float4(static_cast<float>(number));
  else rows.put_float8(number);
  return {};
}

// A json or jsonb column: the value as minified JSON text.
std::string put_json(const column_plan& column, element value, copy_encoder& rows) {
  std::string text = simdjson::minify(value);
  if (column.type == column_type::jsonb && has_escaped_nul(text)) {
    return column.json_pointer + ": contains \\u0000, which PostgreSQL jsonb cannot hold";
  }
  if (column.type == column_type::json) rows.put_text(text);
  else rows.put_jsonb(text);
  return {};
}

// Which of the feed's targets a JSON record goes to: the first when the feed
// does not route, else the one its route_pointer names. False, with `why`,
// when that field is missing, not a string, or not a route of the feed.
bool route_record(const feed_plan& feed, element doc, std::size_t& target_index, reject_reason& why) {
  if (feed.route_pointer) {
    const auto& pointer = *feed.route_pointer;
    element route;
    if (doc.at_pointer(pointer).get(route) || route.type() == element_type::NULL_VALUE) {
      why = {pointer, "missing required field " + pointer + " (it says which table the record goes to: one of " +
                          feed.route_values + ")"};
      return false;
    }
    if (route.type() != element_type::STRING) {
      why = {pointer, pointer + ": expected a string (one of " + feed.route_values + "), got " +
                          type_words(route.type()) + " " + shown(route)};
      return false;
    }
    std::string_view value = route.get_string().value_unsafe();
    auto it = feed.routes.find(std::string(value));
    if (it == feed.routes.end()) {
      why = {pointer, "unknown " + pointer.substr(pointer.rfind('/') + 1) + " \"" +
                          std::string(value.substr(0, 80)) + "\"; expected one of " + feed.route_values};
      return false;
    }
    target_index = it->second;
  }
  return true;
}

}  // namespace

struct json_decoder::impl {
  const feed_plan& feed;
  simdjson::dom::parser parser;
  text_value_writer values;
  explicit impl(const feed_plan& f) : feed(f) {}

  // A value read from its text (a JSON string, or a number's digits for numeric).
  std::string put_text(const column_plan& column, std::string_view text, copy_encoder& rows) {
    if (auto put = values.put(column, text, rows); !put) return value_failure(column, text, put.error());
    return {};
  }

  // A numeric column: a JSON number that converts exactly, or a string.
  std::string put_numeric(const column_plan& column, element value, copy_encoder& rows) {
    auto type = value.type();
    // Exact: integers as they are; other JSON numbers only when their
    // shortest form has at most 15 significant digits (every such decimal
    // survives a double, and is then what was written).
    if (type == element_type::INT64) return put_text(column, std::to_string(value.get_int64().value_unsafe()), rows);
    if (type == element_type::UINT64) return put_text(column, std::to_string(value.get_uint64().value_unsafe()), rows);
    if (type == element_type::DOUBLE) {
      char digits[64];
      auto [end, error] = std::to_chars(digits, digits + sizeof digits, value.get_double().value_unsafe());
      std::string_view text(digits, static_cast<std::size_t>(end - digits));
      if (error != std::errc() || significant_digits(text) > 15) {
        return column.json_pointer + ": " + shown(value) + " has more significant digits than a JSON number"
               " can carry exactly (15); write it as a JSON string for " + column.type_name + " column " +
               column.name;
      }
      return put_text(column, text, rows);
    }
    if (type == element_type::STRING) return put_text(column, value.get_string().value_unsafe(), rows);
    return type_mismatch(column, value, "a number");
  }

  // A text, date, timestamp or timestamptz column: a JSON string.
  std::string put_string(const column_plan& column, element value, copy_encoder& rows) {
    auto type = value.type();
    if (type != element_type::STRING) {
      return type_mismatch(column, value,
                           column.type == column_type::text ? "a string" : "a string with a date or time");
    }
    std::string_view text = value.get_string().value_unsafe();
    if (column.type == column_type::text) {
      if (text.find('\0') != std::string_view::npos) {
        return column.json_pointer + ": contains a NUL character (\\u0000), which PostgreSQL text cannot hold";
      }
      if (column.max_chars > 0) {
        // varchar(n) / char(n) count characters; the text is valid UTF-8 here.
        std::size_t chars = 0;
        for (char c : text) chars += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
        if (chars > column.max_chars) {
          return column.json_pointer + ": " + std::to_string(chars) + " characters, more than " +
                 column.type_name + " column " + column.name + " holds (" + std::to_string(column.max_chars) +
                 ")";
        }
      }
      rows.put_text(text);
      return {};
    }
    return put_text(column, text, rows);  // dates and timestamps, with the feed's formats
  }

  // Converts `value` for `column` into `rows`; returns a reason when it does not fit.
  std::string put(const column_plan& column, element value, copy_encoder& rows) {
    auto type = value.type();
    switch (column.type) {
      case column_type::int2:
      case column_type::int4:
      case column_type::int8:
        return put_integer(column, value, rows);
      case column_type::float4:
      case column_type::float8:
        return put_float(column, value, rows);
      case column_type::numeric:
        return put_numeric(column, value, rows);
      case column_type::uuid:
      case column_type::time:
      case column_type::interval:
      case column_type::bpchar:
        if (type != element_type::STRING) return type_mismatch(column, value, "a string");
        return put_text(column, value.get_string().value_unsafe(), rows);
      case column_type::boolean:
        if (type != element_type::BOOL) return type_mismatch(column, value, "true or false");
        rows.put_bool(value.get_bool().value_unsafe());
        return {};
      case column_type::json:
      case column_type::jsonb:
        return put_json(column, value, rows);
      case column_type::text:
      case column_type::date:
      case column_type::timestamp:
      case column_type::timestamptz:
        break;
    }
    return put_string(column, value, rows);
  }
};

json_decoder::json_decoder(const feed_plan& feed) : impl_(std::make_unique<impl>(feed)) {}
json_decoder::~json_decoder() = default;

bool json_decoder::decode(const record& rec, std::int64_t file_id, std::vector<copy_encoder>& rows,
                          reject_reason& why, std::size_t& target_used) {
  const auto& feed = impl_->feed;
  if (rec.defect == flaw::too_long) {
    why = {"", "record is " + std::to_string(rec.size) +
                   " bytes, more than the limit (--max-record-mb); raw keeps its first " +
                   std::to_string(rec.text.size()) + " bytes"};
    return false;
  }
  if (rec.defect == flaw::truncated) {
    why = {"", "truncated JSON: the file ends inside this value"};
    return false;
  }
  element doc;
  auto error = impl_->parser.parse(rec.text.data(), rec.text.size(), false).get(doc);
  if (error) {
    why = {"", parse_failure(error, rec.text)};
    return false;
  }
  if (doc.type() != element_type::OBJECT) {
    why = {"", std::string("a record must be a JSON object, got ") + type_words(doc.type())};
    return false;
  }

  std::size_t target_index = 0;
  if (!route_record(feed, doc, target_index, why)) return false;

  const auto& target = feed.targets[target_index];
  auto& out = rows[target_index];
  out.begin_row(static_cast<std::int16_t>(target.columns.size()));
  for (const auto& column : target.columns) {
    if (put_record_place(column, file_id, rec.ordinal, out)) continue;
    element value;
    auto missing = doc.at_pointer(column.json_pointer).get(value);
    bool null_string = !missing && value.type() == element_type::STRING && column.formats &&
                       column.formats->is_null(value.get_string().value_unsafe());
    if (missing || value.type() == element_type::NULL_VALUE || null_string) {
      if (column.not_null) {
        out.rollback_row();
        why = {column.json_pointer,
               std::string(missing ? "missing required field " : "null in required field ") +
                   column.json_pointer + " (" + target.table + "." + column.name + " is NOT NULL)"};
        return false;
      }
      out.put_null();
      continue;
    }
    if (auto reason = impl_->put(column, value, out); !reason.empty()) {
      out.rollback_row();
      why = {column.json_pointer, std::move(reason)};
      return false;
    }
  }
  out.end_row();
  target_used = target_index;
  return true;
}

std::unique_ptr<format_decoder> make_json_decoder(const feed_plan& feed) {
  return std::make_unique<json_decoder>(feed);
}

}  // namespace sluice::loader

#include "loader/formats/csv/csv_decoder.h"

#include <simdjson.h>

#include <limits>
#include <map>

namespace sluice::loader {

namespace {
constexpr std::size_t generated = std::numeric_limits<std::size_t>::max();
}  // namespace

csv_decoder::csv_decoder(const feed_plan& feed) : feed_(feed), splitter_(feed.csv) { bind_header(std::nullopt); }

std::string csv_decoder::field_name(std::size_t field_index) const {
  if (field_index < header_names_.size() && !header_names_[field_index].empty()) return header_names_[field_index];
  return "field " + std::to_string(field_index + 1);
}

std::string csv_decoder::bind_header(const std::optional<header_row>& header) {
  file_problem_ = {};
  header_names_.clear();
  field_of_.clear();
  expected_fields_ = 0;
  min_fields_ = 0;
  const auto& target = feed_.targets.front();
  std::map<std::string, std::size_t, std::less<>> by_name;
  std::map<std::string, int, std::less<>> seen;
  if (feed_.csv.header && header && header->too_long) {
    file_problem_ = {"", "the header row is longer than the limit (--max-record-mb); its columns cannot be read"};
    return file_problem_.reason;
  }
  if (feed_.csv.header && header) {
    auto split = splitter_.split(header->text);
    if (!split) {
      file_problem_ = {"", std::string("the header row cannot be read: ") + split.error().what};
      return file_problem_.reason;
    }
    for (const auto& field : split.value()) header_names_.emplace_back(trim_blanks(field.text));
    expected_fields_ = header_names_.size();
    for (std::size_t field_idx = 0; field_idx < header_names_.size(); ++field_idx) {
      by_name.emplace(header_names_[field_idx], field_idx);
      ++seen[header_names_[field_idx]];
    }
  }
  std::string missing;
  std::string first_missing;
  for (const auto& column : target.columns) {
    std::size_t field = generated;
    if (column.source == column_source::csv_position) {
      field = column.csv_position - 1;
      min_fields_ = std::max(min_fields_, column.csv_position);
    } else if (column.source == column_source::csv_header) {
      auto it = by_name.find(column.csv_header);
      if (it == by_name.end()) {
        missing += (missing.empty() ? "" : ", ") + column.csv_header;
        if (first_missing.empty()) first_missing = column.csv_header;
      } else if (seen[column.csv_header] > 1) {
        file_problem_ = {column.csv_header, "the header names " + column.csv_header +
                                                " more than once, so the column it fills is ambiguous"};
      } else {
        field = it->second;
      }
    }
    field_of_.push_back(field);
  }
  if (feed_.csv.header && !header) {
    file_problem_ = {"", "the file has no header row"};
  } else if (!missing.empty()) {
    std::string shown = header->text.substr(0, 300);
    file_problem_ = {first_missing, "the file's header has no column " + missing + " (declared in sluice.feed_columns"
                                    " for " + target.table + " of feed " + feed_.name + "); its header is: " + shown};
  }
  return file_problem_.reason;
}

bool csv_decoder::decode(const record& rec, std::int64_t file_id, std::vector<copy_encoder>& rows,
                         reject_reason& why, std::size_t& target_used) {
  if (rec.defect == flaw::too_long) {
    why = {"", "row is " + std::to_string(rec.size) +
                   " bytes, more than the limit (--max-record-mb); raw keeps its first " +
                   std::to_string(rec.text.size()) + " bytes"};
    return false;
  }
  if (!file_problem_.reason.empty()) {
    why = file_problem_;
    return false;
  }
  if (rec.defect == flaw::truncated) {
    why = {"", "unterminated quote: the file ends inside a quoted field (the row starts on line " +
                   std::to_string(rec.line) + ")"};
    return false;
  }
  if (!simdjson::validate_utf8(rec.text.data(), rec.text.size())) {
    why = {"", "not valid UTF-8 (first bad byte at offset " + std::to_string(first_invalid_utf8(rec.text)) +
                   " of the row); re-encode the file as UTF-8"};
    return false;
  }
  auto split = splitter_.split(rec.text);
  if (!split) {
    why = {field_name(split.error().field), field_name(split.error().field) + ": " + split.error().what};
    return false;
  }
  auto fields = split.value();
  if (expected_fields_ > 0 && fields.size() != expected_fields_) {
    why = {"", "ragged row: " + std::to_string(fields.size()) + " fields, but the header has " +
                   std::to_string(expected_fields_)};
    return false;
  }
  if (fields.size() < min_fields_) {
    why = {"", "ragged row: " + std::to_string(fields.size()) + " fields, but the feed maps field " +
                   std::to_string(min_fields_)};
    return false;
  }
  const auto& target = feed_.targets.front();
  auto& out = rows.front();
  out.begin_row(static_cast<std::int16_t>(target.columns.size()));
  for (std::size_t column_idx = 0; column_idx < target.columns.size(); ++column_idx) {
    const auto& column = target.columns[column_idx];
    if (put_record_place(column, file_id, rec.ordinal, out)) continue;
    std::string_view text = fields[field_of_[column_idx]].text;
    const auto& formats = column.formats ? *column.formats : default_value_formats();
    if (formats.is_null(text)) {
      if (column.not_null) {
        out.rollback_row();
        why = {column.origin(), column.origin() + ": no value (\"" + std::string(trim_blanks(text).substr(0, 80)) +
                                    "\" means NULL) for NOT NULL column " + target.table + "." + column.name};
        return false;
      }
      out.put_null();
      continue;
    }
    if (auto put = values_.put(column, text, out); !put) {
      out.rollback_row();
      why = {column.origin(), value_failure(column, text, put.error())};
      return false;
    }
  }
  out.end_row();
  target_used = 0;
  return true;
}

}  // namespace sluice::loader

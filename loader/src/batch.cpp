#include "sluice/loader/batch.h"

#include "sluice/loader/record_decoder.h"

namespace sluice::loader {

std::size_t batch::bytes() const {
  std::size_t total = rejects.size();
  for (const auto& t : tables) total += t.rows.size();
  return total;
}

table_rows& batch::table(const std::string& copy_statement) {
  for (auto& t : tables) {
    if (t.copy_statement == copy_statement) return t;
  }
  tables.push_back({copy_statement, {}, {}});
  return tables.back();
}

std::uint16_t batch::feed_index(const std::string& feed) {
  for (std::size_t i = 0; i < feed_names.size(); ++i) {
    if (feed_names[i] == feed) return static_cast<std::uint16_t>(i);
  }
  feed_names.push_back(feed);
  return static_cast<std::uint16_t>(feed_names.size() - 1);
}

std::string_view rejects_copy_statement() {
  return "copy sluice.rejects (file_id, feed, record, line, byte_offset, field, reason, raw,"
         " raw_bytes, raw_truncated) from stdin (format binary)";
}

void append_reject(copy_encoder& rejects, const row_origin& where, std::string_view feed,
                   std::string_view field, std::string_view reason, std::string_view raw) {
  auto printable = printable_raw(raw);
  rejects.begin_row(10);
  rejects.put_int8(where.source_id);
  rejects.put_text(feed);
  rejects.put_int8(static_cast<std::int64_t>(where.record));
  rejects.put_int8(static_cast<std::int64_t>(where.line));
  rejects.put_int8(static_cast<std::int64_t>(where.offset));
  if (field.empty()) rejects.put_null();
  else rejects.put_text(field);
  rejects.put_text(printable_raw(reason).text);  // reasons quote input, which may be binary
  rejects.put_text(printable.text);
  if (printable.lossy) rejects.put_bytea(raw);
  else rejects.put_null();
  rejects.put_bool(where.raw_truncated);
  rejects.end_row();
}

}  // namespace sluice::loader

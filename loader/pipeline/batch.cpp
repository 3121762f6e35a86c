#include "loader/pipeline/batch.h"

#include "loader/formats/record_decoder.h"
#include "warehouse/copy_stream.h"

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
  feed_tallies.emplace_back();
  return static_cast<std::uint16_t>(feed_names.size() - 1);
}

std::string copied_table(std::string_view copy_statement) {
  auto from = copy_statement.find(' ');
  auto to = copy_statement.find(" (", from);
  if (from == std::string_view::npos || to == std::string_view::npos) return {};
  std::string out;
  for (char c : copy_statement.substr(from + 1, to - from - 1)) {
    if (c != '"') out += c;
  }
  return out;
}

std::string_view rejects_copy_statement() {
  return "copy sluice.rejects (file_id, source, lsn, feed, record, line, byte_offset, field, reason, raw,"
         " raw_bytes, raw_truncated) from stdin (format binary)";
}

void append_reject(copy_encoder& rejects, const reject_place& where, const row_origin& what, std::string_view feed,
                   std::string_view field, std::string_view reason, std::string_view raw) {
  auto put_number = [&](std::optional<std::uint64_t> n) {
    if (n) rejects.put_int8(static_cast<std::int64_t>(*n));  // pg_lsn's binary form too
    else rejects.put_null();
  };
  auto printable = printable_raw(raw);
  rejects.begin_row(12);
  if (where.file_id) rejects.put_int8(*where.file_id);
  else rejects.put_null();
  if (where.source.empty()) rejects.put_null();
  else rejects.put_text(where.source);
  put_number(where.lsn);
  rejects.put_text(feed);
  rejects.put_int8(static_cast<std::int64_t>(what.record));
  put_number(where.line);
  put_number(where.byte_offset);
  if (field.empty()) rejects.put_null();
  else rejects.put_text(field);
  rejects.put_text(printable_raw(reason).text);  // reasons quote input, which may be binary
  rejects.put_text(printable.text);
  if (printable.lossy) rejects.put_bytea(raw);
  else rejects.put_null();
  rejects.put_bool(what.raw_truncated);
  rejects.end_row();
}


std::string describe_copy_row(std::string_view copy_statement, std::string_view row_stream) {
  // Column names: the statement's list, "copy T (a, "b c") from stdin ...".
  std::vector<std::string> names;
  auto open = copy_statement.find('(');
  auto close = copy_statement.find(") from");
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    std::string name;
    bool quoted = false;
    for (auto i = open + 1; i < close; ++i) {
      char c = copy_statement[i];
      if (c == '"') {
        if (quoted && i + 1 < close && copy_statement[i + 1] == '"') {
          name += '"';
          ++i;
        } else {
          quoted = !quoted;
        }
      } else if (c == ',' && !quoted) {
        names.push_back(name);
        name.clear();
      } else if (c != ' ' || quoted) {
        name += c;
      }
    }
    names.push_back(name);
  }
  auto be = [&](std::size_t at, int bytes) {
    std::uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(row_stream[at + i]);
    return v;
  };
  constexpr std::size_t header_bytes = 19;
  if (row_stream.size() < header_bytes + 2) return {};
  std::size_t at = header_bytes;
  auto fields = be(at, 2);
  at += 2;
  std::string out;
  for (std::uint32_t f = 0; f < fields && at + 4 <= row_stream.size(); ++f) {
    auto length = be(at, 4);
    at += 4;
    if (!out.empty()) out += ", ";
    out += f < names.size() ? names[f] : "field " + std::to_string(f + 1);
    out += '=';
    if (length == 0xffffffffu) {
      out += "NULL";
      continue;
    }
    if (at + length > row_stream.size()) break;
    auto value = row_stream.substr(at, length);
    at += length;
    bool text = true;
    for (unsigned char c : value) {
      if (c < 0x20 || c == 0x7f) text = false;
    }
    if (text && printable_raw(value).lossy) text = false;
    if (text) {
      out += value;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      for (unsigned char c : value) {
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
  }
  return out;
}

std::string refusal_reason(const warehouse::db_error& e) {
  return "the warehouse refused the row: " + (e.server_message().empty() ? std::string(e.what()) : e.server_message()) +
         " (SQLSTATE " + e.sqlstate() + ")";
}

void copy_stream(warehouse::connection& conn, std::string_view statement, std::span<const char> data) {
  warehouse::copy_in copy(conn, statement);
  copy.write(data);
  copy.finish();
}

void copy_around_refused(warehouse::connection& conn, std::string_view statement, copy_encoder& rows,
                         const std::function<void(std::size_t, const warehouse::db_error&)>& on_refused) {
  auto offsets = rows.row_offsets();
  std::vector<std::pair<std::size_t, std::size_t>> pending{{0, rows.rows()}};
  while (!pending.empty()) {
    auto [first, last] = pending.back();
    pending.pop_back();
    conn.exec("savepoint sluice_split");
    try {
      copy_stream(conn, statement, rows.stream_of(offsets, first, last));
      conn.exec("release savepoint sluice_split");
      continue;
    } catch (const warehouse::db_error& e) {
      if (e.kind() != warehouse::error_kind::data || !conn.is_open()) throw;
      conn.exec("rollback to savepoint sluice_split");
      conn.exec("release savepoint sluice_split");
      if (last - first == 1) {
        on_refused(first, e);
        continue;
      }
    }
    auto middle = first + (last - first) / 2;
    // Back of the stack is taken first: keep rows in order.
    pending.emplace_back(middle, last);
    pending.emplace_back(first, middle);
  }
}

}  // namespace sluice::loader

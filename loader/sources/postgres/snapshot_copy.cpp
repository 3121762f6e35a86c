#include "loader/sources/postgres/snapshot_copy.h"

#include <algorithm>

#include "loader/pipeline/batch.h"
#include "loader/pipeline/copy_encoder.h"
#include "loader/sources/postgres/replication.h"
#include "loader/sources/postgres/source_checkpoints.h"

namespace sluice::loader {

namespace {

namespace pg = sluice::loader::pgoutput;
using warehouse::connection;

// ------------------------------------------------ the snapshot's binary COPY

void append_be(std::string& out, std::uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

// One field of a binary COPY row: its length, then its bytes.
void append_field(std::string& row, std::string_view bytes) {
  append_be(row, bytes.size(), 4);
  row += bytes;
}
void append_null(std::string& row) { append_be(row, 0xffffffffu, 4); }
std::string be_bytes(std::uint64_t value, int bytes = 8) {
  std::string out;
  append_be(out, value, bytes);
  return out;
}

// Splits a binary COPY stream (COPY ... TO STDOUT (FORMAT binary)) into rows,
// whatever the chunks it arrives in: feed() hands each complete row's fields
// (without their count) and their count to `on_row`.
class copy_row_splitter {
 public:
  template <class on_row_fn>
  void feed(std::string_view chunk, on_row_fn&& on_row) {
    pending_ += chunk;
    std::size_t at = 0;
    auto be = [&](std::size_t from, int bytes) {
      std::uint32_t v = 0;
      for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(pending_[from + i]);
      return v;
    };
    if (!header_read_) {
      if (pending_.size() < 19) return;
      if (pending_.compare(0, 11, std::string_view("PGCOPY\n\xff\r\n\0", 11)) != 0) {
        throw replication_error("the source's COPY is not binary COPY data");
      }
      std::size_t extension = be(15, 4);
      if (pending_.size() < 19 + extension) return;
      at = 19 + extension;
      header_read_ = true;
    }
    while (!ended_ && pending_.size() - at >= 2) {
      std::uint32_t fields = be(at, 2);
      if (fields == 0xffff) {  // the trailer
        ended_ = true;
        at += 2;
        break;
      }
      std::size_t end = at + 2;
      bool whole = true;
      for (std::uint32_t f = 0; f < fields && whole; ++f) {
        if (pending_.size() - end < 4) {
          whole = false;
          break;
        }
        std::uint32_t length = be(end, 4);
        end += 4;
        if (length == 0xffffffffu) continue;  // NULL
        if (pending_.size() - end < length) whole = false;
        else end += length;
      }
      if (!whole) break;
      on_row(std::string_view(pending_).substr(at + 2, end - at - 2), static_cast<std::uint16_t>(fields));
      at = end;
    }
    pending_.erase(0, at);
  }
  [[nodiscard]] bool ended() const { return ended_ && pending_.empty(); }

 private:
  std::string pending_;
  bool header_read_ = false;
  bool ended_ = false;
};

// What the fast copies push: once a feeder refused a row (a data error,
// seldom seen before the COPY's end), the rest is dropped, so that the
// source's COPY is still read to its end and its connection can go on (a
// careful copy follows); any other failure ends the copy at once.
class refusal_aware_push {
 public:
  void operator()(copy_feeder& to, std::string& data) {
    if (refused_) {
      data.clear();
      return;
    }
    try {
      to.push(std::exchange(data, std::string()));
    } catch (const warehouse::db_error& e) {
      if (e.kind() != warehouse::error_kind::data) throw;
      refused_ = std::current_exception();
    }
  }
  void rethrow_refusal() const {
    if (refused_) std::rethrow_exception(refused_);
  }

 private:
  std::exception_ptr refused_;
};

constexpr std::size_t feeder_chunk_bytes = 256 << 10;

}  // namespace

// Reads `copy_out` from the source once and writes each row to both feeders:
// to `change_log` after the fields in `prefix` (prefix_fields of them), to
// `mirror` as it is.
void tee_copy(connection& from, const std::string& copy_out, copy_feeder& change_log, std::string_view prefix,
              std::int16_t prefix_fields, copy_feeder& mirror) {
  auto header = copy_encoder::stream_header();
  std::string to_log(header.data(), header.size());
  std::string to_mirror(header.data(), header.size());
  copy_row_splitter rows;
  refusal_aware_push push;
  warehouse::copy_out reading(from, copy_out);
  std::string chunk;
  while (reading.read(chunk)) {
    rows.feed(chunk, [&](std::string_view fields, std::uint16_t count) {
      append_be(to_log, count + static_cast<std::uint16_t>(prefix_fields), 2);
      to_log += prefix;
      to_log += fields;
      append_be(to_mirror, count, 2);
      to_mirror += fields;
    });
    if (to_log.size() >= feeder_chunk_bytes) push(change_log, to_log);
    if (to_mirror.size() >= feeder_chunk_bytes) push(mirror, to_mirror);
  }
  push.rethrow_refusal();
  if (!rows.ended()) throw replication_error("the source's COPY ended before its trailer");
  auto trailer = copy_encoder::stream_trailer();
  to_log.append(trailer.data(), trailer.size());
  to_mirror.append(trailer.data(), trailer.size());
  change_log.push(std::move(to_log));
  mirror.push(std::move(to_mirror));
}

// Reads `copy_out` from the source and writes it, as it comes, to `mirror`:
// the source's binary COPY is the mirror's (the same columns, in the same
// order), so no row is taken apart.
void copy_through(connection& from, const std::string& copy_out, copy_feeder& mirror) {
  refusal_aware_push push;
  warehouse::copy_out reading(from, copy_out);
  std::string data;
  std::string chunk;
  while (reading.read(chunk)) {
    data += chunk;
    if (data.size() >= feeder_chunk_bytes) push(mirror, data);
  }
  push.rethrow_refusal();
  // A COPY TO that ends is whole (read() checked its result): its trailer
  // is in `data`.
  mirror.push(std::move(data));
}

std::uint64_t careful_copy(connection& from, connection& to, const table_info& t, bool logged, pg::lsn copied_at,
                           std::int64_t snapshot_at, const std::string& source) {
  constexpr std::size_t chunk_bytes = 4 << 20;
  const auto lsn = static_cast<std::uint64_t>(copied_at);
  const auto copy_out = snapshot_copy_out(t, true);
  const auto copy_in = logged ? t.copy_statement : mirror_copy_in(t);
  auto [prefix, prefix_fields] =
      logged ? copy_prefix(t, copied_at, snapshot_at) : std::pair<std::string, std::int16_t>{};
  copy_encoder chunk;
  std::vector<std::string> raws;
  copy_encoder rejects;
  std::uint64_t ordinal = 0;
  std::uint64_t refused = 0;
  std::string row_label = "_op=r, (";  // as describe_copy_row names a streamed change's columns
  for (const auto& c : t.columns) row_label += (&c == &t.columns.front() ? "" : ", ") + c.name;
  row_label += ")=";
  auto flush = [&] {
    if (chunk.empty()) return;
    auto first_ordinal = ordinal - raws.size() + 1;
    copy_around_refused(to, copy_in, chunk, [&](std::size_t row, const warehouse::db_error& e) {
      row_origin what;
      what.offset = lsn;
      what.record = first_ordinal + row;
      append_reject(rejects, change_provenance(source).place(what), what, t.staging_name, "",
                    refusal_reason(e) + "; row " + std::to_string(what.record) + " of the initial copy of " +
                        t.schema + "." + t.name,
                    row_label + raws[row]);
      ++refused;
    });
    if (!rejects.empty()) copy_stream(to, rejects_copy_statement(), rejects.finish());
    chunk = copy_encoder();
    rejects = copy_encoder();
    raws.clear();
  };
  copy_row_splitter rows;
  warehouse::copy_out reading(from, copy_out);
  std::string data;
  while (reading.read(data)) {
    rows.feed(data, [&](std::string_view fields, std::uint16_t count) {
      // All but the last field go to the warehouse; the last is the row's text.
      std::size_t at = 0;
      for (std::uint16_t f = 0; f + 1 < count; ++f) {
        std::uint32_t length = 0;
        for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(fields[at + i]);
        at += 4 + (length == 0xffffffffu ? 0 : length);
      }
      chunk.begin_row(static_cast<std::int16_t>(prefix_fields + count - 1));
      chunk.put_encoded(prefix);
      chunk.put_encoded(fields.substr(0, at));
      chunk.end_row();
      raws.emplace_back(fields.substr(at + 4));
      ++ordinal;
    });
    if (chunk.size() >= chunk_bytes) flush();
  }
  if (!rows.ended()) throw replication_error("the source's COPY ended before its trailer");
  flush();
  return refused;
}

std::string snapshot_copy_out(const table_info& t, bool with_row_text) {
  return "copy (select " + select_list(t) + (with_row_text ? ", row(sluice_row.*)::text" : "") + " from " +
         quote(t.schema) + "." + quote(t.name) + " sluice_row) to stdout (format binary)";
}

std::string mirror_copy_in(const table_info& t) {
  return "copy " + t.core + " (" + column_list(t) + ") from stdin (format binary)";
}

// The time of `src`'s snapshot, as binary COPY's timestamptz (microseconds
// since 2000-01-01).
std::int64_t snapshot_time(connection& src) {
  return std::stoll(std::string(
      src.exec("select (extract(epoch from now()) * 1000000)::bigint - 946684800000000").text(0, 0)));
}

// The change log's columns before the table's own for a copied row, the
// same for every row: _op 'r', _lsn the copy's LSN, _seq 0, _commit_at the
// snapshot's time, _unchanged and every _old_<key> NULL. Returns them as
// binary COPY fields, and how many there are.
std::pair<std::string, std::int16_t> copy_prefix(const table_info& t, pg::lsn at, std::int64_t snapshot_at) {
  std::pair<std::string, std::int16_t> out{"", 5};
  append_field(out.first, "r");
  append_field(out.first, be_bytes(static_cast<std::uint64_t>(at)));
  append_field(out.first, be_bytes(0, 4));
  append_field(out.first, be_bytes(static_cast<std::uint64_t>(snapshot_at)));
  append_null(out.first);
  for (const auto& c : t.columns) {
    if (c.key) {
      append_null(out.first);
      ++out.second;
    }
  }
  return out;
}

}  // namespace sluice::loader

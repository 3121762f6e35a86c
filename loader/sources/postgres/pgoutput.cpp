#include "loader/sources/postgres/pgoutput.h"

#include <charconv>

namespace sluice::loader::pgoutput {

namespace {

// Reads big-endian fields from a message; the first failure sticks, and every
// later read returns zero values, so decoders read straight through and check
// once at the end.
class reader {
 public:
  explicit reader(std::span<const char> bytes) : bytes_(bytes) {}

  [[nodiscard]] bool failed() const noexcept { return error_.has_value(); }
  [[nodiscard]] decode_error error() const { return *error_; }
  [[nodiscard]] bool at_end() const noexcept { return at_ == bytes_.size(); }
  [[nodiscard]] std::size_t offset() const noexcept { return at_; }

  void fail(std::string reason) {
    if (!error_) error_ = decode_error{at_, std::move(reason)};
  }

  template <typename T>
  T integer(const char* what) {
    if (!need(sizeof(T), what)) return 0;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) value = (value << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += sizeof(T);
    return static_cast<T>(value);
  }
  std::uint8_t u8(const char* what) { return integer<std::uint8_t>(what); }
  std::int16_t i16(const char* what) { return integer<std::int16_t>(what); }
  std::int32_t i32(const char* what) { return integer<std::int32_t>(what); }
  std::uint32_t u32(const char* what) { return integer<std::uint32_t>(what); }
  std::uint64_t u64(const char* what) { return integer<std::uint64_t>(what); }
  std::int64_t i64(const char* what) { return integer<std::int64_t>(what); }

  // A NUL-terminated string.
  std::string cstring(const char* what) {
    if (failed()) return {};
    for (std::size_t end = at_; end < bytes_.size(); ++end) {
      if (bytes_[end] == '\0') {
        std::string out(bytes_.data() + at_, end - at_);
        at_ = end + 1;
        return out;
      }
    }
    fail(std::string("truncated: ") + what + " has no terminating NUL");
    return {};
  }

  std::string bytes(std::size_t count, const char* what) {
    if (!need(count, what)) return {};
    std::string out(bytes_.data() + at_, count);
    at_ += count;
    return out;
  }

  std::span<const char> rest() {
    auto out = bytes_.subspan(at_);
    at_ = bytes_.size();
    return out;
  }

 private:
  bool need(std::size_t count, const char* what) {
    if (failed()) return false;
    if (bytes_.size() - at_ < count) {
      fail("truncated: expected " + std::to_string(count) + " bytes of " + what + ", " +
           std::to_string(bytes_.size() - at_) + " left");
      return false;
    }
    return true;
  }

  std::span<const char> bytes_;
  std::size_t at_ = 0;
  std::optional<decode_error> error_;
};

tuple read_tuple(reader& in) {
  tuple out;
  auto columns = in.i16("the tuple's column count");
  if (columns < 0) {
    in.fail("a tuple of " + std::to_string(columns) + " columns");
    return out;
  }
  out.reserve(static_cast<std::size_t>(columns));
  for (int column = 0; column < columns && !in.failed(); ++column) {
    column_value value;
    auto kind = static_cast<char>(in.u8("a column's kind"));
    switch (kind) {
      case 'n': value.what = column_value::kind::null; break;
      case 'u': value.what = column_value::kind::unchanged_toast; break;
      case 't':
      case 'b': {
        value.what = kind == 't' ? column_value::kind::text : column_value::kind::binary;
        auto length = in.i32("a column's length");
        if (length < 0) {
          in.fail("column " + std::to_string(column + 1) + " has length " + std::to_string(length));
          break;
        }
        value.bytes = in.bytes(static_cast<std::size_t>(length), "a column's value");
        break;
      }
      default:
        if (!in.failed()) in.fail(std::string("unknown column kind '") + kind + "'");
    }
    out.push_back(std::move(value));
  }
  return out;
}

template <typename T>
decoded finish(reader& in, T value) {
  if (!in.failed() && !in.at_end()) in.fail("trailing bytes after the message");
  if (in.failed()) return in.error();
  return message{std::move(value)};
}

}  // namespace

std::string format_lsn(lsn position) {
  char out[32];
  auto write_hex = [](char* at, char* end, std::uint32_t value) {
    return std::to_chars(at, end, value, 16).ptr;
  };
  char* at = write_hex(out, out + sizeof out, static_cast<std::uint32_t>(position >> 32));
  *at++ = '/';
  at = write_hex(at, out + sizeof out, static_cast<std::uint32_t>(position));
  std::string text(out, at);
  for (auto& c : text) {
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

std::optional<lsn> parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  auto first = std::from_chars(text.data(), text.data() + slash, high, 16);
  auto second = std::from_chars(text.data() + slash + 1, text.data() + text.size(), low, 16);
  if (first.ec != std::errc() || first.ptr != text.data() + slash || second.ec != std::errc() ||
      second.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return (static_cast<lsn>(high) << 32) | low;
}

// Whole on purpose (issue 14): one switch over pgoutput's message types, each case its fields in wire order.
decoded decode(std::span<const char> bytes) {
  reader in(bytes);
  auto tag = static_cast<char>(in.u8("the message tag"));
  if (in.failed()) return in.error();
  switch (tag) {
    case 'B': {
      begin_message m;
      m.final_lsn = in.u64("Begin's final LSN");
      m.commit_time = in.i64("Begin's commit time");
      m.xid = in.u32("Begin's xid");
      return finish(in, m);
    }
    case 'C': {
      commit_message m;
      m.flags = in.u8("Commit's flags");
      m.commit_lsn = in.u64("Commit's LSN");
      m.end_lsn = in.u64("Commit's end LSN");
      m.commit_time = in.i64("Commit's time");
      return finish(in, m);
    }
    case 'O': {
      origin_message m;
      m.origin_lsn = in.u64("Origin's LSN");
      m.name = in.cstring("Origin's name");
      return finish(in, m);
    }
    case 'R': {
      relation_message m;
      m.oid = in.u32("Relation's OID");
      m.schema = in.cstring("Relation's namespace");
      m.name = in.cstring("Relation's name");
      m.replica_identity = static_cast<char>(in.u8("Relation's replica identity"));
      auto columns = in.i16("Relation's column count");
      if (columns < 0) in.fail("a relation of " + std::to_string(columns) + " columns");
      for (int column = 0; column < columns && !in.failed(); ++column) {
        relation_column c;
        c.key = (in.u8("a column's flags") & 1) != 0;
        c.name = in.cstring("a column's name");
        c.type_oid = in.u32("a column's type OID");
        c.type_modifier = in.i32("a column's type modifier");
        m.columns.push_back(std::move(c));
      }
      return finish(in, m);
    }
    case 'Y': {
      type_message m;
      m.oid = in.u32("Type's OID");
      m.schema = in.cstring("Type's namespace");
      m.name = in.cstring("Type's name");
      return finish(in, m);
    }
    case 'I': {
      insert_message m;
      m.relation = in.u32("Insert's relation OID");
      auto kind = static_cast<char>(in.u8("Insert's tuple marker"));
      if (!in.failed() && kind != 'N') in.fail(std::string("Insert: expected 'N', got '") + kind + "'");
      m.row = read_tuple(in);
      return finish(in, m);
    }
    case 'U': {
      update_message m;
      m.relation = in.u32("Update's relation OID");
      auto kind = static_cast<char>(in.u8("Update's tuple marker"));
      if (!in.failed() && (kind == 'K' || kind == 'O')) {
        m.old_kind = kind;
        m.old_row = read_tuple(in);
        kind = static_cast<char>(in.u8("Update's new tuple marker"));
      }
      if (!in.failed() && kind != 'N') in.fail(std::string("Update: expected 'N', got '") + kind + "'");
      m.row = read_tuple(in);
      return finish(in, m);
    }
    case 'D': {
      delete_message m;
      m.relation = in.u32("Delete's relation OID");
      m.old_kind = static_cast<char>(in.u8("Delete's tuple marker"));
      if (!in.failed() && m.old_kind != 'K' && m.old_kind != 'O') {
        in.fail(std::string("Delete: expected 'K' or 'O', got '") + m.old_kind + "'");
      }
      m.old_row = read_tuple(in);
      return finish(in, m);
    }
    case 'T': {
      truncate_message m;
      auto count = in.i32("Truncate's relation count");
      auto options = in.u8("Truncate's options");
      m.cascade = (options & 1) != 0;
      m.restart_identity = (options & 2) != 0;
      if (count < 0) in.fail("a truncate of " + std::to_string(count) + " relations");
      for (int i = 0; i < count && !in.failed(); ++i) m.relations.push_back(in.u32("a truncated relation's OID"));
      return finish(in, m);
    }
    case 'M': {
      logical_message m;
      m.transactional = (in.u8("Message's flags") & 1) != 0;
      m.at = in.u64("Message's LSN");
      m.prefix = in.cstring("Message's prefix");
      auto length = in.i32("Message's length");
      if (length < 0) in.fail("a message of length " + std::to_string(length));
      m.content = in.bytes(static_cast<std::size_t>(std::max(length, 0)), "Message's content");
      return finish(in, m);
    }
    default:
      return decode_error{0, std::string("unknown pgoutput message tag '") + tag +
                                 "' (streamed transactions need protocol version 2, which sluice does not ask for)"};
  }
}

copy_message decode_copy_data(std::span<const char> bytes) {
  reader in(bytes);
  auto tag = static_cast<char>(in.u8("the CopyData tag"));
  if (in.failed()) return in.error();
  if (tag == 'w') {
    xlog_data m;
    m.start = in.u64("XLogData's start");
    m.wal_end = in.u64("XLogData's WAL end");
    m.sent_at = in.i64("XLogData's send time");
    if (in.failed()) return in.error();
    m.payload = in.rest();
    return m;
  }
  if (tag == 'k') {
    keepalive m;
    m.wal_end = in.u64("the keepalive's WAL end");
    m.sent_at = in.i64("the keepalive's send time");
    m.reply_requested = in.u8("the keepalive's reply flag") != 0;
    if (!in.failed() && !in.at_end()) in.fail("trailing bytes after the keepalive");
    if (in.failed()) return in.error();
    return m;
  }
  return decode_error{0, std::string("unknown replication message '") + tag + "'"};
}

std::string encode_standby_status(lsn written, lsn flushed, lsn applied, pg_timestamp now, bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  auto put = [&](std::uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
  };
  put(written);
  put(flushed);
  put(applied);
  put(static_cast<std::uint64_t>(now));
  out.push_back(reply_requested ? '\1' : '\0');
  return out;
}

}  // namespace sluice::loader::pgoutput

#include "sluice/warehouse/source_ledger.h"

#include <charconv>
#include <map>

namespace sluice::warehouse {

namespace {

std::string lsn_text(std::uint64_t lsn) {
  char out[32];
  auto* at = std::to_chars(out, out + sizeof out, static_cast<std::uint32_t>(lsn >> 32), 16).ptr;
  *at++ = '/';
  at = std::to_chars(at, out + sizeof out, static_cast<std::uint32_t>(lsn), 16).ptr;
  return {out, at};
}

// pg_lsn as text is "X/Y" (hex); as a number it is what we compare.
std::uint64_t lsn_value(std::string_view text) {
  auto slash = text.find('/');
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  if (slash == std::string_view::npos ||
      std::from_chars(text.data(), text.data() + slash, high, 16).ec != std::errc() ||
      std::from_chars(text.data() + slash + 1, text.data() + text.size(), low, 16).ec != std::errc()) {
    throw db_error(error_kind::internal, "", "not an LSN: '" + std::string(text) + "'");
  }
  return (static_cast<std::uint64_t>(high) << 32) | low;
}

std::string text_array(std::span<const std::string> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

std::vector<advance_outcome> advance_sources(connection& conn, std::span<const source_advance> advances) {
  std::vector<advance_outcome> out(advances.size(), advance_outcome::elsewhere);
  if (advances.empty()) return out;
  std::vector<std::string> names;
  for (const auto& a : advances) names.push_back(a.name);
  auto now = conn.exec_params(
      "select name, applied_lsn::text from sluice.sources where name = any($1::text[]) order by name for update",
      {text_array(names)});
  std::map<std::string, std::uint64_t> at;
  for (int row = 0; row < now.rows(); ++row) at.emplace(now.text(row, 0), lsn_value(now.text(row, 1)));
  std::vector<std::string> due_names;
  std::vector<std::string> due_lsns;
  for (std::size_t i = 0; i < advances.size(); ++i) {
    auto it = at.find(advances[i].name);
    if (it == at.end()) continue;
    if (it->second == advances[i].from_lsn) {
      out[i] = advance_outcome::advanced;
      due_names.push_back(advances[i].name);
      due_lsns.push_back(lsn_text(advances[i].to_lsn));
    } else if (it->second == advances[i].to_lsn) {
      out[i] = advance_outcome::already_applied;
    }
  }
  if (!due_names.empty()) {
    conn.exec_params(
        "update sluice.sources s set applied_lsn = c.lsn, updated_at = now()"
        " from unnest($1::text[], $2::pg_lsn[]) as c(name, lsn) where s.name = c.name",
        {text_array(due_names), text_array(due_lsns)});
  }
  return out;
}

std::uint64_t applied_lsn(connection& conn, const std::string& name) {
  auto r = conn.exec_params("select applied_lsn::text from sluice.sources where name = $1", {name});
  if (r.rows() == 0) throw db_error(error_kind::schema, "", "no source named '" + name + "' in sluice.sources");
  return lsn_value(r.text(0, 0));
}

}  // namespace sluice::warehouse

#include "loader/sources/files/file_checkpoints.h"

#include <utility>

namespace sluice::loader {

advance_result file_checkpoints::advance(warehouse::connection& conn,
                                         const std::map<std::int64_t, std::uint64_t>& refused) {
  applied = advances;
  for (auto& a : applied) {
    if (auto it = refused.find(a.id); it != refused.end()) {
      a.loaded -= static_cast<std::int64_t>(it->second);
      a.rejected += static_cast<std::int64_t>(it->second);
    }
  }
  auto outcomes = warehouse::advance_files(conn, applied);
  bool all_advanced = true;
  bool all_applied = true;
  for (auto o : outcomes) {
    all_advanced = all_advanced && o == warehouse::advance_outcome::advanced;
    all_applied = all_applied && o == warehouse::advance_outcome::already_applied;
  }
  if (all_advanced) return advance_result::advanced;
  if (all_applied) return advance_result::already_applied;
  return advance_result::elsewhere;
}

std::string file_checkpoints::describe() const {
  if (labels.empty()) return "no files";
  std::string out = labels.front();
  if (labels.size() > 1) out += " and " + std::to_string(labels.size() - 1) + " more files";
  return out;
}

reject_place file_provenance::place_of(const row_origin& origin) {
  reject_place place;
  place.file_id = origin.source_id;
  place.line = origin.line;
  place.byte_offset = origin.offset;
  return place;
}

std::string file_provenance::raw_text(const row_origin& origin, std::string_view /*copy_statement*/,
                                      std::string_view /*row_stream*/) const {
  auto it = files.find(origin.source_id);
  if (it == files.end()) return {};
  const auto& f = it->second;
  if (!f.compressed) return read_range(f.fd->get(), origin.offset, origin.offset + origin.size);
  std::lock_guard lock(mutex_);
  auto& source = sources_[origin.source_id];
  if (!source) {
    source = make_gzip_source(f.fd->get(), f.size, 1 << 20);
    // Offsets past a lost part are those of a checked source (byte_source.h).
    source->check_integrity();
  }
  return read_content(*source, origin.offset, origin.offset + origin.size);
}

}  // namespace sluice::loader

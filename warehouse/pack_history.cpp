// What became of built-in migration files after warehouses applied them: the
// list migrate() uses to carry those warehouses forward (packs.h,
// migration_ancestor). An entry is added only with the reason it is safe, and
// tests/integration/packs/pack_upgrade_test.cpp migrates a warehouse made by
// the sluice before each change and compares it with a new one.
#include <algorithm>
#include <map>
#include <stdexcept>

#include "warehouse/packs.h"

namespace sluice::warehouse {

namespace {

struct ancestor_entry {
  std::string_view pack;
  std::string_view applied_as;
  // "" when only the name changed: the content applied then is the file's now.
  std::string_view applied_checksum;
  std::string_view now;
};

// 2026-12 (issue 14), packs numbered per pack. Versions have counted per pack
// since sluice.pack_migrations replaced the one global order of
// sluice.migrations; the hundreds (01xx hubdoc, 02xx pleo, 03xx orders) were
// left from that order and sales already started at 0001. Renamed, content
// unchanged: the same SQL ran, so only the row's version and name change.
//
// Two files lost core.dim_date, which sql/sluice/0014_calendar.sql now
// creates for every warehouse (a warehouse made with --packs sales could not
// add hubdoc, whose file created it unconditionally). Where the old file ran,
// core.dim_date exists with the same columns; sluice/0014 (which runs before
// any other pack's files) keeps its rows, adds the days and the weekday column
// it may lack and writes the comments, so such a warehouse ends where a new
// one does.
constexpr ancestor_entry entries[] = {
    {"hubdoc", "0101_staging.sql", "", "0001_staging.sql"},
    {"hubdoc", "0102_core.sql", "41fb78378b75c4b7", "0002_core.sql"},  // and lost core.dim_date
    {"hubdoc", "0103_reports.sql", "", "0003_reports.sql"},
    {"hubdoc", "0104_maintenance.sql", "", "0004_maintenance.sql"},
    {"hubdoc", "0105_province_as_written.sql", "", "0005_province_as_written.sql"},
    {"hubdoc", "0106_gzip_logs.sql", "", "0006_gzip_logs.sql"},
    {"pleo", "0201_staging.sql", "", "0001_staging.sql"},
    {"pleo", "0202_core.sql", "", "0002_core.sql"},
    {"pleo", "0203_reports.sql", "", "0003_reports.sql"},
    {"pleo", "0204_maintenance.sql", "", "0004_maintenance.sql"},
    {"orders", "0301_staging.sql", "", "0001_staging.sql"},
    {"orders", "0302_core.sql", "", "0002_core.sql"},
    {"orders", "0303_reports.sql", "", "0003_reports.sql"},
    {"orders", "0304_maintenance.sql", "", "0004_maintenance.sql"},
    {"sales", "0002_core.sql", "71661e93bcf72b89", "0002_core.sql"},  // lost core.dim_date
};

std::vector<migration_ancestor> load_ancestors() {
  const auto& packs = builtin_packs();
  std::vector<migration_ancestor> out;
  std::map<std::pair<std::string, int>, std::string> applied_seen;
  std::map<const migration*, std::string> now_seen;
  for (const auto& e : entries) {
    std::string where = "pack_history.cpp: " + std::string(e.pack) + "/" + std::string(e.applied_as);
    auto p = std::find_if(packs.begin(), packs.end(), [&](const pack& b) { return b.name == e.pack; });
    if (p == packs.end()) throw std::logic_error(where + ": no built-in pack " + std::string(e.pack));
    auto m = std::find_if(p->migrations.begin(), p->migrations.end(),
                          [&](const migration& x) { return x.file == e.now; });
    if (m == p->migrations.end()) {
      throw std::logic_error(where + ": sql/" + std::string(e.pack) + "/" + std::string(e.now) + " does not exist");
    }
    auto version = migration_version(e.applied_as);
    if (!version) throw std::logic_error(where + ": not a migration's file name");
    std::string checksum = e.applied_checksum.empty() ? m->checksum : std::string(e.applied_checksum);
    if (checksum == m->checksum && e.applied_as == e.now) {
      throw std::logic_error(where + ": same name and content as now: nothing to convert");
    }
    if (!applied_seen.emplace(std::pair{std::string(e.pack), *version}, where).second ||
        !now_seen.emplace(&*m, where).second) {
      throw std::logic_error(where + ": a second entry for one applied version or one file");
    }
    out.push_back({std::string(e.pack), *version, std::string(e.applied_as), std::move(checksum), &*m});
  }
  return out;
}

}  // namespace

const std::vector<migration_ancestor>& builtin_migration_ancestors() {
  static const std::vector<migration_ancestor> ancestors = load_ancestors();
  return ancestors;
}

}  // namespace sluice::warehouse

#include "loader/contract/time_zone.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <iterator>

#include <date/tz.h>

// date 3.0.1's ptz.h does not compile as C++20: Posix::time_zone::name() says
// hh_mm_ss under both `using namespace date` and `using namespace
// std::chrono`, which now both have one. A hh_mm_ss in namespace Posix ends
// the unqualified lookup there, before it reaches the two.
namespace Posix {
template <class Duration>
using hh_mm_ss = date::hh_mm_ss<Duration>;
}
#include <date/ptz.h>

namespace sluice::loader {

namespace {

// Where Debian's date (USE_OS_TZDB) reads the zones from.
constexpr const char* tz_dir = "/usr/share/zoneinfo";
constexpr std::int64_t day_seconds = 86400;

// The POSIX TZ rule a TZif file (version 2 on, RFC 8536 3.3) ends with, for
// instants after its transitions: "CET-1CEST,M3.5.0,M10.5.0/3". Empty when
// the file has none.
std::string footer_rule(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 6 || bytes.compare(0, 4, "TZif") != 0 || bytes[4] < '2' || bytes.back() != '\n') return {};
  auto start = bytes.rfind('\n', bytes.size() - 2);
  if (start == std::string::npos) return {};
  return bytes.substr(start + 1, bytes.size() - start - 2);
}

// date's get_info searches the zone's table and builds two sys_info, with
// their abbreviations, on every call: 67 ns a conversion against 39 for the
// TZif reader it replaced (Europe/Oslo; scripts/bench_time_zone.sh). The
// timestamps of a file are mostly close in time, so each thread keeps the
// local range of its last unique answer and, inside it, subtracts: 2.8 ns
// against the old 16.5 for ascending times. Times spread over years still
// miss (64 ns against 41): a cost of tens of ns per value, not per row.
struct local_range {
  std::uint64_t zone_id = 0;  // time_zone::id_; 0: nothing yet
  std::int64_t from = 0;      // [from, to): local times read with `offset`
  std::int64_t to = 0;
  std::int64_t offset = 0;
};
thread_local local_range last_answer;
std::atomic<std::uint64_t> next_zone_id{1};

// Offsets never change by as much as this at once (the most, 24 hours, was
// Samoa's in 2011): a local time this far inside a range of the table maps to
// that range only.
constexpr std::int64_t unique_margin = 2 * day_seconds;

date::sys_seconds sys_at(std::int64_t unix_seconds) { return date::sys_seconds{std::chrono::seconds{unix_seconds}}; }
date::local_seconds local_at(std::int64_t seconds) { return date::local_seconds{std::chrono::seconds{seconds}}; }

}  // namespace

time_zone::~time_zone() = default;

result<std::shared_ptr<const time_zone>, std::string> time_zone::locate(std::string_view name) {
  std::shared_ptr<time_zone> zone(new time_zone());
  zone->name_ = std::string(name);
  zone->id_ = next_zone_id.fetch_add(1, std::memory_order_relaxed);
  try {
    zone->zone_ = date::locate_zone(name);
    // The first lookup reads the zone's file (once, for the program); make it
    // here, where a failure can be reported, not in a noexcept conversion.
    zone->table_end_ = zone->zone_->get_info(date::sys_days{date::year{9999} / 1 / 1}).begin.time_since_epoch().count();
  } catch (const std::exception& e) {
    return failure{"time zone '" + zone->name_ + "' is not in the tz database under " + tz_dir + " (" + e.what() +
                   "; names are IANA names such as Europe/Oslo, and the tzdata package must be installed)"};
  }
  auto rule = footer_rule(std::string(tz_dir) + "/" + zone->zone_->name());
  if (!rule.empty()) {
    try {
      zone->rule_ = std::make_unique<const Posix::time_zone>(rule);
    } catch (const std::exception&) {
      // date 3.0.1 refuses negative transition hours ("M3.5.0/-1", TZif
      // version 3): the zone keeps its last table offset past the table.
    }
  }
  return std::shared_ptr<const time_zone>(std::move(zone));
}

std::int32_t time_zone::offset_at(std::int64_t utc_seconds) const noexcept {
  auto info = rule_ && utc_seconds >= table_end_ ? rule_->get_info(sys_at(utc_seconds))
                                                 : zone_->get_info(sys_at(utc_seconds));
  return static_cast<std::int32_t>(info.offset.count());
}

std::int64_t time_zone::to_utc(std::int64_t local_seconds) const noexcept {
  local_range& last = last_answer;
  if (last.zone_id == id_ && local_seconds >= last.from && local_seconds < last.to) return local_seconds - last.offset;
  // A day past the last transition on any clock, the table's last offset
  // stops being the answer and the rule's starts.
  bool by_rule = rule_ && local_seconds >= table_end_ + day_seconds;
  auto info = by_rule ? rule_->get_info(local_at(local_seconds)) : zone_->get_info(local_at(local_seconds));
  if (info.result == date::local_info::unique) {
    std::int64_t offset = info.first.offset.count();
    std::int64_t from = info.first.begin.time_since_epoch().count() + offset + unique_margin;
    std::int64_t to = info.first.end.time_since_epoch().count() + offset - unique_margin;
    // The table's last range and the rule's first may run over the other's
    // years (a rule without DST is one range for all time): each answers
    // only on its own side.
    if (rule_) {
      if (by_rule) from = std::max(from, table_end_ + day_seconds);
      else to = std::min(to, table_end_ + day_seconds);
    }
    last = {id_, from, to, offset};
    return local_seconds - offset;
  }
  // PostgreSQL: a repeated time takes the offset after the change (the
  // second); a skipped one the offset before it (the first).
  auto offset = info.result == date::local_info::ambiguous ? info.second.offset : info.first.offset;
  return local_seconds - offset.count();
}

}  // namespace sluice::loader

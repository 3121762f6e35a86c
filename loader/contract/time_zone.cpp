#include "loader/contract/time_zone.h"

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

date::sys_seconds sys_at(std::int64_t unix_seconds) { return date::sys_seconds{std::chrono::seconds{unix_seconds}}; }
date::local_seconds local_at(std::int64_t seconds) { return date::local_seconds{std::chrono::seconds{seconds}}; }

}  // namespace

time_zone::~time_zone() = default;

result<std::shared_ptr<const time_zone>, std::string> time_zone::locate(std::string_view name) {
  std::shared_ptr<time_zone> zone(new time_zone());
  zone->name_ = std::string(name);
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
  // A day past the last transition on any clock, the table's last offset
  // stops being the answer and the rule's starts.
  auto info = rule_ && local_seconds >= table_end_ + day_seconds ? rule_->get_info(local_at(local_seconds))
                                                                 : zone_->get_info(local_at(local_seconds));
  // PostgreSQL: a repeated time takes the offset after the change (the
  // second); a skipped one the offset before it (the first).
  auto offset = info.result == date::local_info::ambiguous ? info.second.offset : info.first.offset;
  return local_seconds - offset.count();
}

}  // namespace sluice::loader

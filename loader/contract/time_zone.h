// IANA time zones from the system's tz database, for timestamps written
// without an offset.
//
// The lookup is Howard Hinnant's date/tz.h (Debian's libdate-tz, the library
// C++20's std::chrono zones came from; g++ 12's libstdc++ has no
// std::chrono::locate_zone yet). Debian builds it with USE_OS_TZDB: it reads
// the TZif files under /usr/share/zoneinfo ($TZDIR is not consulted: the
// library offers no way to point it elsewhere), but only their transition
// tables (HowardHinnant/date#794). Debian's tables end in 2037, so for
// instants after a zone's last transition this class reads the POSIX TZ rule
// from the file's footer and follows it through date's Posix::time_zone, as
// PostgreSQL does: 2100-07-15 in Europe/Oslo is CEST, not CET. (date 3.0.1's
// Posix::time_zone refuses rules with negative transition hours, which three
// Greenland zones use; those keep their last table offset after 2037.)
//
// Local time to UTC follows PostgreSQL, so that a loaded value equals
// `'<local>'::timestamp at time zone '<zone>'`:
// - a local time that happens twice (the hour repeated when clocks go back) is
//   read with the offset in force after the change;
// - a local time that never happens (the hour skipped when clocks go forward)
//   is read with the offset in force before the change.
//
// Threading: a time_zone is immutable once made; share it freely. The zone
// data it reads belongs to date's database, which lives as long as the
// program. Each thread remembers the local range of its last to_utc answer
// (see time_zone.cpp), so a thread's conversions cost less when close in time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "loader/contract/result.h"

namespace date {
class time_zone;
}
namespace Posix {
class time_zone;
}

namespace sluice::loader {

class time_zone {
 public:
  // The zone named `name` (e.g. "Europe/Oslo", "UTC"), or why not (a message
  // naming the zone and the database looked in).
  [[nodiscard]] static result<std::shared_ptr<const time_zone>, std::string> locate(std::string_view name);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // Seconds east of UTC in force at `utc_seconds` (Unix time).
  [[nodiscard]] std::int32_t offset_at(std::int64_t utc_seconds) const noexcept;
  // Unix time of the local wall-clock time `local_seconds` (seconds since
  // 1970-01-01 00:00 on the local clock), by the rules above.
  [[nodiscard]] std::int64_t to_utc(std::int64_t local_seconds) const noexcept;

  time_zone(const time_zone&) = delete;
  time_zone& operator=(const time_zone&) = delete;
  ~time_zone();

 private:
  time_zone() = default;

  std::string name_;
  std::uint64_t id_ = 0;                               // names this zone in a thread's last answer
  const date::time_zone* zone_ = nullptr;             // owned by date's database
  std::int64_t table_end_ = 0;                         // Unix time of the last transition in the table
  std::unique_ptr<const Posix::time_zone> rule_;       // the footer's rule from table_end_ on; null: none
};

}  // namespace sluice::loader

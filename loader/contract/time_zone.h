// IANA time zones from the system's tz database (TZif files under
// /usr/share/zoneinfo, or $TZDIR), for timestamps written without an offset.
//
// g++ 12's libstdc++ has no std::chrono::locate_zone, so this reads the TZif
// file itself (RFC 8536: the 64-bit transition table, and the POSIX TZ rule of
// its footer for instants after the last transition).
//
// Local time to UTC follows PostgreSQL, so that a loaded value equals
// `'<local>'::timestamp at time zone '<zone>'`:
// - a local time that happens twice (the hour repeated when clocks go back) is
//   read with the offset in force after the change;
// - a local time that never happens (the hour skipped when clocks go forward)
//   is read with the offset in force before the change.
//
// Threading: a time_zone is immutable once made; share it freely.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loader/contract/result.h"

namespace sluice::loader {

class time_zone {
 public:
  // The zone named `name` (e.g. "Europe/Oslo", "UTC"), or why not (a message
  // naming the file looked for).
  [[nodiscard]] static result<std::shared_ptr<const time_zone>, std::string> locate(std::string_view name);
  // From the bytes of a TZif file (for tests).
  [[nodiscard]] static result<std::shared_ptr<const time_zone>, std::string> from_tzif(std::string_view name,
                                                                                      std::string_view bytes);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // Seconds east of UTC in force at `utc_seconds` (Unix time).
  [[nodiscard]] std::int32_t offset_at(std::int64_t utc_seconds) const noexcept;
  // Unix time of the local wall-clock time `local_seconds` (seconds since
  // 1970-01-01 00:00 on the local clock), by the rules above.
  [[nodiscard]] std::int64_t to_utc(std::int64_t local_seconds) const noexcept;

  // The POSIX TZ rule of a footer ("CET-1CEST,M3.5.0,M10.5.0/3"); public for tests.
  struct posix_rule {
    std::int32_t std_offset = 0;  // seconds east of UTC
    std::int32_t dst_offset = 0;
    bool has_dst = false;
    struct when {
      char kind = 'M';  // 'M' month.week.day, 'J' julian day 1..365 (no Feb 29), 'N' day 0..365
      int month = 0, week = 0, weekday = 0, day = 0;
      std::int32_t time = 7200;  // seconds after local midnight
    } start, end;
  };

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;   // Unix times, ascending
  std::vector<std::int32_t> offsets_after_;  // offset from each transition on
  std::int32_t initial_offset_ = 0;          // before the first transition
  bool has_rule_ = false;
  posix_rule rule_;

  [[nodiscard]] std::int32_t rule_offset_at(std::int64_t utc_seconds) const noexcept;
};

}  // namespace sluice::loader

// A time zone for deadlines and reports: read from the tz database (TZif files under $TZDIR or
// /usr/share/zoneinfo), or a fixed offset with the zone's name where the database is not installed. The SOC's
// legal deadlines count days in Asia/Ho_Chi_Minh (UTC+07:00, no daylight saving time since 1975), so a "day"
// ends at local midnight, not at 00:00 UTC.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "socd/status.h"

namespace socd {

class TimeZone {
public:
  // UTC, until something else is loaded.
  TimeZone() : name_("UTC") {}
  // The zone `name` from the tz database. When the database has no file for it and `fallback_offset` is given
  // ("+07:00", "-03:30"), that fixed offset under the same name; otherwise an error saying what to set.
  static Expected<TimeZone> load(const std::string& name, const std::string& fallback_offset = "");
  static TimeZone fixed(std::string name, int offset_seconds);
  // Parses "+07:00", "-0330", "UTC+7" as seconds east of UTC.
  static bool parse_offset(std::string_view text, int& seconds);

  const std::string& name() const { return name_; }
  bool from_database() const { return !offsets_.empty(); }
  // Seconds east of UTC in force at `utc_ms`.
  int offset_seconds(int64_t utc_ms) const;
  // The local calendar day (days since 1970-01-01) of an instant.
  int64_t local_day(int64_t utc_ms) const;
  // The instant local day `day` begins (its local midnight).
  int64_t start_of_local_day(int64_t day) const;
  // RFC 3339 in local time with the offset: "2025-01-31T23:30:00+07:00" (milliseconds when not zero).
  std::string format(int64_t utc_ms) const;

private:
  std::string name_;
  int fixed_offset_ = 0;                // without a database file
  std::vector<int64_t> transitions_;    // UTC seconds, ascending
  std::vector<int32_t> offsets_;        // offset from each transition on
  int32_t initial_offset_ = 0;          // before the first transition
  int32_t tail_offset_ = 0;             // after the last one (the file's footer, when it is a fixed offset)
};

// Days since 1970-01-01 of a civil date, and back.
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
void civil_from_days(int64_t days, int64_t& year, unsigned& month, unsigned& day);
// RFC 3339 in UTC: "2025-01-31T16:30:00Z" (".250" when the milliseconds are not zero).
std::string format_utc(int64_t utc_ms);
// RFC 3339 (with Z or an offset) or a date alone (midnight UTC) to milliseconds since the epoch.
bool parse_rfc3339(std::string_view text, int64_t& utc_ms);
// "30s", "15m", "2h", "5d", "1w" to milliseconds; `days` is set when the unit is days or weeks.
bool parse_duration_ms(std::string_view text, int64_t& ms, bool* days = nullptr);
std::string format_duration_ms(int64_t ms);

}  // namespace socd

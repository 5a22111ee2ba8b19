// TZif reading follows RFC 8536: the version 2+ block with 64-bit transition times, type 0 before the first
// transition, and the footer's POSIX TZ string after the last one when it names a fixed offset ("<+07>-7").
#include "socd/time_zone.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "socd/read_file.h"

namespace socd {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

int64_t be64(const std::string& s, size_t at) {
  return static_cast<int64_t>((uint64_t(be32(s, at)) << 32) | be32(s, at + 4));
}

// The offset of a POSIX TZ string without daylight saving time ("<+07>-7", "UTC0", "ICT-7"): its sign is
// inverted (hours west of UTC). False when the string has a DST part or cannot be read.
bool posix_fixed_offset(std::string_view tz, int& seconds) {
  size_t i = 0;
  if (i < tz.size() && tz[i] == '<') {
    i = tz.find('>');
    if (i == std::string_view::npos) return false;
    ++i;
  } else {
    while (i < tz.size() && ((tz[i] >= 'A' && tz[i] <= 'Z') || (tz[i] >= 'a' && tz[i] <= 'z'))) ++i;
  }
  if (i == 0 || i >= tz.size()) return false;
  int sign = 1;
  if (tz[i] == '+' || tz[i] == '-') sign = tz[i++] == '-' ? -1 : 1;
  int parts[3] = {0, 0, 0}, n = 0;
  while (i < tz.size() && n < 3) {
    if (tz[i] < '0' || tz[i] > '9') return false;
    while (i < tz.size() && tz[i] >= '0' && tz[i] <= '9') parts[n] = parts[n] * 10 + (tz[i++] - '0');
    ++n;
    if (i < tz.size() && tz[i] == ':') ++i;
    else break;
  }
  if (i != tz.size()) return false;  // a DST name or rule follows
  seconds = -sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

namespace {

std::string format_with_offset(int64_t utc_ms, int offset_seconds, bool utc_z) {
  const int64_t local_ms = utc_ms + int64_t{offset_seconds} * 1000;
  const int64_t seconds = floor_div(local_ms, 1000);
  const int ms = static_cast<int>(local_ms - seconds * 1000);
  const int64_t day = floor_div(seconds, 86400), rem = seconds - day * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(day, y, m, d);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(y), m, d,
                        static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, ".%03d", ms);
    out += buf;
  }
  if (utc_z && offset_seconds == 0) return out + "Z";
  const int a = offset_seconds < 0 ? -offset_seconds : offset_seconds;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_seconds < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return out + buf;
}

}  // namespace

std::string format_utc(int64_t utc_ms) { return format_with_offset(utc_ms, 0, true); }

bool TimeZone::parse_offset(std::string_view t, int& seconds) {
  if (t.starts_with("UTC") || t.starts_with("GMT")) t.remove_prefix(3);
  if (t.empty()) {
    seconds = 0;
    return true;
  }
  if (t[0] != '+' && t[0] != '-') return false;
  const int sign = t[0] == '-' ? -1 : 1;
  t.remove_prefix(1);
  int h = 0, m = 0;
  size_t i = 0;
  while (i < t.size() && i < 2 && t[i] >= '0' && t[i] <= '9') h = h * 10 + (t[i++] - '0');
  if (i == 0) return false;
  if (i < t.size() && t[i] == ':') ++i;
  size_t start = i;
  while (i < t.size() && i - start < 2 && t[i] >= '0' && t[i] <= '9') m = m * 10 + (t[i++] - '0');
  if (i != t.size() || (i != start && i - start != 2) || h > 14 || m > 59) return false;
  seconds = sign * (h * 3600 + m * 60);
  return true;
}

TimeZone TimeZone::fixed(std::string name, int offset_seconds) {
  TimeZone z;
  z.name_ = std::move(name);
  z.fixed_offset_ = offset_seconds;
  return z;
}

Expected<TimeZone> TimeZone::load(const std::string& name, const std::string& fallback_offset) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") return fixed(name.empty() ? "UTC" : name, 0);
  if (name.find("..") != std::string::npos || name.front() == '/')
    return Status::error("time zone '" + name + "': not a tz database name (use one like Asia/Ho_Chi_Minh)");
  const char* dir = std::getenv("TZDIR");
  const std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + name;
  std::string data;
  const bool readable = read_file(path, data);
  const std::string unreadable = readable ? "" : std::strerror(errno);
  auto fallback = [&](const std::string& why) -> Expected<TimeZone> {
    int seconds = 0;
    if (fallback_offset.empty())
      return Status::error("time zone '" + name + "': " + why + " (install tzdata, or set utc_offset, e.g. +07:00)");
    if (!parse_offset(fallback_offset, seconds))
      return Status::error("time zone '" + name + "': " + why + ", and utc_offset '" + fallback_offset +
                           "' is not an offset like +07:00");
    return fixed(name, seconds);
  };
  if (!readable) return fallback(path + " cannot be read (" + unreadable + ")");
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return fallback(path + " is not a TZif file");
  auto block_size = [&](size_t at, size_t time_size, size_t& size) {
    if (at + 44 > data.size()) return false;
    const uint32_t isut = be32(data, at + 20), isstd = be32(data, at + 24), leap = be32(data, at + 28),
                   timecnt = be32(data, at + 32), typecnt = be32(data, at + 36), charcnt = be32(data, at + 40);
    size = 44 + size_t{timecnt} * (time_size + 1) + size_t{typecnt} * 6 + charcnt + size_t{leap} * (time_size + 4) +
           isstd + isut;
    return at + size <= data.size() && typecnt > 0;
  };
  size_t v1 = 0;
  if (!block_size(0, 4, v1)) return fallback(path + " is truncated");
  const bool v2 = data[4] >= '2';
  const size_t at = v2 ? v1 : 0, time_size = v2 ? 8 : 4;
  size_t size = 0;
  if (!block_size(at, time_size, size)) return fallback(path + " is truncated");
  const uint32_t timecnt = be32(data, at + 32), typecnt = be32(data, at + 36);
  size_t p = at + 44;
  TimeZone z;
  z.name_ = name;
  std::vector<uint8_t> type_of(timecnt);
  for (uint32_t i = 0; i < timecnt; ++i, p += time_size)
    z.transitions_.push_back(v2 ? be64(data, p) : static_cast<int32_t>(be32(data, p)));
  for (uint32_t i = 0; i < timecnt; ++i) type_of[i] = static_cast<uint8_t>(data[p++]);
  std::vector<int32_t> type_offset(typecnt);
  for (uint32_t i = 0; i < typecnt; ++i, p += 6) type_offset[i] = static_cast<int32_t>(be32(data, p));
  for (uint32_t i = 0; i < timecnt; ++i) {
    if (type_of[i] >= typecnt) return fallback(path + " names a local time type it does not have");
    z.offsets_.push_back(type_offset[type_of[i]]);
  }
  z.initial_offset_ = type_offset[0];
  z.tail_offset_ = z.offsets_.empty() ? z.initial_offset_ : z.offsets_.back();
  if (v2 && at + size < data.size() && data[at + size] == '\n') {
    size_t end = data.find('\n', at + size + 1);
    int footer = 0;
    if (end != std::string::npos && posix_fixed_offset(std::string_view(data).substr(at + size + 1,
                                                                                     end - at - size - 1), footer))
      z.tail_offset_ = footer;
  }
  if (z.offsets_.empty()) {  // no transitions at all: a fixed zone described by the file
    z.fixed_offset_ = z.tail_offset_;
  }
  return z;
}

int TimeZone::offset_seconds(int64_t utc_ms) const {
  if (offsets_.empty()) return fixed_offset_;
  const int64_t s = floor_div(utc_ms, 1000);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return initial_offset_;
  if (it == transitions_.end()) return tail_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

int64_t TimeZone::local_day(int64_t utc_ms) const {
  return floor_div(utc_ms + int64_t{offset_seconds(utc_ms)} * 1000, 86'400'000);
}

int64_t TimeZone::start_of_local_day(int64_t day) const {
  const int64_t local_ms = day * 86'400'000;
  int64_t utc = local_ms - int64_t{offset_seconds(local_ms)} * 1000;
  utc = local_ms - int64_t{offset_seconds(utc)} * 1000;  // the offset in force at that instant
  return utc;
}

std::string TimeZone::format(int64_t utc_ms) const { return format_with_offset(utc_ms, offset_seconds(utc_ms), false); }

namespace {

bool read_digits(std::string_view s, size_t pos, size_t count, int& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool parse_rfc3339(std::string_view s, int64_t& utc_ms) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (s.size() < 10 || !read_digits(s, 0, 4, year) || s[4] != '-' || !read_digits(s, 5, 2, month) || s[7] != '-' ||
      !read_digits(s, 8, 2, day))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  int64_t ms = 0;
  int offset = 0;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s.size() < 19 || !read_digits(s, 11, 2, hour) ||
        s[13] != ':' || !read_digits(s, 14, 2, minute) || s[16] != ':' || !read_digits(s, 17, 2, second))
      return false;
    if (hour > 23 || minute > 59 || second > 60) return false;
    size_t i = 19;
    if (i < s.size() && s[i] == '.') {
      size_t start = ++i;
      int64_t scale = 100;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        ms += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (i == start) return false;
    }
    std::string_view zone = s.substr(i);
    if (zone != "Z" && zone != "z" && (zone.size() != 6 || !TimeZone::parse_offset(zone, offset))) return false;
  }
  utc_ms = (days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset) * 1000 + ms;
  return true;
}

bool parse_duration_ms(std::string_view s, int64_t& ms, bool* days) {
  if (s.size() < 2) return false;
  int64_t n = 0;
  for (char c : s.substr(0, s.size() - 1)) {
    if (c < '0' || c > '9' || n > (int64_t{1} << 40)) return false;
    n = n * 10 + (c - '0');
  }
  int64_t unit = 0;
  switch (s.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    case 'w': unit = 7 * 86'400'000; break;
    default: return false;
  }
  // A count whose milliseconds do not fit in 64 bits is refused (the product would overflow).
  if (n > INT64_MAX / unit) return false;
  ms = n * unit;
  if (days) *days = s.back() == 'd' || s.back() == 'w';
  return true;
}

std::string format_duration_ms(int64_t ms) {
  if (ms < 0) {
    std::string out(1, '-');
    return out.append(format_duration_ms(-ms));
  }
  if (ms % 86'400'000 == 0 && ms > 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0 && ms > 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms > 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace socd

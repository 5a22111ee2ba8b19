// Line shapes, tried in this order after an optional <PRI>:
//   RFC 5424   <PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD [MSG]   (NILVALUE "-" for any header field)
//   RFC 3164   TIMESTAMP [HOST] [TAG[PID]: ]MSG
//              (TIMESTAMP "Mmm dd hh:mm:ss", "Mmm dd yyyy hh:mm:ss" or RFC 3339)
//   Apache error log   [Www Mmm dd hh:mm:ss[.frac] yyyy] [[module:]level] MSG          (only without <PRI>)
//   anything else      message = the rest of the line
// and then, on the message: NCSA common/combined access-log lines (Apache httpd, NGINX), and (5424 and 3164 only)
// a JSON object, which EventParser walks.
// Every step reads the line once from left to right into string_views; nothing is added to the event before a
// shape is known to fit, so a shape that fails half-way leaves no partial fields behind.
#include "socd/syslog_parser.h"

#include <charconv>
#include <chrono>
#include <string>

namespace socd {
namespace {

constexpr std::string_view kFacilityNames[24] = {
    "kern",   "user",     "mail", "daemon", "auth",     "syslog",       "lpr",    "news",
    "uucp",   "cron",     "authpriv", "ftp", "ntp",     "security",     "console", "solaris-cron",
    "local0", "local1",   "local2", "local3", "local4", "local5",       "local6", "local7"};
constexpr std::string_view kSeverityNames[8] = {"emerg",  "alert", "crit", "err",
                                                "warning", "notice", "info", "debug"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }

bool consume(std::string_view s, size_t& i, char c) {
  if (i < s.size() && s[i] == c) {
    ++i;
    return true;
  }
  return false;
}

// Exactly `count` decimal digits at s[i].
bool read_digits(std::string_view s, size_t& i, int count, int& out) {
  if (s.size() - i < size_t(count)) return false;
  int value = 0;
  for (int k = 0; k < count; ++k) {
    char c = s[i + k];
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  i += count;
  return true;
}

// One of `names` (three letters each, any case) at s[i]; returns its 1-based position or 0.
int read_name3(std::string_view s, size_t& i, std::string_view names) {
  if (s.size() - i < 3) return 0;
  char a = lower(s[i]), b = lower(s[i + 1]), c = lower(s[i + 2]);
  for (size_t k = 0; k + 3 <= names.size(); k += 3) {
    if (names[k] == a && names[k + 1] == b && names[k + 2] == c) {
      i += 3;
      return int(k / 3) + 1;
    }
  }
  return 0;
}
int read_month(std::string_view s, size_t& i) {
  return read_name3(s, i, "janfebmaraprmayjunjulaugsepoctnovdec");
}
bool read_weekday(std::string_view s, size_t& i) { return read_name3(s, i, "sunmontuewedthufrisat") != 0; }

struct Time {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::string_view fraction;  // the digits after '.', as written
  int offset_minutes = 0;     // the written time is UTC + offset
};

// hh:mm:ss[.fraction]
bool read_clock(std::string_view s, size_t& i, Time& t) {
  if (!read_digits(s, i, 2, t.hour) || !consume(s, i, ':') || !read_digits(s, i, 2, t.minute) ||
      !consume(s, i, ':') || !read_digits(s, i, 2, t.second))
    return false;
  t.fraction = {};
  if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1])) {
    size_t start = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    t.fraction = s.substr(start, i - start);
  }
  return true;
}

// ('+' | '-') hh [':'] mm
bool read_numeric_offset(std::string_view s, size_t& i, Time& t) {
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  int sign = s[i] == '-' ? -1 : 1;
  int hours = 0, minutes = 0;
  ++i;
  if (!read_digits(s, i, 2, hours)) return false;
  consume(s, i, ':');
  if (!read_digits(s, i, 2, minutes) || hours > 23 || minutes > 59) return false;
  t.offset_minutes = sign * (hours * 60 + minutes);
  return true;
}

// RFC 3339: yyyy-mm-ddThh:mm:ss[.frac](Z|+hh:mm|-hh:mm); without a zone the time is taken as UTC.
bool read_rfc3339(std::string_view s, size_t& i, Time& t) {
  if (!read_digits(s, i, 4, t.year) || !consume(s, i, '-') || !read_digits(s, i, 2, t.month) ||
      !consume(s, i, '-') || !read_digits(s, i, 2, t.day))
    return false;
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't')) return false;
  ++i;
  if (!read_clock(s, i, t)) return false;
  t.offset_minutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
    return true;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) return read_numeric_offset(s, i, t);
  return true;
}

// RFC 3164: "Mmm dd hh:mm:ss" (day padded with a space or a zero), also "Mmm dd yyyy hh:mm:ss" as some
// network devices write it. `year` fills in the missing year.
bool read_bsd_time(std::string_view s, size_t& i, Time& t, int year) {
  t.month = read_month(s, i);
  if (t.month == 0 || !consume(s, i, ' ')) return false;
  if (i < s.size() && s[i] == ' ') ++i;  // "Jun  9"
  if (i >= s.size() || !is_digit(s[i])) return false;
  t.day = s[i++] - '0';
  if (i < s.size() && is_digit(s[i])) t.day = t.day * 10 + (s[i++] - '0');
  if (!consume(s, i, ' ')) return false;
  size_t year_at = i;
  if (read_digits(s, year_at, 4, t.year) && consume(s, year_at, ' ')) i = year_at;
  else t.year = year;
  t.offset_minutes = 0;
  return read_clock(s, i, t);
}

// Apache error log: "Www Mmm dd hh:mm:ss[.frac] yyyy"
bool read_apache_error_time(std::string_view s, size_t& i, Time& t) {
  if (!read_weekday(s, i) || !consume(s, i, ' ')) return false;
  t.month = read_month(s, i);
  if (t.month == 0 || !consume(s, i, ' ')) return false;
  consume(s, i, ' ');
  if (i >= s.size() || !is_digit(s[i])) return false;
  t.day = s[i++] - '0';
  if (i < s.size() && is_digit(s[i])) t.day = t.day * 10 + (s[i++] - '0');
  t.offset_minutes = 0;
  return consume(s, i, ' ') && read_clock(s, i, t) && consume(s, i, ' ') && read_digits(s, i, 4, t.year);
}

// Access log: "dd/Mmm/yyyy:hh:mm:ss +hhmm"
bool read_access_time(std::string_view s, size_t& i, Time& t) {
  if (!read_digits(s, i, 2, t.day) || !consume(s, i, '/')) return false;
  t.month = read_month(s, i);
  return t.month != 0 && consume(s, i, '/') && read_digits(s, i, 4, t.year) && consume(s, i, ':') &&
         read_clock(s, i, t) && consume(s, i, ' ') && read_numeric_offset(s, i, t);
}

char* put_digits(char* out, int value, int width) {
  for (int k = width - 1; k >= 0; --k) {
    out[k] = char('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

// Formats `t` as RFC 3339 UTC ("2003-10-11T22:14:15.003Z", fraction as written, at most 9 digits) into `out`
// (at least 32 bytes); returns the length, 0 when `t` is no real date and time.
size_t format_utc(const Time& t, char* out) {
  using namespace std::chrono;
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.hour > 23 || t.minute > 59 || t.second > 60) return 0;
  year_month_day date{year{t.year}, month{unsigned(t.month)}, day{unsigned(t.day)}};
  if (!date.ok()) return 0;
  sys_seconds local = sys_days{date} + hours{t.hour} + minutes{t.minute} + seconds{t.second};
  sys_seconds utc = local - minutes{t.offset_minutes};
  sys_days utc_day = floor<days>(utc);
  year_month_day utc_date{utc_day};
  hh_mm_ss clock{utc - utc_day};
  int y = int(utc_date.year());
  if (y < 0 || y > 9999) return 0;
  char* p = out;
  p = put_digits(p, y, 4);
  *p++ = '-';
  p = put_digits(p, int(unsigned(utc_date.month())), 2);
  *p++ = '-';
  p = put_digits(p, int(unsigned(utc_date.day())), 2);
  *p++ = 'T';
  p = put_digits(p, int(clock.hours().count()), 2);
  *p++ = ':';
  p = put_digits(p, int(clock.minutes().count()), 2);
  *p++ = ':';
  p = put_digits(p, int(clock.seconds().count()), 2);
  if (!t.fraction.empty()) {
    *p++ = '.';
    size_t n = t.fraction.size() < 9 ? t.fraction.size() : 9;
    for (size_t k = 0; k < n; ++k) *p++ = t.fraction[k];
  }
  *p++ = 'Z';
  return size_t(p - out);
}

int current_utc_year() {
  using namespace std::chrono;
  return int(year_month_day{floor<days>(system_clock::now())}.year());
}

// "<" 1*3DIGIT ">" with a value of 0..191; -1 (i unchanged) when the line does not start with one.
int read_pri(std::string_view s, size_t& i) {
  size_t j = i;
  if (!consume(s, j, '<')) return -1;
  int value = 0, digits = 0;
  while (j < s.size() && is_digit(s[j]) && digits < 3) value = value * 10 + (s[j++] - '0'), ++digits;
  if (digits == 0 || value > 191 || !consume(s, j, '>')) return -1;
  i = j;
  return value;
}

// Text may hold tabs, form feeds, ESC (terminal colours) and any byte >= 0x80 (valid UTF-8 or not); a NUL
// byte, or more than 10% other control bytes, mean binary data.
Status check_text(std::string_view line) {
  size_t control = 0;
  for (size_t k = 0; k < line.size(); ++k) {
    unsigned char c = static_cast<unsigned char>(line[k]);
    if (c == 0) return Status::error("binary data, not a log line: NUL byte at offset " + std::to_string(k));
    // bits 9..13 (\t \n \v \f \r) and 27 (ESC) are the control bytes text may hold
    control += (c < 32 && !((0x08003E00u >> c) & 1u)) || c == 127;
  }
  if (control * 10 > line.size())
    return Status::error("binary data, not a log line: " + std::to_string(control) + " of " +
                         std::to_string(line.size()) + " bytes are control characters");
  return Status();
}

// A 5424 header field: 1*PRINTUSASCII or the NILVALUE "-" (returned as empty), then one SP.
bool read_header_field(std::string_view s, size_t& i, std::string_view& out) {
  size_t start = i;
  while (i < s.size() && s[i] > ' ' && s[i] < 127) ++i;
  if (i == start || !consume(s, i, ' ')) return false;
  out = s.substr(start, i - 1 - start);
  if (out == "-") out = {};
  return true;
}

// SD-NAME (SD-ID, PARAM-NAME): printable US-ASCII except '=', SP, ']' and '"'.
bool read_sd_name(std::string_view s, size_t& i, std::string_view& out) {
  size_t start = i;
  while (i < s.size() && s[i] > ' ' && s[i] < 127 && s[i] != '=' && s[i] != ']' && s[i] != '"') ++i;
  out = s.substr(start, i - start);
  return i > start;
}

// A quoted value from the opening '"' to the closing one; a backslash escapes the next byte. `out` gets the
// value as written, between the quotes.
bool read_quoted(std::string_view s, size_t& i, std::string_view& out) {
  if (!consume(s, i, '"')) return false;
  size_t start = i;
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  if (i >= s.size()) return false;
  out = s.substr(start, i - start);
  ++i;
  return true;
}

// One SD-ELEMENT "[" SD-ID *(SP PARAM-NAME "=" quoted-value) "]"; calls on_param(id, name, value) for each
// parameter.
template <class OnParam>
bool read_sd_element(std::string_view s, size_t& i, OnParam&& on_param) {
  std::string_view id, name, value;
  if (!consume(s, i, '[') || !read_sd_name(s, i, id)) return false;
  while (consume(s, i, ' ')) {
    while (consume(s, i, ' ')) {
    }
    if (i < s.size() && s[i] == ']') break;
    if (!read_sd_name(s, i, name) || !consume(s, i, '=') || !read_quoted(s, i, value)) return false;
    on_param(id, name, value);
  }
  return consume(s, i, ']');
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// A 3164 TAG character: what program names are made of.
bool is_tag_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '/' || c == '@' || c == '%' ||
         c == '+' || c == '~' || static_cast<unsigned char>(c) >= 0x80;
}

// Apache error-log level ("error", "warn", "trace3", or "module:level") as a syslog severity name.
std::string_view apache_level_severity(std::string_view level) {
  if (size_t colon = level.rfind(':'); colon != std::string_view::npos) level = level.substr(colon + 1);
  if (level == "error") return "err";
  if (level == "warn") return "warning";
  if (level.size() == 6 && level.substr(0, 5) == "trace" && is_digit(level[5])) return "debug";
  for (std::string_view name : kSeverityNames)
    if (level == name && name != "err" && name != "warning") return name;
  return {};
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// What the header of a line says, as views into the line; added to the event once the whole shape fits.
struct Header {
  int priority = -1;
  std::string_view severity;  // from an Apache error-log level
  std::string_view timestamp;
  Time time;
  std::string_view host, program, tag, pid, msgid, structured_data;
  std::string_view message;
  bool has_message = false;
};

// RFC 5424 from just after <PRI>:
//   VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
bool read_rfc5424(std::string_view s, size_t i, Header& h) {
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return false;
  ++i;
  for (int k = 0; k < 2 && i < s.size() && is_digit(s[i]); ++k) ++i;
  if (!consume(s, i, ' ')) return false;
  if (consume(s, i, '-')) {
    h.timestamp = {};
  } else {
    size_t start = i;
    if (!read_rfc3339(s, i, h.time)) return false;
    h.timestamp = s.substr(start, i - start);
  }
  if (!consume(s, i, ' ')) return false;
  if (!read_header_field(s, i, h.host) || !read_header_field(s, i, h.program) ||
      !read_header_field(s, i, h.pid) || !read_header_field(s, i, h.msgid))
    return false;
  if (consume(s, i, '-')) {
    h.structured_data = {};
  } else {
    size_t start = i;
    if (i >= s.size() || s[i] != '[') return false;
    while (i < s.size() && s[i] == '[')
      if (!read_sd_element(s, i, [](auto, auto, auto) {})) return false;
    h.structured_data = s.substr(start, i - start);
  }
  if (i == s.size()) return true;
  if (!consume(s, i, ' ')) return false;
  h.message = s.substr(i);
  if (h.message.substr(0, kBom.size()) == kBom) h.message.remove_prefix(kBom.size());
  h.has_message = true;
  return true;
}

// The 3164 TAG at s[i] ("sshd[123]: ", "su: ", "sshd(pam_unix)[123]: ", sysklogd's "syslogd 1.4.1: "), with
// i moved past it and one SP; false (i unchanged) when s[i] starts no tag.
bool read_tag(std::string_view s, size_t& i, Header& h) {
  size_t k = i;
  int depth = 0;
  for (; k < s.size(); ++k) {
    char c = s[k];
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0 && (c == ':' || c == '[' || c == ' ')) {
      break;
    } else if (!is_tag_char(c) && !(depth > 0 && c == ':')) {
      return false;
    }
  }
  if (k == i || k >= s.size() || depth != 0) return false;
  std::string_view tag = s.substr(i, k - i), pid;
  if (s[k] == '[') {
    size_t close = k + 1;
    while (close < s.size() && s[close] != ']' && s[close] != ' ') ++close;
    if (close >= s.size() || s[close] != ']' || close == k + 1) return false;
    pid = s.substr(k + 1, close - k - 1);
    k = close + 1;
    if (k < s.size() && s[k] != ':' && s[k] != ' ') return false;
    consume(s, k, ':');
  } else if (s[k] == ' ') {
    // "syslogd 1.4.1: restart."
    size_t v = k + 1;
    if (v >= s.size() || !is_digit(s[v])) return false;
    while (v < s.size() && (is_digit(s[v]) || s[v] == '.')) ++v;
    if (v >= s.size() || s[v] != ':') return false;
    tag = s.substr(i, v - i);
    k = v + 1;
  } else {
    ++k;  // ':'
  }
  consume(s, k, ' ');
  std::string_view program = tag.substr(0, tag.find_first_of("( "));
  h.tag = tag;
  h.program = program.empty() ? tag : program;
  h.pid = pid;
  i = k;
  return true;
}

// RFC 3164 from just after the optional <PRI>: TIMESTAMP SP [HOSTNAME SP] [TAG] MSG
bool read_rfc3164(std::string_view s, size_t i, int default_year, Header& h) {
  size_t start = i;
  if (i < s.size() && is_digit(s[i])) {
    if (!read_rfc3339(s, i, h.time)) return false;
  } else {
    if (!read_bsd_time(s, i, h.time, default_year != 0 ? default_year : current_utc_year())) return false;
  }
  h.timestamp = s.substr(start, i - start);
  h.has_message = true;
  if (i == s.size()) return true;
  if (s[i] != ' ') return false;
  while (consume(s, i, ' ')) {
  }
  // HOSTNAME, unless the word is already the tag ("su: ..." from a sender that leaves the host out)
  size_t end = s.find(' ', i);
  std::string_view word = s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
  if (!word.empty() && word.back() != ':') {
    h.host = word;
    i += word.size();
    while (consume(s, i, ' ')) {
    }
  }
  read_tag(s, i, h);
  h.message = s.substr(i);
  return true;
}

// Apache error log: "[Www Mmm dd hh:mm:ss yyyy] [level] message" (2.4 adds "[module:level] [pid n] ...").
bool read_apache_error(std::string_view s, size_t i, Header& h) {
  if (!consume(s, i, '[')) return false;
  size_t start = i;
  if (!read_apache_error_time(s, i, h.time) || i >= s.size() || s[i] != ']') return false;
  h.timestamp = s.substr(start, i - start);
  ++i;
  consume(s, i, ' ');
  if (i < s.size() && s[i] == '[') {
    size_t close = s.find(']', i);
    if (close != std::string_view::npos) {
      std::string_view severity = apache_level_severity(s.substr(i + 1, close - i - 1));
      if (!severity.empty()) {
        h.severity = severity;
        i = close + 1;
        consume(s, i, ' ');
      }
    }
  }
  h.message = s.substr(i);
  h.has_message = true;
  return true;
}

// The JSON object a message is, after optional blanks and the "@cee:" cookie (CEE log syntax, as rsyslog's
// mmjsonparse takes it): from '{' to a final '}' with only blanks after it; empty when the message is no such
// thing. A cheap look at both ends, so ordinary text never reaches the JSON parser.
std::string_view find_json_payload(std::string_view msg) {
  size_t i = 0;
  auto skip_blanks = [&] {
    while (i < msg.size() && (msg[i] == ' ' || msg[i] == '\t')) ++i;
  };
  skip_blanks();
  if (msg.substr(i, 5) == "@cee:") {
    i += 5;
    skip_blanks();
  }
  if (i >= msg.size() || msg[i] != '{') return {};
  size_t end = msg.size();
  while (msg[end - 1] == ' ' || msg[end - 1] == '\t') --end;
  if (end - i < 2 || msg[end - 1] != '}') return {};
  return msg.substr(i, end - i);
}

}  // namespace

// The header wins: a rule, a Sagan rule, the alert's host and the asset routing read "host", "program",
// "severity"... as what the syslog header (or the collector) says, the same for every program on every device,
// and "message" as the message. Were a payload's {"host": "dc01"} a second value of host, any program could make
// its events pass for another machine's in routing and rules; were it the only one, the header would be lost.
// So such a value goes under "payload." ("payload.host"), where an analyst who wants it still finds it.
bool SyslogParser::is_line_field(std::string_view path) {
  static constexpr std::string_view kFields[] = {"priority", "facility", "severity", "timestamp", "@timestamp", "host",
                                                 "program",  "tag",      "pid",      "msgid",     "message",
                                                 "fromhost-ip"};
  if (path.substr(0, 3) == "sd.") return true;  // the structured data's namespace
  for (std::string_view field : kFields)
    if (path == field) return true;
  return false;
}

Status SyslogParser::parse(std::string_view line, Event& ev) {
  ev.reset(line);
  json_payload_ = {};
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (Status text = check_text(line); !text.ok()) return text;

  size_t i = 0;
  const int priority = read_pri(line, i);
  // a shape that does not fit leaves a fresh Header for the next one
  auto fresh = [priority] {
    Header h;
    h.priority = priority;
    return h;
  };
  Header h = fresh();
  bool parsed = (priority >= 0 || line.substr(0, 2) == "1 ") && read_rfc5424(line, i, h);
  if (!parsed) parsed = read_rfc3164(line, i, default_year, h = fresh());
  const bool syslog_shape = parsed;
  if (!parsed && priority < 0) parsed = read_apache_error(line, i, h = fresh());
  if (!parsed) {
    h = fresh();
    h.message = line.substr(i);
    h.has_message = true;
  }

  if (h.priority >= 0) {
    char digits[4];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, h.priority);
    ev.add("priority", std::string_view(digits, size_t(end - digits)), ValueType::Number);
    ev.add("facility", kFacilityNames[h.priority >> 3], ValueType::String);
    ev.add("severity", kSeverityNames[h.priority & 7], ValueType::String);
  } else if (!h.severity.empty()) {
    ev.add("severity", h.severity, ValueType::String);
  }
  bool have_time = false;
  if (!h.timestamp.empty()) {
    ev.add("timestamp", h.timestamp, ValueType::String);
    char utc[40];
    if (size_t n = format_utc(h.time, utc)) {
      ev.add("@timestamp", std::string_view(utc, n), ValueType::String);
      have_time = true;
    }
  }
  if (!h.host.empty()) ev.add("host", h.host, ValueType::String);
  if (!h.program.empty()) ev.add("program", h.program, ValueType::String);
  if (!h.tag.empty()) ev.add("tag", h.tag, ValueType::String);
  if (!h.pid.empty()) ev.add("pid", h.pid, all_digits(h.pid) ? ValueType::Number : ValueType::String);
  if (!h.msgid.empty()) ev.add("msgid", h.msgid, ValueType::String);
  if (!h.structured_data.empty()) emit_structured_data(h.structured_data, ev);
  json_payload_ = syslog_shape && h.has_message ? find_json_payload(h.message) : std::string_view();
  if (h.has_message) {
    ev.add("message", h.message, ValueType::String);
    emit_access_log(h.message, !h.timestamp.empty(), have_time, ev);
  }
  return Status();
}

void SyslogParser::emit_structured_data(std::string_view sd, Event& ev) {
  size_t i = 0;
  while (i < sd.size()) {
    bool ok = read_sd_element(sd, i, [&](std::string_view id, std::string_view name, std::string_view value) {
      path_.assign("sd.");
      path_.append(id);
      path_.push_back('.');
      path_.append(name);
      add_unescaped(path_, value, "\"\\]", ev);
    });
    if (!ok) return;  // checked before: cannot happen
  }
}

void SyslogParser::add_unescaped(std::string_view path, std::string_view value, std::string_view escapable,
                                 Event& ev) {
  if (value.find('\\') == std::string_view::npos) {
    ev.add(path, value, ValueType::String);
    return;
  }
  unescaped_.clear();
  for (size_t k = 0; k < value.size(); ++k) {
    if (value[k] == '\\' && k + 1 < value.size() && escapable.find(value[k + 1]) != std::string_view::npos)
      ++k;
    unescaped_.push_back(value[k]);
  }
  ev.add(path, unescaped_, ValueType::String);
}

// host ident authuser [dd/Mmm/yyyy:hh:mm:ss +hhmm] "request" status bytes ["referer" "user-agent"]
bool SyslogParser::emit_access_log(std::string_view s, bool have_timestamp, bool have_utc, Event& ev) {
  size_t i = 0;
  auto word = [&](std::string_view& out) {
    size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    out = s.substr(start, i - start);
    return i > start && consume(s, i, ' ');
  };
  std::string_view client, ident, user, request, status, bytes, referer, agent;
  Time time;
  if (!word(client) || !word(ident) || !word(user) || !consume(s, i, '[')) return false;
  size_t time_start = i;
  if (!read_access_time(s, i, time)) return false;
  std::string_view written_time = s.substr(time_start, i - time_start);
  if (!consume(s, i, ']') || !consume(s, i, ' ') || !read_quoted(s, i, request) || !consume(s, i, ' '))
    return false;
  size_t status_start = i;
  int status_value = 0;
  if (!read_digits(s, i, 3, status_value) || !consume(s, i, ' ')) return false;
  status = s.substr(status_start, 3);
  size_t bytes_start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == bytes_start && !consume(s, i, '-')) return false;
  bytes = s.substr(bytes_start, i - bytes_start);
  if (i < s.size() && s[i] != ' ') return false;
  bool combined =
      consume(s, i, ' ') && read_quoted(s, i, referer) && consume(s, i, ' ') && read_quoted(s, i, agent);

  if (!have_timestamp) ev.add("timestamp", written_time, ValueType::String);
  if (!have_utc) {
    char utc[40];
    if (size_t n = format_utc(time, utc)) ev.add("@timestamp", std::string_view(utc, n), ValueType::String);
  }
  ev.add("c-ip", client, ValueType::String);
  if (user != "-") ev.add("cs-username", user, ValueType::String);

  // "METHOD URI VERSION" (or "METHOD URI" from HTTP/0.9); anything else ("-", TLS bytes) gives no request
  // fields
  std::string_view req = request;
  if (req.find('\\') != std::string_view::npos) {
    unescaped_.clear();
    for (size_t k = 0; k < req.size(); ++k) {
      if (req[k] == '\\' && k + 1 < req.size() && (req[k + 1] == '"' || req[k + 1] == '\\')) ++k;
      unescaped_.push_back(req[k]);
    }
    req = unescaped_;
  }
  size_t method_end = req.find(' ');
  bool method_ok = method_end != std::string_view::npos && method_end > 0;
  for (size_t k = 0; method_ok && k < method_end; ++k)
    method_ok = is_alpha(req[k]) || req[k] == '-' || req[k] == '_';
  if (method_ok) {
    std::string_view method = req.substr(0, method_end), uri = req.substr(method_end + 1), version;
    size_t last_space = uri.rfind(' ');
    if (last_space != std::string_view::npos && uri.substr(last_space + 1, 5) == "HTTP/") {
      version = uri.substr(last_space + 1);
      uri = uri.substr(0, last_space);
    }
    ev.add("cs-method", method, ValueType::String);
    ev.add("cs-uri", uri, ValueType::String);
    size_t question = uri.find('?');
    ev.add("cs-uri-stem", uri.substr(0, question), ValueType::String);
    if (question != std::string_view::npos)
      ev.add("cs-uri-query", uri.substr(question + 1), ValueType::String);
    if (!version.empty()) ev.add("cs-version", version, ValueType::String);
  }
  ev.add("sc-status", status, ValueType::Number);
  if (bytes != "-") ev.add("sc-bytes", bytes, ValueType::Number);
  if (combined) {
    if (referer != "-") add_unescaped("cs-referer", referer, "\"\\", ev);
    if (agent != "-") add_unescaped("cs-user-agent", agent, "\"\\", ev);
  }
  return true;
}

}  // namespace socd

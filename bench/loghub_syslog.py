#!/usr/bin/env python3
"""Builds a large syslog corpus from the loghub OpenSSH and Linux samples, in two shapes holding the same events:
RFC 3164 syslog lines for `socd scan --format syslog`, and Sagan 1.2.0's pipe-delimited FIFO lines.

usage: bench/loghub_syslog.py [--lines N] [--rate R] [--networks P] [--loghub DIR] --syslog FILE [--sagan FILE]

The two samples (2,000 lines each) are interleaved, one line of each in turn, and looped until N lines
(default 1,000,000) are written. Loop k (0, 1, 2 ...) changes the addresses, so that what a rule tracks by
source is realistic: attackers repeat within a loop, as in the samples, and differ from one loop to the next,
with v = k mod P (P networks, default 25; 0: no limit, v = k):
  - every IPv4 address in a message gets v added to its third octet (mod 256): the first two octets stay, so
    a private address stays private (10.x, 172.16-31.x, 192.168.x) and a public one public;
  - the sending host (the sample's LabSZ and combo) becomes an address that depends on v:
    10.<10 + v / 256>.<v % 256>.21 for OpenSSH, .22 for Linux (Sagan wants an address there).
So the same P sets of attackers and hosts come back every P loops (100,000 lines with P = 25), and the
state an engine keeps by source stays bounded, as on a real site; without the bound, every loop adds new
sources for good (about 12,000 tracked sources after 1,000,000 lines).
Times: line i (0-based) is stamped START + i / R seconds (R default 8,000 lines/s, whole seconds), so a window
of S seconds in event time spans the same lines as S seconds of wall-clock time when the lines are fed at R
lines/s (Sagan's `threshold` and `after` count in wall-clock time).
Facility and severity (Sagan's `facility` and `level` options) come from the program, as a Linux host of the
time would log them: sshd auth, pam (sshd(pam_unix) ...) authpriv, kernel kern, ftpd ftp, syslogd syslog,
logrotate cron, cups lpr, anything else daemon; severity info.

Both shapes carry the same host, program and message:
  syslog:  <PRI>Mmm dd hh:mm:ss HOST TAG: MESSAGE
  sagan:   HOST|FACILITY|SEVERITY|SEVERITY|TAG:|LINE|hh:mm:ss|PROGRAM| MESSAGE
where PROGRAM is the tag without its [pid] and without a "(...)" suffix (how socd's syslog parser reads a
3164 tag), and LINE, the line's number (1-based) in the Sagan date field, lets Sagan's alert log be mapped
back to lines: Sagan prints the date field in its alerts and matches nothing against it. The message Sagan
gets starts with a blank, as rsyslog's %msg% property gives it (the blank after "TAG:"), which Sagan's
liblognorm rulebase (`normalize`) is written for: without it no rulebase rule matches. A message holding
'|' (none in the samples) would shift Sagan's fields: the script stops on it.
"""
import argparse
import datetime
import os
import re
import sys

FACILITY_CODES = {"kern": 0, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "cron": 9, "authpriv": 10, "ftp": 11}
SEVERITY_INFO = 6

# The samples' lines: "Mmm dd hh:mm:ss HOST REST".
LINE_RE = re.compile(r"^[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d (\S+) +(.*)$")
# REST: "TAG[PID]: MESSAGE" or "TAG: MESSAGE"; a TAG may end in "(...)" ("sshd(pam_unix)") or carry a version
# after a blank (sysklogd's "syslogd 1.4.1: restart.").
TAG_RE = re.compile(r"^([^\s:\[(]+(?:\([^)]*\))?(?: \d[\d.]*)?)(\[[^\] ]+\])?: ?(.*)$")
IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def facility_of(tag_name):
    program = re.split(r"[( ]", tag_name, maxsplit=1)[0]
    if tag_name.endswith("(pam_unix)"):
        return "authpriv"
    return {"sshd": "auth", "kernel": "kern", "klogind": "auth", "ftpd": "ftp", "syslogd": "syslog",
            "syslog": "syslog", "logrotate": "cron", "cups": "lpr"}.get(program, "daemon")


def read_sample(path):
    """The sample's lines as (host, tag_name, pid_suffix, message)."""
    events = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            m = LINE_RE.match(line)
            if not m:
                sys.exit(f"{path}:{number}: not 'Mmm dd hh:mm:ss HOST TAG: MESSAGE': {line!r}")
            host, rest = m.group(1), m.group(2)
            # "combo  -- root[2421]: ROOT LOGIN ON tty2": a run of dashes before the tag is no part of it.
            rest = re.sub(r"^-+ +", "", rest)
            t = TAG_RE.match(rest)
            if not t:
                sys.exit(f"{path}:{number}: no 'TAG: ' after the host: {line!r}")
            if "|" in t.group(3):
                sys.exit(f"{path}:{number}: a '|' in the message would shift Sagan's fields: {line!r}")
            events.append((host, t.group(1), t.group(2) or "", t.group(3)))
    return events


def shift_addresses(message, v):
    if v == 0:
        return message

    def shifted(m):
        octets = [int(x) for x in m.groups()]
        if any(o > 255 for o in octets):
            return m.group(0)
        return f"{octets[0]}.{octets[1]}.{(octets[2] + v) % 256}.{octets[3]}"

    return IPV4_RE.sub(shifted, message)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rate", type=int, default=8000, help="lines per second of event time")
    ap.add_argument("--networks", type=int, default=25, help="address variants, then they repeat (0: no limit)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--loghub", default=os.path.join(here, "..", "..", "shared", "corpus", "loghub"))
    ap.add_argument("--syslog", required=True, help="output: RFC 3164 lines")
    ap.add_argument("--sagan", help="output: Sagan 1.2.0 FIFO lines")
    args = ap.parse_args()
    if args.lines <= 0 or args.rate <= 0 or args.networks < 0:
        sys.exit("--lines and --rate must be positive, --networks 0 or more")

    samples = [read_sample(os.path.join(args.loghub, name)) for name in ("OpenSSH_2k.log", "Linux_2k.log")]
    host_suffix = [21, 22]
    per_loop = 2 * min(len(s) for s in samples)
    start = datetime.datetime(2026, 12, 10, 6, 55, 46)  # the OpenSSH sample's first time
    syslog_out = open(args.syslog, "w", encoding="utf-8", newline="\n")
    sagan_out = open(args.sagan, "w", encoding="utf-8", newline="\n") if args.sagan else None
    for i in range(args.lines):
        k, j = divmod(i, per_loop)
        v = k % args.networks if args.networks else k
        which = j % 2
        _, tag_name, pid, message = samples[which][j // 2]
        host = f"10.{10 + v // 256}.{v % 256}.{host_suffix[which]}"
        message = shift_addresses(message, v)
        facility = facility_of(tag_name)
        pri = FACILITY_CODES[facility] * 8 + SEVERITY_INFO
        t = start + datetime.timedelta(seconds=i // args.rate)
        stamp = f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')}"
        syslog_out.write(f"<{pri}>{stamp} {host} {tag_name}{pid}: {message}\n")
        if sagan_out:
            program = re.split(r"[( ]", tag_name, maxsplit=1)[0] or tag_name
            sagan_out.write(f"{host}|{facility}|info|info|{tag_name}{pid}:|{i + 1}|{t.strftime('%H:%M:%S')}|"
                            f"{program}| {message}\n")
    syslog_out.close()
    if sagan_out:
        sagan_out.close()


if __name__ == "__main__":
    main()

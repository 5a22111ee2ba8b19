#!/usr/bin/env python3
"""Compares the alerts of socd and Sagan 1.2.0 on the same lines as (sid, line) pairs (bench/sagan_compare.sh).

usage: bench/sagan_alerts.py --socd SOCD.jsonl --sagan ALERT.log --input INPUT.sagan [--rules DIR]
                             [--pairs-dir DIR] [--examples N]

SOCD.jsonl   socd scan's output: rule.id is the sid, source.line the line (1-based). Summary alerts (those with
             a "suppression" object: what a threshold held back, raised when its window closes) have no
             counterpart in Sagan, which drops what it suppresses: they are counted apart, not compared.
ALERT.log    Sagan's `alert` output: "[**] [1:SID] MSG [**]" starts an alert, and its line "DATE TIME SRC:PORT ->
             ..." carries the FIFO line's date field, which bench/loghub_syslog.py fills with the line number.
INPUT.sagan  the FIFO lines fed to Sagan: every socd alert's event must carry the host, program and message of
             the same line (both engines saw the same thing); a difference is counted and printed.
Prints the totals, then one row per sid whose alerts differ: sid, alerts of socd and of Sagan, pairs in both,
only in socd, only in Sagan, the first lines of each difference, and the rule's msg. With --pairs-dir, writes
socd.pairs and sagan.pairs there ("LINE<TAB>SID" per alert, sorted) for tests/corpus/sagan_compare_test.cc.
"""
import argparse
import collections
import json
import os
import re
import sys

ALERT_HEAD = re.compile(r"^\[\*\*\] \[\d+:(\d+)(?::\d+)?\] (.*) \[\*\*\]$")
ALERT_WHERE = re.compile(r"^(\d+) \d\d:\d\d:\d\d \S+ -> ")


def read_socd(path):
    pairs = collections.Counter()
    events = {}
    summaries = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for text in f:
            a = json.loads(text)
            if "suppression" in a:
                summaries += 1
                continue
            line = a["source"]["line"]
            pairs[(a["rule"]["id"], line)] += 1
            events.setdefault(line, a.get("event", {}))
    return pairs, events, summaries


def read_sagan(path):
    pairs = collections.Counter()
    titles = {}
    sid = None
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for text in f:
            text = text.rstrip("\n")
            m = ALERT_HEAD.match(text)
            if m:
                if sid is not None:
                    bad += 1  # an alert without its line
                sid = m.group(1)
                titles.setdefault(sid, m.group(2))
                continue
            m = ALERT_WHERE.match(text)
            if m and sid is not None:
                pairs[(sid, int(m.group(1)))] += 1
                sid = None
    if sid is not None:
        bad += 1
    return pairs, titles, bad


def rule_titles(rules_dir):
    titles = {}
    if not rules_dir or not os.path.isdir(rules_dir):
        return titles
    for name in sorted(os.listdir(rules_dir)):
        if not name.endswith(".rules"):
            continue
        with open(os.path.join(rules_dir, name), encoding="utf-8", errors="replace") as f:
            for text in f:
                sid = re.search(r"[;( ]sid *: *(\d+)", text)
                msg = re.search(r'msg *: *"([^"]*)"', text)
                if sid and msg and not text.lstrip().startswith("#"):
                    titles.setdefault(sid.group(1), msg.group(1))
    return titles


def check_same_events(events, input_path):
    """socd's event fields against the FIFO line Sagan read: (lines checked, differences)."""
    wanted = set(events)
    checked = differences = 0
    with open(input_path, encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, 1):
            if number not in wanted:
                continue
            host, _, _, _, _, _, _, program, message = text.rstrip("\n").split("|", 8)
            message = message[1:] if message.startswith(" ") else message  # rsyslog's msg: " " + message
            ev = events[number]
            got = (ev.get("host"), ev.get("program"), ev.get("message"))
            checked += 1
            if got != (host, program, message):
                differences += 1
                if differences <= 5:
                    print(f"line {number}: socd read host/program/message {got!r}, Sagan was fed "
                          f"{(host, program, message)!r}", file=sys.stderr)
    return checked, differences


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socd", required=True)
    ap.add_argument("--sagan", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--rules")
    ap.add_argument("--pairs-dir")
    ap.add_argument("--examples", type=int, default=3)
    args = ap.parse_args()

    socd, events, summaries = read_socd(args.socd)
    sagan, titles, bad = read_sagan(args.sagan)
    for sid, title in rule_titles(args.rules).items():
        titles.setdefault(sid, title)
    checked, differences = check_same_events(events, args.input)
    if args.pairs_dir:
        for name, pairs in (("socd.pairs", socd), ("sagan.pairs", sagan)):
            with open(os.path.join(args.pairs_dir, name), "w") as f:
                for (sid, line), n in sorted(pairs.items(), key=lambda p: (p[0][1], int(p[0][0]))):
                    f.write(f"{line}\t{sid}\n" * n)

    by_sid = collections.defaultdict(lambda: [0, 0, 0, [], []])  # socd, sagan, both, only socd, only sagan
    for (sid, line), n in socd.items():
        by_sid[sid][0] += n
    for (sid, line), n in sagan.items():
        by_sid[sid][1] += n
    for key in set(socd) | set(sagan):
        sid, line = key
        a, b = socd.get(key, 0), sagan.get(key, 0)
        row = by_sid[sid]
        row[2] += min(a, b)
        if a > b:
            row[3].extend([line] * (a - b))
        elif b > a:
            row[4].extend([line] * (b - a))
    total_socd, total_sagan = sum(socd.values()), sum(sagan.values())
    both = sum(r[2] for r in by_sid.values())
    only_socd = sum(len(r[3]) for r in by_sid.values())
    only_sagan = sum(len(r[4]) for r in by_sid.values())
    same_sids = sum(1 for r in by_sid.values() if not r[3] and not r[4])
    print(f"alerts: socd={total_socd} sagan={total_sagan} equal={both} only_socd={only_socd} "
          f"only_sagan={only_sagan} sids_equal={same_sids} sids_differing={len(by_sid) - same_sids} "
          f"socd_summaries={summaries} "
          f"sagan_alerts_without_line={bad} events_checked={checked} events_differing={differences}")
    print("sid\tsocd\tsagan\tequal\tonly_socd\tonly_sagan\tfirst_lines_only_socd\tfirst_lines_only_sagan\tmsg")
    for sid in sorted(by_sid, key=int):
        a, b, eq, os_lines, sa_lines = by_sid[sid]
        if not os_lines and not sa_lines:
            continue
        first = lambda lines: ",".join(str(n) for n in sorted(lines)[: args.examples]) or "-"
        print(f"{sid}\t{a}\t{b}\t{eq}\t{len(os_lines)}\t{len(sa_lines)}\t{first(os_lines)}\t{first(sa_lines)}\t"
              f"{titles.get(sid, '')}")
    return 0 if differences == 0 and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

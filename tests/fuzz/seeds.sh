#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets from the project's fixtures: seeds.sh SOURCE_DIR OUT_DIR.
# One directory per target under OUT_DIR, rebuilt from scratch; every file is one input. Line-oriented targets
# get single lines (the first 60 of each sample), file-oriented ones whole files (at most 64 KiB each).
set -euo pipefail
export LC_ALL=C  # awk counts bytes, not characters
src=$1
out=$2
rm -rf "$out"
mkdir -p "$out"/{json_event,syslog,framing,syslog_stream,sigma,sagan,config,national_link,cef}

# lines FILE DIR PREFIX: the first 60 non-empty lines of FILE, one file each.
lines() {
  [ -f "$1" ] || return 0
  awk -v dir="$2" -v prefix="$3" 'NF && n < 60 { n++; f = sprintf("%s/%s-%03d", dir, prefix, n); printf "%s", $0 > f;
      close(f) }' "$1"
}
# whole FILE DIR NAME [HEADER]: HEADER (a few bytes of parameters or a selector) then the file.
whole() {
  [ -f "$1" ] || return 0
  { printf '%s' "${4:-}"; head -c 65536 "$1"; } >"$2/$3"
}

n=0
for f in "$src"/config/samples/*.jsonl "$src"/tests/golden/*/input.jsonl; do
  n=$((n + 1))
  lines "$f" "$out/json_event" "j$n"
  lines "$f" "$out/national_link" "j$n"
done
n=0
for f in "$src"/config/samples/*.log "$src"/tests/golden/*/input.log; do
  n=$((n + 1))
  lines "$f" "$out/syslog" "s$n"
  lines "$f" "$out/national_link" "s$n"
done
# framing: 4 parameter bytes (see fuzz_framing.cc), then a file's head, or its first lines octet-counted.
n=0
for f in "$src"/config/samples/* "$src"/tests/golden/*/input.*; do
  n=$((n + 1))
  { printf 'P@(0'; head -c 4096 "$f"; } >"$out/framing/f$n"
  { printf 'OA)1'; head -n 20 "$f" | awk '{ printf "%d %s", length($0) + 1, $0 "\n" }'; } >"$out/framing/o$n"
  # syslog_stream: the same as sent over TCP, octet-counted and LF-terminated.
  head -n 20 "$f" | awk '{ printf "%d %s", length($0) + 1, $0 "\n" }' >"$out/syslog_stream/o$n"
  head -c 4096 "$f" >"$out/syslog_stream/l$n"
done
# Sigma: every shipped rule and every rule of the golden cases.
n=0
while IFS= read -r f; do
  n=$((n + 1))
  whole "$f" "$out/sigma" "r$n"
done < <(find "$src/rules" "$src/tests/golden" -name '*.yml' -path '*rules*' | sort)
# Sagan: the golden case's rule files whole, and each rule line alone.
n=0
while IFS= read -r f; do
  n=$((n + 1))
  whole "$f" "$out/sagan" "w$n"
  lines "$f" "$out/sagan" "l$n"
done < <(find "$src/tests/golden" -path '*sagan*' -path '*rules*' -type f | sort)
# Configs: a selector byte (see fuzz_config.cc) then the file.
whole "$src/config/socd.conf" "$out/config" run R
whole "$src/config/thresholds.yml" "$out/config" thresholds T
whole "$src/tests/golden/stateful-thresholds/thresholds.yml" "$out/config" thresholds-golden T
whole "$src/config/assets.yml" "$out/config" assets A
whole "$src/config/routing.yml" "$out/config" routing O
whole "$src/config/forwarding.yml" "$out/config" forwarding F
whole "$src/config/incidents.yml" "$out/config" incidents I
whole "$src/config/mappings.yml" "$out/config" mappings M
# CEF (see fuzz_cef.cc): 8 bytes of time (little-endian), facility, system level, then NUL-separated fields:
# version, rule id, level, alert id, host, system, syslog host name, title, command line, image, source address.
# The values of tests/integration/forward_cef_test.cc, and sample and golden events inside an alert's JSON (a
# time in 2024 whose first byte is 'J').
le64() {
  local v=$1 i
  for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf %03o $(((v >> (8 * i)) & 255)))"; done
}
cef() {
  local file=$1 time=$2 params=$3
  shift 3
  { le64 "$time"; printf "$params"; local first=1 v; for v in "$@"; do
      [ $first = 1 ] || printf '\0'; first=0; printf '%s' "$v"; done; } >"$out/cef/$file"
}
cef tricky 1714557600007 '\020\003' 1 rule-a high a7 web01 'Cổng dịch vụ công' '' 'Admin | logon \ from a=b' \
  $'cmd.exe /c set a=b\\c\nwhoami' 'C:\Windows\System32\cmd.exe' 203.0.113.7
cef format 1714557600000 '\020\004' 1 'rule|x' critical a1 db01 'Cổng dịch vụ công' '' 'T\itle|x' '' '' ''
cef plain 1714557600000 '\000\000' 1 rule-b low a2 web01 '' collector.example 'Failed logon for an admin account'
cef breaks -1 '\027\377' $'v\r1' $'r\n|\\' informational $'id=\\n' $'h o\ts\n' $'s\r\n' '' $'a\nb\r=\\' $'x=\n' '' 1.2.3.4
n=0
for f in "$src"/config/samples/*.jsonl "$src"/tests/golden/*/input.jsonl; do
  n=$((n + 1))
  k=0
  while IFS= read -r line && [ $k -lt 20 ]; do
    [ -n "$line" ] || continue
    k=$((k + 1))
    { le64 $(((1714557600000 & ~255) | 74)); printf '\020\003'; printf '1\0rule-%d\0medium\0id-%d\0host\0\0\0' $n $k
      printf '{"id":"id-%d","rule":{"title":"Rule %d"},"event":%s}' $k $n "$line"; } >"$out/cef/j$n-$k"
  done <"$f"
done

#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets from the project's fixtures: seeds.sh SOURCE_DIR OUT_DIR.
# One directory per target under OUT_DIR, rebuilt from scratch; every file is one input. Line-oriented targets
# get single lines (the first 60 of each sample), file-oriented ones whole files (at most 64 KiB each).
set -euo pipefail
export LC_ALL=C  # awk counts bytes, not characters
src=$1
out=$2
rm -rf "$out"
mkdir -p "$out"/{json_event,syslog,framing,syslog_stream,sigma,sagan,config,national_link}

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

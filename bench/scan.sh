#!/usr/bin/env bash
# The scan benchmark: socd's throughput on a real Windows event log, side by side with a bare simdjson parse of
# the same bytes, plus the compile time of the whole SigmaHQ rule set (cold and warm cache) and peak memory.
# See bench/README.md for what each figure means.
#
# usage: bench/scan.sh [BUILD_DIR] [REPEAT]     (defaults: build, 3; run from anywhere)
# Needs ../shared/corpus beside the repository, a built socd and bench/bare_parse, unzip and /usr/bin/time.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$root" && realpath -m "${1:-build}")
repeat=${2:-3}
corpus="$root/../shared/corpus"
socd="$build/socd"
bare_parse="$build/bench/bare_parse"
mordor_zip="$corpus/mordor/metasploit_logonpasswords_lsass_memory_dump.zip"
windows_rules="$corpus/sigma/rules/windows"
sigma_trees=("$corpus/sigma/rules" "$corpus/sigma/rules-emerging-threats" "$corpus/sigma/rules-threat-hunting")

fail() { echo "scan.sh: $*" >&2; exit 1; }
[ -d "$corpus" ] || fail "$corpus is absent: the benchmark needs the shared corpora"
[ -x "$socd" ] || fail "$socd is missing: build first (cmake --build ${1:-build})"
[ -x "$bare_parse" ] || fail "$bare_parse is missing: build first (cmake --build ${1:-build})"
[ -x /usr/bin/time ] || fail "/usr/bin/time is missing: run .ci/setup (package 'time')"
command -v unzip >/dev/null || fail "unzip is missing: run .ci/setup"
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || fail "REPEAT must be a positive number, not '$repeat'"

work=$(mktemp -d "${TMPDIR:-/tmp}/socd-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
unzip -q -d "$work" "$mordor_zip"
input=$(find "$work" -maxdepth 1 -name '*.json' | head -n 1)
[ -n "$input" ] || fail "$mordor_zip holds no .json file"
: > "$work/empty.jsonl"
cat "$input" > /dev/null  # every run reads the file from the page cache

# field KEY LINE: the value of KEY=... in a "summary:"-style line.
field() { sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" <<< "$2"; }
# rss_mib TIME_FILE / wall_seconds TIME_FILE: from the report of /usr/bin/time -v.
rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
wall_seconds() {
  awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i];
              printf "%.2f", s}' "$1"
}
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# run_socd NAME ARGS...: runs socd under /usr/bin/time -v; stderr in $work/NAME.err, the time report in
# $work/NAME.time; prints the summary line. Fails the benchmark when socd fails.
run_socd() {
  local name=$1
  shift
  if ! /usr/bin/time -v -o "$work/$name.time" "$socd" "$@" > /dev/null 2> "$work/$name.err"; then
    tail -n 20 "$work/$name.err" >&2
    fail "socd $* failed ($(grep 'Exit status' "$work/$name.time" || echo 'no exit status'))"
  fi
  local summary
  summary=$(grep '^summary: ' "$work/$name.err" | tail -n 1)
  [ -n "$summary" ] || { tail -n 20 "$work/$name.err" >&2; fail "socd $* printed no summary line"; }
  echo "$summary"
}

echo "scan.sh: input $(basename "$input") ($(stat -c %s "$input") bytes), $repeat runs each, median reported" >&2

bare=$("$bare_parse" "$input" "$repeat")
echo "$bare" >&2

scan_eps=() scan_mbps=()
for run in $(seq "$repeat"); do
  summary=$(run_socd "scan$run" scan --threads 1 --rules "$windows_rules" --input "$input" \
            --cache-dir "$work/cache-windows")
  echo "$summary" >&2
  scan_eps+=("$(field events_per_s "$summary")")
  scan_mbps+=("$(field mb_per_s "$summary")")
  scan_rss[$run]=$(rss_mib "$work/scan$run.time")
done
scan_summary=$summary
socd_eps=$(printf '%s\n' "${scan_eps[@]}" | median)
socd_mbps=$(printf '%s\n' "${scan_mbps[@]}" | median)
socd_rss=$(printf '%s\n' "${scan_rss[@]}" | sort -g | tail -n 1)
bare_eps=$(field events_per_s "$bare")
bare_mbps=$(field mb_per_s "$bare")

trees=()
for tree in "${sigma_trees[@]}"; do trees+=(--rules "$tree"); done
cold=$(run_socd cold scan "${trees[@]}" --input "$work/empty.jsonl" --cache-dir "$work/cache-all")
warm=$(run_socd warm scan "${trees[@]}" --input "$work/empty.jsonl" --cache-dir "$work/cache-all")
echo "$cold" >&2
echo "$warm" >&2

[ "$(field events "$scan_summary")" = "$(field events "$bare")" ] ||
  echo "scan.sh: WARNING: socd counted $(field events "$scan_summary") events, the bare parse $(field events "$bare")" >&2

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
machine="$(nproc) cores ${cpu:-unknown CPU}, $memory, $(uname -sr)"
rules_windows=$(field rules_loaded "$scan_summary")
rules_all=$(field rules_loaded "$cold")
skipped_all=$(field rules_skipped "$cold")

cat <<TABLE

Machine: $machine
Input: $(basename "$input"), $(field events "$bare") events, $(field bytes "$bare") bytes

| figure | value |
|---|---|
| socd scan, 1 thread, $rules_windows SigmaHQ windows rules: events/s | $socd_eps |
| socd scan, same run: MB/s | $socd_mbps |
| bare simdjson On-Demand parse, every field visited: events/s | $bare_eps |
| bare parse: MB/s | $bare_mbps |
| socd / bare parse (events/s) | $(awk -v a="$socd_eps" -v b="$bare_eps" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}') |
| alerts on the input | $(field alerts "$scan_summary") |
| compile all SigmaHQ ($rules_all loaded, $skipped_all skipped), cold cache: load s (wall s) | $(field load_seconds "$cold") ($(wall_seconds "$work/cold.time")) |
| same, warm cache | $(field load_seconds "$warm") ($(wall_seconds "$work/warm.time")) |
| peak RSS, scan | $socd_rss MiB |
| peak RSS, compile all SigmaHQ cold / warm | $(rss_mib "$work/cold.time") / $(rss_mib "$work/warm.time") MiB |
TABLE

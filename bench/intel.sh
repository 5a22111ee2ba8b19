#!/usr/bin/env bash
# The threat-intelligence benchmark: what matching 500,000 indicators adds to `socd scan` on the Mordor LSASS-dump
# events with the SigmaHQ Windows rules. Each round runs the same scan without and with the lists (in alternating
# order, so both see the same machine), and the table gives the medians and the overhead. See bench/README.md.
#
# usage: bench/intel.sh [BUILD_DIR] [REPEAT] [COUNT]     (defaults: build, 5, 500000; run from anywhere)
# Needs ../shared/corpus beside the repository, a built socd, python3, unzip and /usr/bin/time.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$root" && realpath -m "${1:-build}")
repeat=${2:-5}
count=${3:-500000}
corpus="$root/../shared/corpus"
socd="$build/socd"
mordor_zip="$corpus/mordor/metasploit_logonpasswords_lsass_memory_dump.zip"
windows_rules="$corpus/sigma/rules/windows"

fail() { echo "intel.sh: $*" >&2; exit 1; }
[ -d "$corpus" ] || fail "$corpus is absent: the benchmark needs the shared corpora"
[ -x "$socd" ] || fail "$socd is missing: build first (cmake --build ${1:-build} --target socd)"
[ -x /usr/bin/time ] || fail "/usr/bin/time is missing: run .ci/setup (package 'time')"
command -v unzip >/dev/null || fail "unzip is missing: run .ci/setup"
command -v python3 >/dev/null || fail "python3 is missing"
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || fail "REPEAT must be a positive number, not '$repeat'"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || fail "COUNT must be a positive number, not '$count'"

work=$(mktemp -d "${TMPDIR:-/tmp}/socd-intel-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
unzip -q -d "$work" "$mordor_zip"
input=$(find "$work" -maxdepth 1 -name '*.json' | head -n 1)
[ -n "$input" ] || fail "$mordor_zip holds no .json file"
python3 "$root/bench/intel_indicators.py" "$work/intel" "$count" >&2
intel=(--intel "$work/intel/bench-plain.txt" --intel "$work/intel/bench-hashes.csv")
cat "$input" > /dev/null  # every run reads the file from the page cache

# field KEY LINE: the value of KEY=... in a "summary:"-style line.
field() { sed -n "s/.*[ :]$1=\([^ ;]*\).*/\1/p" <<< "$2"; }
rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
load_average() { cut -d ' ' -f 1-3 /proc/loadavg; }

# run_scan NAME ARGS...: socd scan under /usr/bin/time -v; stderr in $work/NAME.err; prints the summary line.
run_scan() {
  local name=$1
  shift
  if ! /usr/bin/time -v -o "$work/$name.time" "$socd" scan --threads 1 --rules "$windows_rules" --input "$input" \
       --cache-dir "$work/cache" "$@" > /dev/null 2> "$work/$name.err"; then
    tail -n 20 "$work/$name.err" >&2
    fail "socd scan $* failed ($(grep 'Exit status' "$work/$name.time" || echo 'no exit status'))"
  fi
  local summary
  summary=$(grep '^summary: ' "$work/$name.err" | tail -n 1)
  [ -n "$summary" ] || { tail -n 20 "$work/$name.err" >&2; fail "socd scan printed no summary line"; }
  echo "$summary"
}

load_start=$(load_average)
echo "intel.sh: input $(basename "$input") ($(stat -c %s "$input") bytes), $repeat rounds, load average $load_start" >&2
run_scan warm > /dev/null  # compiles the rules into the cache every later run reads

base_s=() intel_s=() ratio=() base_cpu=() intel_cpu=() cpu_ratio=() base_rss=() intel_rss=() list_load=()
for round in $(seq "$repeat"); do
  order=(base intel)
  [ $((round % 2)) -eq 0 ] && order=(intel base)
  for what in "${order[@]}"; do
    if [ "$what" = base ]; then
      base_summary=$(run_scan "base$round")
      echo "round $round without lists: $base_summary" >&2
    else
      intel_summary=$(run_scan "intel$round" "${intel[@]}")
      enrichment=$(grep '^enrichment: ' "$work/intel$round.err" | tail -n 1)
      echo "round $round with lists:    $intel_summary" >&2
      echo "                             $enrichment" >&2
    fi
  done
  base_s+=("$(field scan_seconds "$base_summary")")
  intel_s+=("$(field scan_seconds "$intel_summary")")
  ratio+=("$(awk -v a="${intel_s[-1]}" -v b="${base_s[-1]}" 'BEGIN {printf "%.4f", (b > 0 ? a / b : 0)}')")
  base_cpu+=("$(field scan_cpu_seconds "$(grep '^resources: ' "$work/base$round.err")")")
  intel_cpu+=("$(field scan_cpu_seconds "$(grep '^resources: ' "$work/intel$round.err")")")
  cpu_ratio+=("$(awk -v a="${intel_cpu[-1]}" -v b="${base_cpu[-1]}" 'BEGIN {printf "%.4f", (b > 0 ? a / b : 0)}')")
  echo "round $round: scan CPU s without / with lists: ${base_cpu[-1]} / ${intel_cpu[-1]}" >&2
  base_rss+=("$(rss_mib "$work/base$round.time")")
  intel_rss+=("$(rss_mib "$work/intel$round.time")")
  list_load+=("$(sed -n 's/.*intel: .* load_seconds=\([0-9.]*\).*/\1/p' <<< "$enrichment")")
done
load_end=$(load_average)

[ "$(field events "$base_summary")" = "$(field events "$intel_summary")" ] || fail "the two scans counted different events"
base_alerts=$(field alerts "$base_summary")
intel_alerts=$(field alerts "$intel_summary")
intel_hits=$(field intel_alerts "$enrichment")
[ $((intel_alerts - intel_hits)) -eq "$base_alerts" ] ||
  fail "with the lists the rules raised $((intel_alerts - intel_hits)) alerts, without them $base_alerts"
events=$(field events "$base_summary")
base_med=$(printf '%s\n' "${base_s[@]}" | median)
intel_med=$(printf '%s\n' "${intel_s[@]}" | median)
ratio_med=$(printf '%s\n' "${ratio[@]}" | median)
overhead=$(awk -v r="$ratio_med" 'BEGIN {printf "%.1f", (r - 1) * 100}')
base_cpu_med=$(printf '%s\n' "${base_cpu[@]}" | median)
intel_cpu_med=$(printf '%s\n' "${intel_cpu[@]}" | median)
cpu_ratio_med=$(printf '%s\n' "${cpu_ratio[@]}" | median)
cpu_overhead=$(awk -v r="$cpu_ratio_med" 'BEGIN {printf "%.1f", (r - 1) * 100}')
met=$(awk -v r="$cpu_ratio_med" 'BEGIN {print (r <= 1.20 ? "met" : "NOT met")}')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)

cat <<TABLE

Machine: $(nproc) cores ${cpu:-unknown CPU}, $memory, $(uname -sr); load average $load_start at the start, $load_end at the end
Input: $(basename "$input"), $events events; rules: $(field rules_loaded "$base_summary") SigmaHQ windows rules; lists: $(sed -n 's/.*intel: \(lists=[0-9]* indicators=[0-9]* ip=[0-9]* domain=[0-9]* hash=[0-9]* url=[0-9]*\).*/\1/p' <<< "$enrichment")

| figure ($repeat rounds, medians) | value |
|---|---|
| socd scan, 1 thread, no lists: scan CPU s / wall s (events/s of the wall time) | $base_cpu_med / $base_med ($(awk -v e="$events" -v s="$base_med" 'BEGIN {printf "%.0f", e / s}')) |
| same scan with the lists loaded: scan CPU s / wall s (events/s) | $intel_cpu_med / $intel_med ($(awk -v e="$events" -v s="$intel_med" 'BEGIN {printf "%.0f", e / s}')) |
| CPU time added by the lists, median of the per-round ratios (target <= 20%: $met) | ${cpu_overhead}% |
| wall time added, the same way (noisier: it counts the waits for the other load of the machine) | ${overhead}% |
| loading the lists (both files, $count lines) | $(printf '%s\n' "${list_load[@]}" | median) s |
| alerts: rules / lists | $base_alerts / $intel_hits |
| peak RSS, no lists / with lists | $(printf '%s\n' "${base_rss[@]}" | median) / $(printf '%s\n' "${intel_rss[@]}" | median) MiB |
TABLE

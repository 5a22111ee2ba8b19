#!/usr/bin/env bash
# The service benchmark: `socd run` reading a real Windows event log with 1 and 2 workers, side by side with
# `socd scan --threads 1` on the same bytes (the reference), and the latency from a batch entering the
# pipeline to its alerts stored while the input arrives at half the maximum rate. See bench/README.md for what
# each figure means.
#
# usage: bench/run.sh [BUILD_DIR] [REPEAT] [COPIES]     (defaults: build, 3, 40; run from anywhere)
# COPIES: the input is the Mordor file repeated this many times, so that a run lasts seconds, not a fraction
# of one. Needs ../shared/corpus beside the repository, a built socd and bench/feed, unzip and /usr/bin/time.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$root" && realpath -m "${1:-build}")
repeat=${2:-3}
copies=${3:-40}
corpus="$root/../shared/corpus"
socd="$build/socd"
feed="$build/bench/feed"
mordor_zip="$corpus/mordor/metasploit_logonpasswords_lsass_memory_dump.zip"
windows_rules="$corpus/sigma/rules/windows"

fail() { echo "run.sh: $*" >&2; exit 1; }
[ -d "$corpus" ] || fail "$corpus is absent: the benchmark needs the shared corpora"
[ -x "$socd" ] || fail "$socd is missing: build first (cmake --build ${1:-build})"
[ -x "$feed" ] || fail "$feed is missing: build first (cmake --build ${1:-build})"
[ -x /usr/bin/time ] || fail "/usr/bin/time is missing: run .ci/setup (package 'time')"
command -v unzip >/dev/null || fail "unzip is missing: run .ci/setup"
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || fail "REPEAT must be a positive number, not '$repeat'"
[[ "$copies" =~ ^[1-9][0-9]*$ ]] || fail "COPIES must be a positive number, not '$copies'"

work=$(mktemp -d "${TMPDIR:-/tmp}/socd-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
unzip -q -d "$work" "$mordor_zip"
original=$(find "$work" -maxdepth 1 -name '*.json' | head -n 1)
[ -n "$original" ] || fail "$mordor_zip holds no .json file"
input="$work/input.jsonl"
for _ in $(seq "$copies"); do cat "$original"; done > "$input"
sync "$input"  # its write-back is over before anything is timed
latency_copies=$(( copies < 10 ? copies : 10 ))  # the latency step feeds this many copies
: > "$work/empty.jsonl"
cat "$input" > /dev/null  # every run reads the file from the page cache
cache="$work/cache-windows"

# field KEY LINE: the value of KEY=... in a "summary:"-style line.
field() { sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" <<< "$2"; }
rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
load() { cut -d ' ' -f 1 /proc/loadavg; }

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

echo "run.sh: input $(basename "$original") x $copies ($(stat -c %s "$input") bytes), $repeat runs each," \
     "median reported; load average $(load) at the start" >&2
loads=("$(load)")

# The rules compiled once into the cache every run below shares (warm).
run_socd warm-cache scan --threads 1 --rules "$windows_rules" --input "$work/empty.jsonl" \
  --cache-dir "$cache" >&2

scan_eps=() scan2_eps=() run1_eps=() run2_eps=() stdin_eps=() run1_rss=() run2_rss=()
for run in $(seq "$repeat"); do
  summary=$(run_socd "scan$run" scan --threads 1 --rules "$windows_rules" --input "$input" \
            --cache-dir "$cache")
  echo "$summary" >&2
  scan_eps+=("$(field events_per_s "$summary")")
  scan_summary=$summary
  summary=$(run_socd "scan2-$run" scan --threads 2 --rules "$windows_rules" --input "$input" \
            --cache-dir "$cache")
  echo "threads=2 $summary" >&2
  scan2_eps+=("$(field events_per_s "$summary")")
  for workers in 1 2; do
    summary=$(run_socd "run$workers-$run" run --file "$input" --exit-when-done --workers "$workers" \
              --data-dir "$work/data-$workers-$run" --rules "$windows_rules" --cache-dir "$cache")
    echo "workers=$workers $summary" >&2
    [ "$(field events "$summary")" = "$(field events "$scan_summary")" ] ||
      fail "socd run counted $(field events "$summary") events, socd scan $(field events "$scan_summary")"
    [ "$(field alerts_stored "$summary")" = "$(field alerts "$scan_summary")" ] ||
      fail "socd run stored $(field alerts_stored "$summary") alerts," \
           "socd scan found $(field alerts "$scan_summary")"
    if [ "$workers" = 1 ]; then
      run1_eps+=("$(field events_per_s "$summary")") run1_rss+=("$(rss_mib "$work/run1-$run.time")")
    else
      run2_eps+=("$(field events_per_s "$summary")") run2_rss+=("$(rss_mib "$work/run2-$run.time")")
    fi
    rm -rf "$work/data-$workers-$run"
  done
  # The same input through a pipe into --stdin as fast as it goes: the maximum rate of the latency step.
  if ! cat "$input" | "$socd" run --stdin --exit-when-done --workers 2 --data-dir "$work/data-pipe-$run" \
         --rules "$windows_rules" --cache-dir "$cache" > /dev/null 2> "$work/pipe$run.err"; then
    tail -n 20 "$work/pipe$run.err" >&2
    fail "cat FILE | socd run --stdin failed"
  fi
  summary=$(grep '^summary: ' "$work/pipe$run.err" | tail -n 1)
  echo "stdin, full speed: $summary" >&2
  [ "$(field events "$summary")" = "$(field events "$scan_summary")" ] ||
    fail "socd run --stdin counted $(field events "$summary") events," \
         "socd scan $(field events "$scan_summary")"
  stdin_eps+=("$(field events_per_s "$summary")")
  rm -rf "$work/data-pipe-$run"
  loads+=("$(load)")
done
scan_median=$(printf '%s\n' "${scan_eps[@]}" | median)
scan2_median=$(printf '%s\n' "${scan2_eps[@]}" | median)
run1_median=$(printf '%s\n' "${run1_eps[@]}" | median)
run2_median=$(printf '%s\n' "${run2_eps[@]}" | median)
stdin_median=$(printf '%s\n' "${stdin_eps[@]}" | median)

# Latency at half the maximum rate: the input fed through stdin at half the rate --stdin reached at full
# speed.
rate=$(awk -v r="$stdin_median" 'BEGIN {printf "%.0f", r / 2}')
p50s=() p99s=() fed=()
for run in $(seq "$repeat"); do
  if ! "$feed" "$original" "$rate" "$latency_copies" 2> "$work/feed$run.err" |
       /usr/bin/time -v -o "$work/stdin$run.time" "$socd" run --stdin --exit-when-done --workers 2 \
         --data-dir "$work/data-stdin-$run" --rules "$windows_rules" --cache-dir "$cache" \
         > /dev/null 2> "$work/stdin$run.err"; then
    tail -n 20 "$work/stdin$run.err" "$work/feed$run.err" >&2
    fail "feed | socd run --stdin failed"
  fi
  summary=$(grep '^summary: ' "$work/stdin$run.err" | tail -n 1)
  [ -n "$summary" ] ||
    { tail -n 20 "$work/stdin$run.err" >&2; fail "socd run --stdin printed no summary line"; }
  feed_line=$(tail -n 1 "$work/feed$run.err")
  echo "stdin at $rate lines/s: $summary" >&2
  echo "$feed_line" >&2
  fed_events=$(( $(field events "$scan_summary") / copies * latency_copies ))
  [ "$(field events "$summary")" = "$fed_events" ] ||
    fail "socd run --stdin counted $(field events "$summary") events of the $fed_events fed"
  p50s+=("$(field batch_latency_p50_ms "$summary")")
  p99s+=("$(field batch_latency_p99_ms "$summary")")
  fed+=("$(field lines_per_s "$feed_line")")
  rm -rf "$work/data-stdin-$run"
  loads+=("$(load)")
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
machine="$(nproc) cores ${cpu:-unknown CPU}, $memory, $(uname -sr)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
events=$(field events "$scan_summary")
bytes=$(field bytes "$scan_summary")
fed_median=$(printf '%s\n' "${fed[@]}" | median)
p50=$(printf '%s\n' "${p50s[@]}" | median)
p99=$(printf '%s\n' "${p99s[@]}" | median)
rss1=$(printf '%s\n' "${run1_rss[@]}" | sort -g | tail -n 1)
scan2_ratio=$(ratio "$scan2_median" "$scan_median")
rss2=$(printf '%s\n' "${run2_rss[@]}" | sort -g | tail -n 1)

cat <<TABLE

Machine: $machine
Load average (1 min) at the start and after each round: ${loads[*]}
Input: $(basename "$original") x $copies, $events events, $bytes bytes; $(field rules_loaded "$scan_summary")
SigmaHQ windows rules, warm rule cache, a fresh data directory per run

| figure | value |
|---|---|
| socd scan, 1 thread (reference): events/s | $scan_median |
| socd run --file, 1 worker: events/s | $run1_median |
| socd run --file, 2 workers: events/s | $run2_median |
| 2 workers / 1 worker | $(ratio "$run2_median" "$run1_median") |
| socd run 1 worker / socd scan 1 thread | $(ratio "$run1_median" "$scan_median") |
| socd run --stdin through a pipe, 2 workers, full speed: events/s | $stdin_median |
| socd scan, 2 threads: events/s (its ratio to 1 thread) | $scan2_median ($scan2_ratio) |
| alerts stored per run | $(field alerts "$scan_summary") |
| socd run --stdin, 2 workers, fed at $rate lines/s (achieved $fed_median): batch latency p50 | $p50 ms |
| same: batch latency p99 | $p99 ms |
| peak RSS, socd run 1 / 2 workers | $rss1 / $rss2 MiB |
TABLE

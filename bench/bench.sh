#!/usr/bin/env bash
# The standard suite in one table (see bench/README.md, "bench.sh"): socd scan against the bare simdjson parse and
# the bare Hyperscan scan of the same bytes, socd replay (the whole pipeline) with 1 and 2 workers, the cost curve
# against the rule count, alert-store writes/s, rule compile cold and warm, peak RSS of each, the load average
# beside every figure.
#
#   bench/bench.sh [--build DIR] [--corpus DIR] [--repeat N]      defaults: build ../shared/corpus 3
#
# Needs: DIR/socd, DIR/bench/bare_parse, DIR/bench/bare_hs, DIR/bench/bench_micro; the corpus' mordor/ and
# sigma/ folders; /usr/bin/time, unzip, python3.
set -euo pipefail

build=build
corpus=../shared/corpus
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
socd=$build/socd
for tool in "$socd" "$build/bench/bare_parse" "$build/bench/bare_hs" "$build/bench/bench_micro"; do
  [ -x "$tool" ] || { echo "bench.sh: $tool is missing: cmake --build $build --target socd bare_parse bare_hs bench_micro" >&2; exit 1; }
done
zip=$corpus/mordor/metasploit_logonpasswords_lsass_memory_dump.zip
windows=$corpus/sigma/rules/windows
[ -f "$zip" ] && [ -d "$windows" ] || { echo "bench.sh: $zip or $windows is missing (give --corpus)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/socd-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
unzip -q -o "$zip" -d "$work"
input=$(find "$work" -name '*.json' | head -1)
cat "$input" > /dev/null  # into the page cache
cache=$work/cache

load() { cut -d' ' -f1 /proc/loadavg; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }          # field NAME < "a=1 b=2"
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
rss_mib() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{printf "%.0f", $1/1024}'; }
jsonv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 |"); echo "${rows[-1]}" >&2; }   # figure, value, peak RSS, load, command

# socd scan, 1 thread, the SigmaHQ Windows rules (rule cache warmed first).
"$socd" scan --threads 1 --rules "$windows" --cache-dir "$cache" --input /dev/null > /dev/null 2>&1 || true
scan_eps=(); l=$(load)
for i in $(seq "$repeat"); do
  /usr/bin/time -v -o "$work/time" "$socd" scan --threads 1 --rules "$windows" --cache-dir "$cache" \
    --input "$input" > /dev/null 2> "$work/err"
  scan_eps+=("$(grep '^summary:' "$work/err" | field events_per_s)")
done
scan=$(printf '%s\n' "${scan_eps[@]}" | median)
row "socd scan, 1 thread, SigmaHQ windows rules: events/s" "$scan" "$(rss_mib "$work/time") MiB" "$l" \
  "\`socd scan --threads 1 --rules $windows --input FILE\`"

# The bare references on the same bytes.
l=$(load)
bp=$("$build/bench/bare_parse" "$input" "$repeat" | field events_per_s)
row "bare simdjson parse, same file: events/s (socd scan / it)" "$bp ($(awk -v a="$scan" -v b="$bp" 'BEGIN{printf "%.3f", a/b}'))" "-" "$l" \
  "\`bench/bare_parse FILE $repeat\`"
l=$(load)
bh=$("$build/bench/bare_hs" "$windows" "$input" "$repeat")
bh_eps=$(echo "$bh" | field events_per_s)
row "bare Hyperscan scan of each line, $(echo "$bh" | field patterns) literals of the windows rules: events/s (socd scan / it)" \
  "$bh_eps ($(awk -v a="$scan" -v b="$bh_eps" 'BEGIN{printf "%.3f", a/b}'))" "-" "$l" "\`bench/bare_hs $windows FILE $repeat\`"

# socd replay: the whole pipeline (parse, match, stateful stage, RocksDB store), 1 and 2 workers.
for w in 1 2; do
  eps=(); p99=(); l=$(load)
  for i in $(seq "$repeat"); do
    /usr/bin/time -v -o "$work/time" "$socd" replay --workers "$w" --rules "$windows" --cache-dir "$cache" \
      --progress never --json "$work/replay.json" "$input" 2> /dev/null
    eps+=("$(jsonv "$work/replay.json" 'd["events_per_s"]')")
    p99+=("$(jsonv "$work/replay.json" 'd["latency_ms"]["p99"]')")
  done
  e=$(printf '%s\n' "${eps[@]}" | median)
  row "socd replay, $w worker(s): events/s (/ scan); batch latency p99 ms" \
    "$e ($(awk -v a="$e" -v b="$scan" 'BEGIN{printf "%.2f", a/b}')); $(printf '%s\n' "${p99[@]}" | median)" \
    "$(rss_mib "$work/time") MiB" "$l" "\`socd replay --workers $w --rules $windows FILE\`"
done

# The cost curve: events/s with 10, 100, 1000 and all SigmaHQ rules (every k-th rule file of the three trees).
all=$(find "$corpus/sigma/rules" "$corpus/sigma/rules-emerging-threats" "$corpus/sigma/rules-threat-hunting" \
      -name '*.yml' | sort)
total=$(echo "$all" | wc -l)
base_us=""
for n in 10 100 1000 "$total"; do
  dir=$work/rules-$n
  mkdir -p "$dir"
  echo "$all" | awk -v n="$n" -v t="$total" 'BEGIN{k=t/n} NR==1 || int((NR-1)/k) != int((NR-2)/k) {print}' \
    | head -"$n" | python3 -c 'import os, sys
for i, f in enumerate(sys.stdin.read().split()): os.symlink(os.path.realpath(f), os.path.join(sys.argv[1], "%05d.yml" % i))' "$dir"
  "$socd" scan --threads 1 --rules "$dir" --cache-dir "$cache" --input /dev/null > /dev/null 2>&1 || true
  eps=(); l=$(load)
  for i in $(seq "$repeat"); do
    /usr/bin/time -v -o "$work/time" "$socd" scan --threads 1 --rules "$dir" --cache-dir "$cache" \
      --input "$input" > /dev/null 2> "$work/err"
    eps+=("$(grep '^summary:' "$work/err" | field events_per_s)")
  done
  loaded=$(grep '^summary:' "$work/err" | field rules_loaded)
  e=$(printf '%s\n' "${eps[@]}" | median)
  us=$(awk -v e="$e" 'BEGIN{printf "%.3f", 1e6/e}')
  [ -n "$base_us" ] || base_us=$us
  row "cost curve: $loaded rules loaded (of $n files): events/s; us/event (× the 10-rule time)" \
    "$e; $us (× $(awk -v a="$us" -v b="$base_us" 'BEGIN{printf "%.2f", a/b}'))" "$(rss_mib "$work/time") MiB" "$l" \
    "\`socd scan --threads 1 --rules DIR_OF_${n}_RULES --input FILE\`"
done

# Alert-store writes/s: batches of 100 alerts of 600 bytes into RocksDB (not fsynced).
l=$(load)
"$build/bench/bench_micro" --benchmark_filter='BM_StoreBatchWrite/100$' --benchmark_repetitions="$repeat" \
  --benchmark_format=json > "$work/store.json" 2> /dev/null
sw=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=[b for b in d["benchmarks"] if b.get("aggregate_name")=="median"] or d["benchmarks"]; print("%.0f" % m[0]["items_per_second"])' "$work/store.json")
row "alert-store writes/s (batches of 100 alerts)" "$sw" "-" "$l" \
  "\`bench_micro --benchmark_filter='BM_StoreBatchWrite/100\$'\`"

# Compile all three SigmaHQ trees, cold (empty cache) and warm.
trees=(--rules "$corpus/sigma/rules" --rules "$corpus/sigma/rules-emerging-threats" --rules "$corpus/sigma/rules-threat-hunting")
for kind in cold warm; do
  [ "$kind" = warm ] || rm -rf "$work/compile-cache"
  l=$(load)
  /usr/bin/time -v -o "$work/time" "$socd" scan --threads 1 "${trees[@]}" --cache-dir "$work/compile-cache" \
    --input /dev/null > /dev/null 2> "$work/err"
  row "compile all SigmaHQ rules ($(grep '^summary:' "$work/err" | field rules_loaded) loaded), $kind: load s" \
    "$(grep '^summary:' "$work/err" | field load_seconds)" "$(rss_mib "$work/time") MiB" "$l" \
    "\`socd scan --rules (3 trees) --cache-dir DIR --input /dev/null\`"
done

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r); commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo ?); medians of $repeat"
echo "input: $(basename "$input"), $(wc -l < "$input") events, $(stat -c %s "$input") bytes"
echo
echo "| figure | value | peak RSS | load avg (1 min) at start | command |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

#!/usr/bin/env bash
# Sagan 1.2.0 and socd side by side on the same syslog lines and the same Sagan rules (Debian's sagan-rules):
# events/s of each, their ratio, and the alerts of both compared as (sid, line) pairs. See bench/README.md
# ("Sagan") for what each figure means and why the alerts differ where they do.
#
# usage: bench/sagan_compare.sh [--build DIR] [--lines N] [--rate R] [--no-search] [--variants LIST]
#                               [--socd-runs N] [--out DIR]
#   --build DIR      socd's build directory (default build): DIR/socd and DIR/bench/feed are needed
#   --lines N        corpus size, lines (default 1000000), built by bench/loghub_syslog.py
#   --rate R         Sagan's feed rate, lines/s, where the search starts (default 8000)
#   --networks P     address variants of the corpus before they repeat (default 25; 0: every loop new ones)
#   --no-search      feed Sagan at R without looking for the highest rate at which it drops nothing
#   --variants LIST  rule sets to compare, comma-separated (default stripped,raw): `stripped` is a copy of the
#                    rules without `threshold` and `after` (the matching comparison), `raw` the rules as
#                    shipped
#   --socd-runs N    socd scans per variant, median reported (default 3)
#   --out DIR        keep the results there (tables, pairs, logs); default: a temporary directory, removed
# Needs ../shared/corpus/loghub beside the repository, /usr/sbin/sagan, /etc/sagan-rules, python3, script
# (util-linux), a built socd and bench/feed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=build lines=1000000 rate=8000 networks=25 search=1 variants=stripped,raw socd_runs=3 out=
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --networks) networks=$2; shift 2 ;;
    --no-search) search=0; shift ;;
    --variants) variants=$2; shift 2 ;;
    --socd-runs) socd_runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "sagan_compare.sh: unknown argument '$1' (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
build=$(cd "$root" && realpath -m "$build")
socd="$build/socd"
feed="$build/bench/feed"
sagan=/usr/sbin/sagan
shipped_rules=/etc/sagan-rules
loghub="$root/../shared/corpus/loghub"

fail() { echo "sagan_compare.sh: $*" >&2; exit 1; }
[ -f "$loghub/OpenSSH_2k.log" ] || fail "$loghub is absent: the comparison needs the shared corpora"
[ -x "$sagan" ] || fail "$sagan is missing: apt-get install sagan (see .ci/setup)"
[ -d "$shipped_rules" ] || fail "$shipped_rules is missing: apt-get install sagan-rules"
[ -x "$socd" ] || fail "$socd is missing: build first (cmake --build $build --target socd feed)"
[ -x "$feed" ] || fail "$feed is missing: build first (cmake --build $build --target socd feed)"
command -v python3 >/dev/null || fail "python3 is missing: run .ci/setup"
command -v script >/dev/null || fail "script (util-linux) is missing"
[[ "$lines" =~ ^[1-9][0-9]*$ ]] || fail "--lines must be a positive number, not '$lines'"
[[ "$rate" =~ ^[1-9][0-9]*$ ]] || fail "--rate must be a positive number, not '$rate'"
[[ "$networks" =~ ^[0-9]+$ ]] || fail "--networks must be a number, not '$networks'"
[[ "$socd_runs" =~ ^[1-9][0-9]*$ ]] || fail "--socd-runs must be a positive number, not '$socd_runs'"

work=$(mktemp -d "${TMPDIR:-/tmp}/socd-sagan-XXXXXX")
sagan_script_pid=
cleanup() {
  # A Sagan still running (the script was interrupted) is stopped; it is ours: its pid is in our lock file.
  if [ -n "$sagan_script_pid" ] && kill -0 "$sagan_script_pid" 2>/dev/null; then
    for lock in "$work"/sagan-*/sagan.pid; do [ -s "$lock" ] && kill -INT "$(cat "$lock")" 2>/dev/null; done
    sleep 2
    kill "$sagan_script_pid" 2>/dev/null || true
  fi
  [ -n "${SAGAN_COMPARE_KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
if [ -n "$out" ]; then mkdir -p "$out"; out=$(realpath "$out"); else out="$work/out"; mkdir -p "$out"; fi

load() { cut -d ' ' -f 1-3 /proc/loadavg; }
field() { sed -n "s/\(^\|.*[ :]\)$1=\([^ ]*\).*/\2/p" <<< "$2"; }  # KEY=VALUE in a line
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
log() { echo "sagan_compare.sh: $*" | tee -a "$out/log.txt" >&2; }

# The rule sets. `stripped`: every `threshold: ...;` and `after: ...;` option taken out of a copy.
mkdir -p "$work/rules-stripped"
cp "$shipped_rules"/* "$work/rules-stripped/"
sed -E -i 's/(^|[;( ])[[:space:]]*(threshold|after)[[:space:]]*:[^;]*;/\1/g' "$work/rules-stripped"/*.rules
left=$(grep -hE '^[[:space:]]*(alert|drop)[^#]*[;( ][[:space:]]*(threshold|after)[[:space:]]*:' \
       "$work/rules-stripped"/*.rules | wc -l || true)
[ "$left" = 0 ] || fail "$left rules of the stripped copy still hold threshold/after"
rules_dir() { if [ "$1" = raw ]; then echo "$shipped_rules"; else echo "$work/rules-$1"; fi; }

# The Sagan configuration: every *.rules file of RULES (as socd loads the folder), socd's default variables
# (engine/src/sagan_config.cc: what `socd scan --rules DIR` uses), the classification and reference files of
# the rule set, the `alert` output, the processors off (as Debian's sagan.yaml has them). Its state tables
# (xbits, threshold, after: mmap-ipc) hold 200,000 entries each instead of Debian's 10,000: Sagan 1.2.0
# crashes (SIGSEGV in a worker) once its xbit table is full, which 10,000 entries are after about 830,000
# lines of this corpus with the stripped rules (every loop brings new source addresses). The files are sparse.
write_sagan_config() {
  local dir=$1 rules=$2
  {
    cat <<EOF
%YAML 1.1
---
vars:
  sagan-groups:
    FIFO: "$dir/fifo"
    RULE_PATH: "$rules"
    LOCKFILE: "$dir/sagan.pid"
    LOG_PATH: "$dir/log"
  address-groups:
    HOME_NET: "any"
    EXTERNAL_NET: "any"
  port-groups:
    SSH_PORT: 22
    HTTP_PORT: 80
    HTTPS_PORT: 443
    TELNET_PORT: 23
    DNS_PORT: 53
    SNMP_PORT: 161
    POP3_PORT: 110
    IMAP_PORT: 143
    SMTP_PORT: 25
    MYSQL_PORT: 3306
    MSSQL_PORT: 1433
    NTP_PORT: 123
    OPENVPN_PORT: 1194
    PPTP_PORT: 1723
    FTP_PORT: 21
    RSYNC_PORT: 873
    SQUID_PORT: 3128
  geoip-groups:
    HOME_COUNTRY: "US,CA"
  aetas-groups:
    SAGAN_HOURS: "0700-1800"
    SAGAN_DAYS: "12345"
  mmap-groups:
    MMAP_DEFAULT: 200000
  misc-groups:
    RFC1918: "10.,192.168.,172.16.,172.17.,172.18.,172.19.,172.20.,172.21.,172.22.,172.23.,172.24.,172.25.,172.26.,172.27.,172.28.,172.29.,172.30.,172.31."
sagan-core:
  core:
    sensor-name: "socd-bench"
    default-host: 192.168.2.1
    default-port: 514
    default-proto: udp
    dns-warnings: disabled
    source-lookup: disabled
    fifo-size: 1048576
    max-threads: 1000
    classification: "\$RULE_PATH/classification.config"
    reference: "\$RULE_PATH/reference.config"
    gen-msg-map: "\$RULE_PATH/gen-msg.map"
    protocol-map: "\$RULE_PATH/protocol.map"
    xbit-storage: mmap
  parse-ip:
    ipv6: enabled
    ipv4-mapped-ipv6: disabled
  selector:
    enabled: no
    name: "selector name"
  redis-server:
    enabled: no
    server: 127.0.0.1
    port: 6379
    writer_threads: 10
  mmap-ipc:
    ipc-directory: $dir/ipc
    xbit: \$MMAP_DEFAULT
    threshold-by-src: \$MMAP_DEFAULT
    threshold-by-dst: \$MMAP_DEFAULT
    threshold-by-username: \$MMAP_DEFAULT
    after-by-src: \$MMAP_DEFAULT
    after-by-dst: \$MMAP_DEFAULT
    after-by-username: \$MMAP_DEFAULT
    track-clients: \$MMAP_DEFAULT
  ignore_list:
    enabled: no
    ignore_file: "\$RULE_PATH/sagan-ignore-list.txt"
  geoip:
    enabled: no
    country_database: "/usr/local/share/GeoIP2/GeoLite2-Country.mmdb"
  liblognorm:
    enabled: yes
    normalize_rulebase: "\$RULE_PATH/normalization.rulebase"
  plog:
    enabled: no
    interface: eth0
    bpf-filter: "port 514"
    log-device: /dev/log
    promiscuous: yes
processors:
  - track-clients:
      enabled: no
      timeout: 1440
  - perfmonitor:
      enabled: no
      time: 600
      filename: "\$LOG_PATH/sagan.stats"
  - blacklist:
      enabled: no
      filename: "\$RULE_PATH/blacklist.txt"
  - bluedot:
      enabled: no
      device-id: "Device_ID"
      max-cache: 500000
      cache-timeout: 120
      categories: "\$RULE_PATH/bluedot-categories.conf"
      host: "bluedot.qis.io"
      ttl: 86400
      uri: "q.php?qipapikey=APIKEYHERE"
  - bro-intel:
      enabled: no
      filename: "/dev/null"
  - dynamic_load:
      enabled: no
      sample-rate: 100
      type: dynamic_load
outputs:
  - eve-log:
      enabled: no
      filetype: regular
      interface: logs
      alerts: yes
      logs: no
      filename: "\$LOG_PATH/eve.json"
  - alert:
      enabled: yes
      filename: "\$LOG_PATH/alert.log"
  - fast:
      enabled: no
      filename: "\$LOG_PATH/fast.log"
  - unified2:
      enabled: no
      force-ipv4: no
      filename: "\$LOG_PATH/unified2.alert"
      limit: 128
  - external:
      enabled: no
      command: "/bin/true"
  - smtp:
      enabled: no
      from: sagan-alert@example.com
      server: 192.168.0.1:25
      subject: "** Sagan Alert **"
  - snortsam:
      enabled: no
      server: 127.0.0.1/mykey
  - syslog:
      enabled: no
      facility: LOG_AUTH
      priority: LOG_ALERT
      extra: LOG_PID
rules-files:
EOF
    for f in "$rules"/*.rules; do echo "  - \$RULE_PATH/$(basename "$f")"; done
  } > "$dir/sagan.yaml"
}

cpu_seconds() {  # utime + stime of a process, seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

# run_sagan NAME RULES INPUT RATE: one Sagan run in $work/sagan-NAME, fed INPUT at RATE lines/s through its
# FIFO. Sets sagan_stats ("key=value ..." from its final statistics, the feed's figures, CPU and memory).
run_sagan() {
  local name=$1 rules=$2 input=$3 feed_rate=$4
  local dir="$work/sagan-$name"
  rm -rf "$dir"
  mkdir -p "$dir/ipc" "$dir/log"  # a fresh IPC directory: no threshold/after/xbits state from another run
  mkfifo "$dir/fifo"
  write_sagan_config "$dir" "$rules"
  # Statistics print only to a terminal: `script` gives Sagan one. -Q: no key-press handler on stdin.
  script -qfec "$sagan -Q -u $(id -un) -f $dir/sagan.yaml -l $dir/log/sagan.log" /dev/null \
    > "$dir/console.txt" 2>&1 < /dev/null &
  sagan_script_pid=$!
  local waited=0
  until grep -q 'Spawning' "$dir/log/sagan.log" 2>/dev/null; do
    kill -0 "$sagan_script_pid" 2>/dev/null || {
      tail -n 20 "$dir/log/sagan.log" "$dir/console.txt" >&2 || true
      fail "Sagan ($name) ended during start-up"; }
    [ $waited -lt 600 ] || fail "Sagan ($name) did not start within 60 s"
    sleep 0.1; waited=$((waited + 1))
  done
  local pid
  pid=$(cat "$dir/sagan.pid")
  local rules_loaded
  rules_loaded=$(sed -n 's/.* loaded and \([0-9]*\) rules loaded.*/\1/p' "$dir/log/sagan.log" | tail -n 1)
  local cpu0
  cpu0=$(cpu_seconds "$pid")
  "$feed" "$input" "$feed_rate" 2> "$dir/feed.txt" > "$dir/fifo" || {
    tail -n 5 "$dir/log/sagan.log" "$dir/feed.txt" >&2
    fail "feeding Sagan ($name) failed: did it end? (dmesg may say why)"; }
  # Everything read ("FIFO writer closed"); then the workers finish what they hold (the alert log stops
  # growing for 2 s).
  waited=0
  until grep -q 'writer closed' "$dir/log/sagan.log"; do
    [ $waited -lt 600 ] || fail "Sagan ($name) did not see the end of its input within 60 s"
    sleep 0.1; waited=$((waited + 1))
  done
  local size=-1 now
  while now=$(stat -c %s "$dir/log/alert.log" 2>/dev/null || echo 0); [ "$now" != "$size" ]; do
    size=$now; sleep 2
  done
  kill -0 "$pid" 2>/dev/null || {
    tail -n 20 "$dir/log/sagan.log" >&2; fail "Sagan ($name) ended before its stop"; }
  local cpu1 rss
  cpu1=$(cpu_seconds "$pid")
  rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  kill -INT "$pid"
  wait "$sagan_script_pid" || true
  sagan_script_pid=
  local feed_line
  feed_line=$(tail -n 1 "$dir/feed.txt")
  stat_of() {  # a figure of the last "Engine Statistics" block of its log (printed there at SIGINT)
    awk -v label="$1" '/Engine Statistics/ {block = 1; found = ""} block && !found && index($0, label " ") {
                         sub(/.*: */, ""); found = $1 + 0} END {print found}' "$dir/log/sagan.log"
  }
  sagan_stats="read=$(stat_of 'Events processed') matched=$(stat_of 'Signatures matched')"
  sagan_stats+=" alerts=$(stat_of 'Alerts') after=$(stat_of 'After') threshold=$(stat_of 'Threshold')"
  sagan_stats+=" dropped=$(stat_of 'Dropped') thread_exhaustion=$(stat_of 'Thread Exhaustion')"
  sagan_stats+=" fed=$(field lines "$feed_line") feed_seconds=$(field seconds "$feed_line")"
  sagan_stats+=" events_per_s=$(field lines_per_s "$feed_line") late_ticks=$(field late_ticks "$feed_line")"
  sagan_stats+=" cpu_seconds=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.1f", b - a}')"
  sagan_stats+=" peak_rss_mb=$rss rules_loaded=$rules_loaded"
  [ -n "$(field read "$sagan_stats")" ] || { tail -n 30 "$dir/log/sagan.log" "$dir/console.txt" >&2
                                             fail "Sagan ($name) printed no statistics"; }
  cp "$dir/log/alert.log" "$out/sagan-$name.alert.log" 2>/dev/null || : > "$out/sagan-$name.alert.log"
  cp "$dir/log/sagan.log" "$out/sagan-$name.log"
}

# Lossless: Sagan read every line fed and dropped none for want of a thread.
lossless() {
  [ "$(field read "$1")" = "$(field fed "$1")" ] && [ "$(field thread_exhaustion "$1")" = 0 ]
}

log "$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), load average $(load)"

# 1. The highest feed rate at which Sagan drops nothing, on a sample of the corpus (up to 200,000 lines)
#    with the shipped rules: up by 25 % while it keeps up, down by 20 % while it does not.
if [ $search = 1 ]; then
  sample_lines=$(( lines < 200000 ? lines : 200000 ))
  python3 "$root/bench/loghub_syslog.py" --lines "$sample_lines" --rate "$rate" --networks "$networks" \
    --syslog "$work/sample.log" --sagan "$work/sample.sagan"
  best=0 try=$rate went_down=0
  for attempt in 1 2 3 4 5 6 7 8; do
    run_sagan "search$attempt" "$shipped_rules" "$work/sample.sagan" "$try"
    log "rate search: fed at $try lines/s: $sagan_stats"
    if lossless "$sagan_stats"; then
      best=$try
      achieved=$(field events_per_s "$sagan_stats")
      [ $went_down = 0 ] || break  # the first rate it keeps up with on the way down
      try=$(( try * 5 / 4 ))
    else
      [ $best = 0 ] || break  # the first rate it drops at on the way up
      went_down=1
      try=$(( try * 4 / 5 ))
    fi
  done
  [ $best != 0 ] || fail "Sagan dropped lines at every rate tried (down to $try lines/s)"
  rate=$best
  stamp_rate=$(printf '%.0f' "$achieved")
  log "rate search: Sagan keeps up when fed at $rate lines/s (it read $stamp_rate lines/s)"
else
  stamp_rate=$rate
fi

# 2. The corpus, stamped at the rate Sagan reads (event-time windows of S seconds then span what S wall-clock
#    seconds of Sagan's feed span).
python3 "$root/bench/loghub_syslog.py" --lines "$lines" --rate "$stamp_rate" --networks "$networks" \
  --syslog "$work/corpus.log" --sagan "$work/corpus.sagan"
cat "$work/corpus.log" "$work/corpus.sagan" > /dev/null  # from the page cache from now on
log "corpus: $lines lines, $(stat -c %s "$work/corpus.log") bytes of syslog"

# 3. Each variant: Sagan fed at that rate (again at 80 %, up to 3 times, while it drops lines), socd scanning
#    the same lines with the same rules, the alerts compared.
declare -A sagan_eps socd_eps socd2_eps
for variant in ${variants//,/ }; do
  rules=$(rules_dir "$variant")
  [ -d "$rules" ] || fail "unknown variant '$variant' (stripped, raw)"
  feed_rate=$rate
  for attempt in 1 2 3 4; do
    log "load average $(load)"
    run_sagan "$variant" "$rules" "$work/corpus.sagan" "$feed_rate"
    log "sagan $variant, fed at $feed_rate lines/s: $sagan_stats"
    lossless "$sagan_stats" && break
    [ $attempt -lt 4 ] || fail "Sagan dropped lines on the corpus even at $feed_rate lines/s"
    feed_rate=$(( feed_rate * 4 / 5 ))
  done
  sagan_eps[$variant]=$(field events_per_s "$sagan_stats")
  echo "$sagan_stats" > "$out/sagan-$variant.stats"

  eps=() eps2=()
  for run in $(seq "$socd_runs"); do
    "$socd" scan --threads 1 --rules "$rules" --format syslog --input "$work/corpus.log" \
      > "$work/socd-$variant.jsonl" 2> "$work/socd-$variant.err" || { tail -n 5 "$work/socd-$variant.err" >&2
                                                                       fail "socd scan failed"; }
    summary=$(grep '^summary: ' "$work/socd-$variant.err")
    log "socd $variant, 1 thread: $summary"
    eps+=("$(field events_per_s "$summary")")
    "$socd" scan --threads 2 --rules "$rules" --format syslog --input "$work/corpus.log" \
      > /dev/null 2> "$work/socd2-$variant.err" || fail "socd scan --threads 2 failed"
    summary2=$(grep '^summary: ' "$work/socd2-$variant.err")
    log "socd $variant, 2 threads: $summary2"
    eps2+=("$(field events_per_s "$summary2")")
  done
  [ "$(field events "$summary")" = "$lines" ] ||
    fail "socd counted $(field events "$summary") events, not $lines"
  grep -v '^summary: ' "$work/socd-$variant.err" > "$out/socd-$variant.diagnostics" || true
  socd_eps[$variant]=$(printf '%s\n' "${eps[@]}" | median)
  socd2_eps[$variant]=$(printf '%s\n' "${eps2[@]}" | median)

  mkdir -p "$out/$variant"
  python3 "$root/bench/sagan_alerts.py" --socd "$work/socd-$variant.jsonl" \
    --sagan "$out/sagan-$variant.alert.log" --input "$work/corpus.sagan" --rules "$rules" \
    --pairs-dir "$out/$variant" > "$out/$variant/differences.tsv" \
    || fail "the alerts of $variant cannot be compared (see above)"
  log "alerts, $variant: $(head -n 1 "$out/$variant/differences.tsv")"
done
log "load average $(load) at the end"

# 4. The table.
{
  echo
  echo "Sagan 1.2.0 and socd on $lines syslog lines (bench/loghub_syslog.py) with /etc/sagan-rules;" \
       "$(nproc) cores, load average at the end $(load)"
  echo
  echo -n "| rules | Sagan events/s (fed, none dropped) | Sagan CPU s | socd events/s, 1 thread |"
  echo " socd events/s, 2 threads | ratio (1 thread) | alerts socd / Sagan | equal (sid, line) | only socd | only Sagan |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for variant in ${variants//,/ }; do
    s=$(cat "$out/sagan-$variant.stats")
    head=$(head -n 1 "$out/$variant/differences.tsv")
    ratio=$(awk -v a="${socd_eps[$variant]}" -v b="${sagan_eps[$variant]}" 'BEGIN {printf "%.1f", a / b}')
    printf '| %s | %.0f | %s | %.0f | %.0f | %s | %s / %s | %s | %s | %s |\n' "$variant" \
      "${sagan_eps[$variant]}" "$(field cpu_seconds "$s")" "${socd_eps[$variant]}" "${socd2_eps[$variant]}" \
      "$ratio" "$(field socd "$head")" "$(field sagan "$head")" "$(field equal "$head")" \
      "$(field only_socd "$head")" "$(field only_sagan "$head")"
  done
  for variant in ${variants//,/ }; do
    echo
    echo "sids whose alerts differ, $variant rules (socd, Sagan, equal, only socd, only Sagan, first lines):"
    tail -n +2 "$out/$variant/differences.tsv"
  done
} | tee -a "$out/log.txt"

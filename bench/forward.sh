#!/usr/bin/env bash
# The forwarding benchmark (issue #6): alerts/s the layer-4 Forwarder delivers from a RocksDB outbox to a local
# CEF receiver (rsyslogd over TLS) and to a local TAXII 2.1 endpoint (HTTPS), each in its own process so each
# peak RSS is its own. Prints the CEF line, then the TAXII line last (`socd bench` reads the last line holding
# alerts_per_s=), each followed by nothing else on stdout:
#   forward sink=cef alerts=N seconds=F alerts_per_s=F peak_rss_mib=F ...
#   forward sink=taxii alerts=N seconds=F alerts_per_s=F peak_rss_mib=F ...
#
# usage: bench/forward.sh [BUILD_DIR] [ALERTS] [BATCH_SIZE]
#   BUILD_DIR: default the directory of $SOCD_BINARY (set by `socd bench`), else build; ALERTS: default 200000;
#   BATCH_SIZE: default the sinks' default (200).
# Needs forward_bench built (cmake --build BUILD_DIR --target forward_bench), openssl, rsyslog and rsyslog-openssl.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${1:-}" ]; then
  build=$(cd "$root" && realpath -m "$1")
elif [ -n "${SOCD_BINARY:-}" ]; then
  build=$(dirname "$(realpath -m "$SOCD_BINARY")")
else
  build="$root/build"
fi
alerts=${2:-200000}
batch=${3:-}
bench="$build/bench/forward_bench"

fail() { echo "forward.sh: $*" >&2; exit 1; }
[ -x "$bench" ] || fail "$bench is missing: build it (cmake --build $build --target forward_bench)"
[[ "$alerts" =~ ^[1-9][0-9]*$ ]] || fail "ALERTS must be a positive number, not '$alerts'"
[ -z "$batch" ] || [[ "$batch" =~ ^[1-9][0-9]*$ ]] || fail "BATCH_SIZE must be a positive number, not '$batch'"
args=(--alerts "$alerts")
[ -z "$batch" ] || args+=(--batch-size "$batch")

echo "forward.sh: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bench" --sink cef "${args[@]}"
"$bench" --sink taxii "${args[@]}"

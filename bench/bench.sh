#!/usr/bin/env bash
# The standard suite in one table: a thin wrapper of `socd bench` (app/bench_command.cc), which runs every row
# (scan against the bare parse and the bare Hyperscan scan, replay with 1 and 2 workers, the cost curve against
# the rule count, alert-store writes/s, compile cold and warm, forwarding alerts/s when bench/forward.sh exists),
# with the peak RSS and load average of each. See bench/README.md, "socd bench".
#
#   bench/bench.sh [--build DIR] [socd bench options...]      defaults: --build build; socd bench --help for the rest
set -euo pipefail

build=build
if [ "${1:-}" = "--build" ]; then
  build=$2
  shift 2
fi
[ -x "$build/socd" ] || { echo "bench.sh: $build/socd is missing: cmake --build $build --target socd" >&2; exit 1; }
exec "$build/socd" bench "$@"

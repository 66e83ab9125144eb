#!/usr/bin/env bash
# Two shoal builds under the same load, alternating (before after, after before, …),
# server pinned to CPU 1 and the load to CPU 0: is a change a speed regression? Runs a
# protocol's comparison script with the two binaries as its trackers, named "before"
# and "after", and prints their medians and after/before ratios.
#
#   bash bench/ab.sh udp  BEFORE AFTER [--duration S] [--rounds N]   # aquatic_udp_load_test
#   bash bench/ab.sh http BEFORE AFTER [--duration S] [--rounds N] [--modes "1 0"]  # wrk
#   bash bench/ab.sh ws   BEFORE AFTER [--duration S] [--rounds N]   # aquatic_ws_load_test
#
# BEFORE and AFTER are shoal binaries, e.g. built from two worktrees:
#   git worktree add --detach ../before REV && (cd ../before &&
#     CARGO_TARGET_DIR=/tmp/t-before cargo build --release -p shoal)
# udp: responses/s, server CPU µs per response split into user and kernel time.
# http: wrk, keep-alive (mode 1) and one request per connection (mode 0), 64
# connections; responses/s, latency p50/p99, server CPU µs per response.
# ws: wss, messages in/s, announce responses/s, server CPU µs per message.
# The other options are those of bench/<protocol>_compare.sh; paths without spaces. Traffic goes to 127.0.0.1
# only; every run is bounded by --duration.
set -euo pipefail

usage() { sed -n '7,9p' "$0" | sed 's/^# //' >&2; exit 2; }
[ $# -ge 3 ] || usage
proto=$1; shift
case "$proto" in udp|http|ws) ;; *) usage ;; esac
for bin in "$1" "$2"; do
  [ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
done
before=$(realpath "$1") after=$(realpath "$2"); shift 2
cd "$(dirname "$0")/.."
echo "# before: $before ($(sha256sum "$before" | cut -c1-12)), after: $after ($(sha256sum "$after" | cut -c1-12))"
BENCH_SHOALS="before=$before after=$after" exec bash "bench/${proto}_compare.sh" \
  --trackers "before after" --bases before "$@"

#!/usr/bin/env bash
# Two shoal builds under the same load, counted in user-space instructions per response
# (callgrind) rather than time: a figure a busy or shared machine barely moves, for
# changes too small for bench/ab.sh's timings to tell apart. Kernel work (most of UDP's
# CPU time) is not counted. Each run starts a server under callgrind, zeroes the counts
# once it listens, runs the load for --duration, dumps the counts, stops the server and
# divides by the responses the server's shutdown totals report: UDP connects, announces,
# scrapes and errors; HTTP requests; WebTorrent announces, scrapes, offers and answers
# relayed. Builds alternate (before after, after before, …); prints each run (mode,
# build, instructions, responses, connections, instructions per response), the median
# per build and the after/before ratio.
#
#   bash bench/ab_instructions.sh BEFORE AFTER [--duration S] [--rounds N]
#        [--modes "udp close keepalive ws"]
#
# udp: aquatic_udp_load_test defaults; close, keepalive: wrk with bench/http_announce.lua,
# 16 connections, one request per connection or keep-alive; ws: aquatic_ws_load_test
# defaults over TLS. Under callgrind a server runs ~50x slower, so the load testers
# overrun it; both builds see the same. Nothing is pinned: instruction counts do not
# need it. Needs valgrind (callgrind_control), the testers as the other scripts do,
# openssl. Traffic goes to 127.0.0.1 only; every run is bounded by --duration.
set -euo pipefail

usage() { sed -n '13,14p' "$0" | sed 's/^# //' >&2; exit 2; }
[ $# -ge 2 ] || usage
for bin in "$1" "$2"; do
  [ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
done
before=$(realpath "$1") after=$(realpath "$2"); shift 2
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=20 ROUNDS=2 MODES="udp close keepalive ws"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    *) usage ;;
  esac
done
for bin in valgrind callgrind_control wrk aquatic_udp_load_test aquatic_ws_load_test openssl; do
  command -v "$bin" >/dev/null || { echo "missing $bin" >&2; exit 1; }
done
export BENCH_SHOALS="before=$before after=$after"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ws_shoal_setup "$work" 3300

run_one() { # name (and $mode)
  local name=$1 port=3200 pid d
  d=$(mktemp -d -p "$work")
  local args=(--http "127.0.0.1:$port" --workers 1)
  case "$mode" in
    udp) args=(--udp "127.0.0.1:$port" --workers 1) ;;
    ws) port=3300 args=(--config "$work/shoal.toml") ;;
  esac
  SHOAL_UDP__LISTEN='[]' valgrind --tool=callgrind --callgrind-out-file="$d/cg" \
    "$(shoal_bin "$name")" serve "${args[@]}" --data-dir "$d/data" >"$d/log" 2>&1 &
  pid=$!
  for _ in $(seq 120); do ss -ltnuH | grep -q "127.0.0.1:$port " && break; sleep 0.5; done
  callgrind_control -z "$pid" >/dev/null 2>&1
  case "$mode" in
    udp) udp_load_toml "$port" "$DURATION" "$DURATION" > "$d/load.toml"
      timeout $((DURATION + 30)) aquatic_udp_load_test -c "$d/load.toml" >/dev/null 2>&1 || true ;;
    ws) ws_load_toml "$port" "$DURATION" > "$d/load.toml"
      timeout $((DURATION + 30)) aquatic_ws_load_test -c "$d/load.toml" >/dev/null 2>&1 || true ;;
    *) TORRENTS=1000 KEEPALIVE=$([ "$mode" = keepalive ] && echo 1 || echo 0) \
      timeout $((DURATION + 30)) wrk -t1 -c16 -d"${DURATION}s" -s bench/http_announce.lua \
      "http://127.0.0.1:$port" >/dev/null 2>&1 || true ;;
  esac
  callgrind_control -d "$pid" >/dev/null 2>&1
  stop "$pid"
  python3 - "$mode" "$name" "$d/cg.1" "$d/log" <<'PY'
import re, sys
mode, name, dump, log = sys.argv[1:]
ir = int(re.search(r"^summary: (\d+)", open(dump).read(), re.M).group(1))
what, counted = {
    "udp": ("udp", ["connects", "announces", "scrapes", "errors_sent"]),
    "ws": ("webtorrent", ["announces", "scrapes", "offers_relayed", "answers_relayed"]),
}.get(mode, ("http", ["requests"]))
line = re.search(rf"{what} totals (.*)", open(log).read()).group(1)
totals = dict(re.findall(r"(\w+)=(\d+)", line))
n = sum(int(totals[k]) for k in counted)
# Connections opened (0 for UDP): each costs a handshake, TLS for ws, and under
# callgrind a slow server closes some as slow readers, which then reconnect.
print(f"{mode} {name} {ir} {n} {totals.get('connections', 0)} {ir / n:.0f}")
PY
}

machine_line
echo "# callgrind, user-space instructions per response, $DURATION s per run, unpinned"
results=$work/results
for mode in $MODES; do
  alternate "$ROUNDS" "$results" before after
done
python3 - "$results" <<'PY'
import sys, collections, statistics
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    mode, name, _, _, _, per = line.split()
    runs[(mode, name)].append(float(per))
print(f"\nmedians\n{'mode':10} {'before Ir/resp':>15} {'after Ir/resp':>14} {'after/before':>12}  runs")
for mode in dict.fromkeys(m for m, _ in runs):
    b, a = (statistics.median(runs[(mode, n)]) for n in ("before", "after"))
    spread = " ".join(f"{x:.0f}" for x in runs[(mode, "before")] + runs[(mode, "after")])
    print(f"{mode:10} {b:15.0f} {a:14.0f} {a / b:12.3f}  {spread}")
PY

#!/usr/bin/env bash
# HTTP announce throughput: shoal vs aquatic_http vs opentracker, with and without
# keep-alive, the same wrk load (bench/http_announce.lua) against each in turn, server
# pinned to one core and wrk to another. Prints good responses/s, peers per response,
# failures, latency p50/p99 (µs), server CPU µs per response, and ratios: every tracker
# over each of --bases (default aquatic and opentracker). --trackers may name other shoal
# builds (bench/lib.sh, shoal_bin): bench/ab.sh runs two this way, after/before.
#
# Needs: target/release/shoal; wrk (apt-get install wrk); optionally aquatic_http on
# PATH and opentracker (apt-get install opentracker; Debian's build is whitelist-only,
# so the script writes the load's info-hashes to its whitelist). opentracker closes
# every connection, so it is only compared without keep-alive.
# Traffic goes to 127.0.0.1 only; every run is bounded by --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=10
ROUNDS=3
CONNECTIONS=64
TORRENTS=1000
SERVER_CPU=1
LOAD_CPU=0
BASES="aquatic opentracker"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --trackers) ONLY=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --bases) BASES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "missing wrk" >&2; exit 1; }
trackers="shoal"
command -v aquatic_http >/dev/null && trackers="$trackers aquatic"
command -v opentracker >/dev/null && trackers="$trackers opentracker"
trackers=${ONLY:-$trackers}
need_shoals $trackers
MODES=${MODES:-1 0}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TICK=$(getconf CLK_TCK)

if command -v aquatic_http >/dev/null; then
  aquatic_http -p > "$work/aquatic.toml"
  sed -i -e 's/^socket_workers = .*/socket_workers = 1/' \
         -e 's/^swarm_workers = .*/swarm_workers = 1/' \
         -e 's/^address = .*/address = "127.0.0.1:3400"/' \
         -e 's/^use_ipv6 = .*/use_ipv6 = false/' \
         -e 's/^max_peers = .*/max_peers = 30/' "$work/aquatic.toml"
fi
mkdir -p "$work/ot"
for i in $(seq "$TORRENTS"); do printf '%040x\n' "$i"; done > "$work/ot/whitelist"

run_one() { # tracker keepalive
  local name=$1 ka=$2 port pid
  case "$name" in
    aquatic) port=3400
      taskset -c "$SERVER_CPU" aquatic_http -c "$work/aquatic.toml" >"$work/aquatic.log" 2>&1 & pid=$! ;;
    opentracker) port=3500
      taskset -c "$SERVER_CPU" opentracker -i 127.0.0.1 -p "$port" -P 3501 -d "$work/ot" \
        -w whitelist >"$work/ot.log" 2>&1 & pid=$! ;;
    *) port=3200
      local bin; bin=$(shoal_bin "$name")
      SHOAL_UDP__LISTEN='[]' taskset -c "$SERVER_CPU" "$bin" serve --http "127.0.0.1:$port" \
        --workers 1 --data-dir "$work/$name-data" 2>"$work/$name.log" & pid=$! ;;
  esac
  sleep 1
  local c0 t0 c1 t1
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  TORRENTS=$TORRENTS KEEPALIVE=$ka taskset -c "$LOAD_CPU" timeout $((DURATION + 30)) \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/http_announce.lua \
    "http://127.0.0.1:$port" > "$work/wrk.out" 2>&1 || true
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  stop "$pid"
  local r; r=$(awk '/^RESULT/ {print $2, $3, $4, $5, $6}' "$work/wrk.out")
  [ -n "$r" ] || { echo "$name: no result" >&2; cat "$work/wrk.out" >&2; return; }
  python3 - "$name" "$ka" "$c0" "$c1" "$TICK" "$t0" "$t1" $r <<'PY'
import sys
name, ka, c0, c1, tick, t0, t1, rps, ppr, failed, p50, p99 = sys.argv[1:]
cpu = (int(c1) - int(c0)) / int(tick); wall = float(t1) - float(t0); rps = float(rps)
us = cpu / (rps * wall) * 1e6 if rps else float("nan")
print(f"{name} {'keepalive' if ka == '1' else 'close'} {rps:.0f} {float(ppr):.2f} {failed} {p50} {p99} {us:.2f}")
PY
}

machine_line
echo "# server on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU (1 thread, $CONNECTIONS connections), $DURATION s per run, $TORRENTS torrents"
results=$work/results
for r in $(seq "$ROUNDS"); do
  for ka in $MODES; do
    for name in $(round_order "$r" $trackers); do
      [ "$name" = opentracker ] && [ "$ka" = 1 ] && continue
      run_one "$name" "$ka" | tee -a "$results"
    done
  done
done
python3 - "$results" "$BASES" <<'PY'
import sys, collections, statistics
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, mode, rps, ppr, failed, p50, p99, us = line.split()
    rows[(n, mode)].append((float(rps), float(ppr), int(failed), float(p50), float(p99), float(us)))
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
print("\nmedians")
print(f"{'tracker':12} {'mode':10} {'resp/s':>9} {'peers/resp':>10} {'failed':>7} {'p50 µs':>8} {'p99 µs':>8} {'CPU µs/resp':>11}")
for (n, mode), (rps, ppr, f, p50, p99, us) in sorted(med.items()):
    print(f"{n:12} {mode:10} {rps:9.0f} {ppr:10.2f} {f:7.0f} {p50:8.0f} {p99:8.0f} {us:11.2f}")
bases = sys.argv[2].split()
for (n, mode), s in sorted(med.items()):
    for b in bases:
        o = med.get((b, mode))
        if n not in bases and o and o[0]:
            print(f"{n}/{b} ({mode}): responses/s {s[0]/o[0]:.3f}x, CPU per response {s[5]/o[5]:.3f}x, "
                  f"p50 {s[3]/o[3]:.3f}x, p99 {s[4]/o[4]:.3f}x")
PY

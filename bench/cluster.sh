#!/usr/bin/env bash
# Cluster mode's cost and replication (issue 16): node A, pinned to CPU 0, serves
# shoal-bench's UDP load (on CPU 1) with [cluster] nats off and on, alternating; with
# it on, node B and nats-server (CPU 1 too) take A's changes, and a probe measures how
# long a peer announced to A takes to show in B's scrape. Prints, per run, responses/s
# and A's CPU per response; then the on/off ratio of the medians, the replication lag
# (p50/p90/p99 of the probes), and the bytes A put on the bus per announce.
#
#   bench/cluster.sh [--seconds S] [--rounds R] [--no-build]
#
# Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SECONDS_EACH=20 ROUNDS=3 BUILD=1 PORT=17520 HTTP_PORT=17521 B_HTTP=17523 NATS_PORT=17524
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v nats-server >/dev/null || { echo "needs nats-server (apt-get install nats-server)" >&2; exit 1; }
[ "$BUILD" = 1 ] && cargo build --release -q -p shoal -p shoal-bench
SHOAL=$PWD/target/release/shoal BENCH=$PWD/target/release/shoal-bench
work=$(mktemp -d /tmp/shoal-cluster-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export SHOAL_CATALOG__ENABLED=false SHOAL_UDP__CONNECTION_ID_SECRET=00112233445566778899aabbccddeeff

wait_http() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return; sleep 0.1; done; echo "no node on $1" >&2; exit 1; }
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }

run() { # mode: off or on
  local mode=$1 cluster=()
  rm -rf "$work/a" "$work/b"
  if [ "$mode" = on ]; then
    taskset -c 1 nats-server -a 127.0.0.1 -p "$NATS_PORT" >/dev/null 2>&1 &
    pids+=($!)
    sleep 0.3
    export SHOAL_CLUSTER__NATS="[\"nats://127.0.0.1:$NATS_PORT\"]"
    SHOAL_CLUSTER__NODE_ID=b SHOAL_UDP__LISTEN='[]' taskset -c 1 "$SHOAL" serve \
      --http "127.0.0.1:$B_HTTP" --workers 1 --data-dir "$work/b" 2>>"$work/b.log" &
    pids+=($!)
    wait_http "$B_HTTP"
    cluster=(env SHOAL_CLUSTER__NODE_ID=a)
  else
    unset SHOAL_CLUSTER__NATS
    cluster=(env)
  fi
  "${cluster[@]}" taskset -c 0 "$SHOAL" serve --udp "127.0.0.1:$PORT" --http "127.0.0.1:$HTTP_PORT" \
    --workers 1 --data-dir "$work/a" 2>>"$work/a.log" &
  local pid=$!
  pids+=("$pid")
  wait_http "$HTTP_PORT"
  local probe=""
  if [ "$mode" = on ]; then
    taskset -c 1 /usr/bin/python3 bench/cluster_probe.py --udp-a "127.0.0.1:$PORT" \
      --http-b "127.0.0.1:$B_HTTP" --seconds "$((SECONDS_EACH - 2))" > "$work/probe.json" &
    probe=$!
  fi
  taskset -c 1 "$BENCH" udp --target "127.0.0.1:$PORT" --duration "$SECONDS_EACH" \
    --server-pid "$pid" --json > "$work/$mode.json"
  [ -n "$probe" ] && wait "$probe"
  local announces bytes
  announces=$(metric "$HTTP_PORT" 'shoal_requests_total{protocol="udp",action="announce"}')
  bytes=$(metric "$HTTP_PORT" shoal_cluster_published_bytes_total)
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  python3 - "$mode" "$work/$mode.json" "$announces" "${bytes:-0}" "$work/probe.json" >> "$work/results.jsonl" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[2]))
r.update(mode=sys.argv[1], announces=int(float(sys.argv[3])), bus_bytes=int(float(sys.argv[4])))
if sys.argv[1] == "on" and os.path.exists(sys.argv[5]):
    r["lag"] = json.load(open(sys.argv[5]))
print(json.dumps(r))
PY
}

for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then run off; run on; else run on; run off; fi
done

python3 - "$work/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    rps, cpu = r["responses_per_second"], r["server_cpu_us_per_response"]
    extra = ""
    if r["mode"] == "on":
        lag = r.get("lag", {})
        extra = "  bus %.1f B/announce  lag p50 %s p99 %s ms (%s probes, %s lost)" % (
            r["bus_bytes"] / max(1, r["announces"]), lag.get("p50_ms") and round(lag["p50_ms"]),
            lag.get("p99_ms") and round(lag["p99_ms"]), lag.get("probes"), lag.get("lost"))
    print("%-4s %10.0f responses/s  %.3f µs CPU/response  errors %s%s" % (
        r["mode"], rps, cpu, r["tracker_errors"] + r["invalid"], extra))
    by.setdefault(r["mode"], []).append(r)
med = lambda m, k: statistics.median(x[k] for x in by[m])
print("medians: off %.0f/s %.3f µs, on %.0f/s %.3f µs" % (
    med("off", "responses_per_second"), med("off", "server_cpu_us_per_response"),
    med("on", "responses_per_second"), med("on", "server_cpu_us_per_response")))
print("on/off: %.3f× CPU per response" % (
    med("on", "server_cpu_us_per_response") / med("off", "server_cpu_us_per_response")))
on = by["on"]
lags = [x["lag"] for x in on if x.get("lag")]
print("replication lag (median of runs): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms" % tuple(
    statistics.median(l[k] for l in lags) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")))
print("bus: %.1f bytes per announce" % statistics.median(x["bus_bytes"] / max(1, x["announces"]) for x in on))
PY

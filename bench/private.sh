#!/usr/bin/env bash
# Private mode's cost on the announce path (issue 15): the same release shoal serves
# shoal-bench's UDP load in open mode and in private mode (every announce carries one
# of ACCOUNTS passkeys as BEP 41 URLData, is admitted by the passkey table and credited
# to its account), alternating, server pinned to CPU 0 and load to CPU 1. Prints
# responses/s and server CPU per response for each run and the private/open ratios of
# their medians.
#
#   bench/private.sh [--accounts N] [--seconds S] [--rounds R] [--no-build]
#
# Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ACCOUNTS=1000 SECONDS_EACH=20 ROUNDS=3 BUILD=1 PORT=17510 HTTP_PORT=17511
while [ $# -gt 0 ]; do
  case "$1" in
    --accounts) ACCOUNTS=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$BUILD" = 1 ] && cargo build --release -q -p shoal -p shoal-bench
SHOAL=$PWD/target/release/shoal BENCH=$PWD/target/release/shoal-bench
work=$(mktemp -d /tmp/shoal-private-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# Accounts, made once; their passkeys are the load's.
data=$work/data
for i in $(seq "$ACCOUNTS"); do
  "$SHOAL" user add "bench$i" --data-dir "$data" >> "$work/passkeys"
done
echo "$ACCOUNTS accounts"

run() { # mode: open or private
  local mode=$1
  rm -f "$data/swarms.snapshot"
  SHOAL_TRACKER__MODE=$mode SHOAL_CATALOG__ENABLED=false taskset -c 0 "$SHOAL" serve \
    --udp "127.0.0.1:$PORT" --http "127.0.0.1:$HTTP_PORT" --workers 1 --data-dir "$data" \
    2>>"$work/serve.log" &
  local pid=$!
  pids=("$pid")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/health" >/dev/null && break
    sleep 0.1
  done
  local keys=()
  [ "$mode" = private ] && keys=(--passkeys "$work/passkeys")
  # No scrapes: a UDP scrape carries no BEP 41 options, so private mode refuses it.
  taskset -c 1 "$BENCH" udp --target "127.0.0.1:$PORT" --duration "$SECONDS_EACH" \
    --scrapes 0 --server-pid "$pid" --json "${keys[@]}" > "$work/$mode.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pids=()
  python3 - "$mode" "$work/$mode.json" >> "$work/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
print(json.dumps({"mode": sys.argv[1], **r}))
PY
}

for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then run open; run private; else run private; run open; fi
done

python3 - "$work/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pick(r, key):
    if not isinstance(r.get(key), (int, float)):
        raise SystemExit("no %s in %s" % (key, r))
    return r[key]
by = {}
for r in rows:
    rps = pick(r, "responses_per_second")
    cpu = pick(r, "server_cpu_us_per_response")
    errors = r["tracker_errors"] + r["invalid"]
    print("%-8s %10.0f responses/s  %.3f µs CPU/response  errors %s" % (r["mode"], rps, cpu, errors))
    by.setdefault(r["mode"], []).append((rps, cpu))
med = {m: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for m, v in by.items()}
print("medians: open %.0f/s %.3f µs, private %.0f/s %.3f µs" % (*med["open"], *med["private"]))
print("private/open: %.3f× responses/s, %.3f× CPU per response" % (
    med["private"][0] / med["open"][0], med["private"][1] / med["open"][1]))
PY

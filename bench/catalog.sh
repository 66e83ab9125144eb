#!/usr/bin/env bash
# The catalog's figures: time from a seeder's first announce to a stored entry (median,
# p95 over many torrents), resolver throughput against local seeders, and memory with
# many unresolved torrents queued. Server pinned to one core, load to the other.
#
#   bench/catalog.sh [--torrents N] [--sessions K] [--queue N]
#
# --torrents N (default 120): K libtorrent sessions (python3-libtorrent; default 20, each
#   its own peer on 127.0.0.1) seed N small torrents between them, each announcing to
#   shoal over HTTP; shoal resolves them from those peers (catalog.dial_private on). A
#   peer is dialed once at a time, so one session seeding everything is served one
#   torrent after another: run --sessions 1 to see that case. Each torrent's time is from
#   when its seeder added it (it announces at once) to when /api/torrents/<hex> first
#   shows its name.
# --queue N (default 100000): shoal-bench announces N torrents whose peers are on
#   127.0.x.y; with the default dial policy they are never dialed and stay queued.
#   RSS with the catalog on and off, same load.
# Traffic goes to 127.0.0.0/8 only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

TORRENTS=120 SESSIONS=20 QUEUE=100000 SERVER_CPU=1 LOAD_CPU=0
while [ $# -gt 0 ]; do
  case "$1" in
    --torrents) TORRENTS=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --queue) QUEUE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo build --release -q -p shoal -p shoal-bench
SHOAL=$PWD/target/release/shoal BENCH=$PWD/target/release/shoal-bench
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

machine_line

# 1. Time to entry and throughput.
mkdir -p "$work/seed"
SHOAL_CATALOG__DIAL_PRIVATE=true SHOAL_CATALOG__DIALS_PER_ADDRESS_PER_MINUTE=600 \
  taskset -c "$SERVER_CPU" "$SHOAL" serve --http 127.0.0.1:17300 --workers 1 \
  --data-dir "$work/a" 2>"$work/a.log" &
pids+=($!)
sleep 1
mkfifo "$work/stdin"
sleep 600 > "$work/stdin" &
pids+=($!)
taskset -c "$LOAD_CPU" /usr/bin/python3 bench/catalog_seed.py --dir "$work/seed" \
  --tracker http://127.0.0.1:17300/announce --count "$TORRENTS" --sessions "$SESSIONS" --timeout 300 \
  < "$work/stdin" > "$work/seeds.jsonl" 2>"$work/seed.log" &
pids+=($!)
python3 - "$work/seeds.jsonl" "$TORRENTS" <<'PY'
import json, sys, time, urllib.request, statistics
path, n = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 240
seeds = {}
while len(seeds) < n and time.time() < deadline:
    for line in open(path):
        d = json.loads(line)
        seeds[d["v1"]] = d["added"]
    time.sleep(0.05)
done = {}
while len(done) < len(seeds) and time.time() < deadline:
    for h, added in seeds.items():
        if h in done:
            continue
        with urllib.request.urlopen("http://127.0.0.1:17300/api/torrents/" + h) as r:
            if "name" in json.load(r):
                done[h] = time.time() - added
    time.sleep(0.02)
times = sorted(done.values())
if not times:
    sys.exit("nothing resolved")
p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
span = max(seeds[h] + t for h, t in done.items()) - min(seeds.values())
print(f"time to entry over {len(times)} of {len(seeds)} torrents: median {statistics.median(times):.3f} s, "
      f"p95 {p(0.95):.3f} s, max {times[-1]:.3f} s (polled every ~20 ms)")
print(f"throughput: {len(times) / span:.1f} torrents/s ({len(times)} in {span:.2f} s from the first add)")
PY
curl -s http://127.0.0.1:17300/metrics | grep -E '^shoal_catalog_(resolved_total|fetch_failures_total|dials_refused_total)' | grep -v ' 0$' || true
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()
sleep 1

# 2. Memory with many unresolved torrents queued.
rss_with() { # enabled -> "rss_kib pending"
  local port=17301 pid
  # No per-prefix creation limit: the load comes from a few 127.0.x.0/24 networks.
  SHOAL_CATALOG__ENABLED=$1 SHOAL_CATALOG__MAX_PENDING=$((QUEUE * 2)) \
    SHOAL_LIMITS__MAX_NEW_TORRENTS_PER_PREFIX_PER_MINUTE=0 \
    taskset -c "$SERVER_CPU" "$SHOAL" serve --udp 127.0.0.1:$port --http 127.0.0.1:17302 \
    --workers 1 --data-dir "$work/q-$1" 2>"$work/q-$1.log" &
  pid=$!
  sleep 1
  taskset -c "$LOAD_CPU" "$BENCH" udp --target 127.0.0.1:$port --torrents "$QUEUE" \
    --peers $((QUEUE * 2)) --duration 30 > "$work/q-$1.bench" 2>&1
  sleep 3
  local rss pending
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  pending=$(curl -s http://127.0.0.1:17302/metrics | awk '/^shoal_catalog_pending / {print $2}')
  local torrents
  torrents=$(curl -s http://127.0.0.1:17302/metrics | awk '/^shoal_torrents / {print $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rss ${pending:-0} ${torrents:-0}"
}
read -r on_rss on_pending on_torrents < <(rss_with true)
read -r off_rss _ off_torrents < <(rss_with false)
python3 - "$on_rss" "$on_pending" "$on_torrents" "$off_rss" "$off_torrents" <<'PY'
import sys
on, pending, ton, off, toff = (int(float(x)) for x in sys.argv[1:])
print(f"queue: catalog on {on/1024:.1f} MiB RSS with {pending} torrents queued ({ton} swarms); "
      f"off {off/1024:.1f} MiB ({toff} swarms)")
if pending:
    print(f"  {(on - off) * 1024 / pending:.0f} bytes per queued torrent")
PY

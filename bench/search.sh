#!/usr/bin/env bash
# Catalog search (issue 14): a synthetic catalog of N torrents (deterministic: the same
# seed gives the same torrents), the tantivy index against SQLite FTS5 on it, and the
# tracker's UDP throughput with and without a steady stream of searches.
#
#   bench/search.sh [--torrents N] [--dir DIR] [--steps LIST] [--per-kind K]
#                   [--load-seconds S] [--rounds R] [--rate Q] [--no-build]
#
# --torrents N (default 20000): catalog size. Data goes to DIR/N (default DIR
#   /tmp/shoal-search-bench), laid out as `shoal serve --data-dir` wants it, and is
#   kept between runs: an existing catalog is reused (delete DIR/N to regenerate).
# --steps (default generate,scan,index,fts,query,load), in this order:
#   generate  write the catalog into DIR/N/shoal.sqlite (skipped if it exists)
#   scan      time reading the store alone, and reading plus tokenizing
#   index     build the tantivy index with 1, then 2 threads (time, size, peak RSS)
#   fts       build the FTS5 database (time, size, peak RSS)
#   query     time every query kind on one thread, then two at once, on both engines
#             (tantivy alone without the fts step), and compare their totals
#   load      `shoal serve` on the catalog pinned to CPU 0, shoal-bench's UDP load on
#             CPU 1 for S s (default 20), R rounds (default 2) each without and with
#             Q searches/s (default 20) over HTTP from a client also on CPU 1,
#             alternating which goes first
# Every step runs its own process (so each reports its own peak RSS). JSON results go
# to DIR/results-N.jsonl; a summary is printed at the end. Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

TORRENTS=20000 DIR=/tmp/shoal-search-bench STEPS=generate,scan,index,fts,query,load
PER_KIND=200 LOAD_SECONDS=20 ROUNDS=2 RATE=20 BUILD=1 SERVER_CPU=0 LOAD_CPU=1
UDP_PORT=17410 HTTP_PORT=17411
while [ $# -gt 0 ]; do
  case "$1" in
    --torrents) TORRENTS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --per-kind) PER_KIND=$2; shift 2 ;;
    --load-seconds) LOAD_SECONDS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

[ "$BUILD" = 1 ] && cargo build --release -q -p shoal -p shoal-bench
SHOAL=$PWD/target/release/shoal BENCH=$PWD/target/release/shoal-bench
SB=$PWD/target/release/shoal-search-bench
need_shoals shoal
data=$DIR/$TORRENTS results=$DIR/results-$TORRENTS.jsonl
mkdir -p "$DIR"
touch "$results"
first=$(wc -l < "$results")  # this run's results come after
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do stop "$p"; done; rm -rf "$work"; }
trap cleanup EXIT

has_step() { [[ ",$STEPS," == *",$1,"* ]]; }
# record STEP CMD...: runs CMD (which prints one JSON object), adds the step's name and
# appends it to the results.
record() {
  local step=$1; shift
  "$@" > "$work/out.json"
  python3 - "$step" "$work/out.json" >> "$results" <<'PY'
import json, sys
step, path = sys.argv[1:]
r = json.load(open(path))
r = r if isinstance(r, dict) else {"value": r}
r["step"] = step
print(json.dumps(r, ensure_ascii=False))
PY
  tail -1 "$results" | cut -c1-300
}

{
  machine_line
  echo "# $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)"
  echo "# $TORRENTS torrents, steps $STEPS"
} | tee -a "$results.log"

if has_step generate && [ ! -f "$data/shoal.sqlite" ]; then
  record generate "$SB" --json generate --data-dir "$data" --torrents "$TORRENTS"
fi
has_step scan && record scan "$SB" --json scan --data-dir "$data"
if has_step index; then
  record index "$SB" --json index --data-dir "$data" --threads 1
  record index "$SB" --json index --data-dir "$data" --threads 2
fi
has_step fts && record fts "$SB" --json fts --data-dir "$data"
if has_step query; then
  engine=tantivy
  [ -f "$data/fts5.sqlite" ] && engine=both
  record query "$SB" --json query --data-dir "$data" --engine "$engine" --per-kind "$PER_KIND"
fi

# serve: starts shoal on the catalog; waits until every entry is searchable.
serve() {
  rm -f "$data/swarms.snapshot"  # every run starts with no swarms
  SHOAL_CATALOG__MAX_ENTRIES=0 taskset -c "$SERVER_CPU" "$SHOAL" serve \
    --udp "127.0.0.1:$UDP_PORT" --http "127.0.0.1:$HTTP_PORT" --workers 1 \
    --data-dir "$data" 2>>"$work/serve.log" &
  pid=$!
  pids=("$pid")
  local m
  for _ in $(seq 1200); do
    m=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" || true)
    if grep -q '^shoal_index_rebuilding 0' <<<"$m" &&
       grep -q "^shoal_index_documents $TORRENTS\$" <<<"$m"; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail "$work/serve.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "the index never became ready" >&2; exit 1
}

load_run() { # searches: 0 or 1
  serve
  local hpid=""
  if [ "$1" = 1 ]; then
    taskset -c "$LOAD_CPU" "$SB" --json http --target "127.0.0.1:$HTTP_PORT" --data-dir "$data" \
      --rate "$RATE" --duration $((LOAD_SECONDS + 2)) > "$work/http.json" &
    hpid=$!
    sleep 1
  else
    echo null > "$work/http.json"
  fi
  taskset -c "$LOAD_CPU" "$BENCH" udp --target "127.0.0.1:$UDP_PORT" --duration "$LOAD_SECONDS" \
    --server-pid "$pid" --json > "$work/udp.json"
  [ -n "$hpid" ] && wait "$hpid"
  stop "$pid"
  pids=()
  python3 - "$1" "$work/udp.json" "$work/http.json" >> "$results" <<'PY'
import json, sys
searches, udp, http = sys.argv[1:]
print(json.dumps({"step": "load", "searches": searches == "1",
                  "udp": json.load(open(udp)), "http": json.load(open(http))}))
PY
  python3 - "$results" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
u, h = r["udp"], r["http"]
line = f"load: searches {'on ' if r['searches'] else 'off'}  {u['responses_per_second']:.0f} responses/s, server CPU {u['server_cpu_us_per_response']:.2f} µs/response"
if h:
    line += f"; {h['searches']} searches, p50 {h['latency_ms']['p50']:.1f} ms p95 {h['latency_ms']['p95']:.1f} p99 {h['latency_ms']['p99']:.1f}, {len(h['not_ok'])} not 200"
print(line)
PY
}

if has_step load; then
  echo "# load: server on CPU $SERVER_CPU (--workers 1), UDP load and searches on CPU $LOAD_CPU, $LOAD_SECONDS s per run"
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="0 1"; else order="1 0"; fi
    for s in $order; do load_run "$s"; done
  done
fi

python3 - "$results" "$TORRENTS" "$first" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[3]):]
n = int(sys.argv[2])
last = {}
for r in rows:
    last.setdefault(r["step"], []).append(r)
mib = lambda b: b / 1048576
print(f"\n## summary, {n} torrents")
if "generate" in last:
    g = last["generate"][-1]
    print(f"store: {mib(g['store_bytes']):.1f} MiB ({g['store_bytes_per_torrent']:.0f} B/torrent), "
          f"{g['files_per_torrent']:.1f} files per torrent")
if "scan" in last:
    s = last["scan"][-1]
    print(f"store scan: {s['read_seconds']:.1f} s; with tokenizing {s['read_and_tokenize_seconds']:.1f} s "
          f"({s['terms_per_torrent']:.1f} terms per torrent)")
for r in last.get("index", [])[-2:] + last.get("fts", [])[-1:]:
    print(f"{r['engine']} {r['threads']} thread(s): {r['seconds']:.1f} s ({r['entries_per_second']:.0f}/s), "
          f"{mib(r['index_bytes']):.1f} MiB ({r['index_bytes_per_torrent']:.0f} B/torrent), "
          f"peak RSS {r['peak_rss_kib'] / 1024:.0f} MiB (anonymous {r.get('peak_rss_anon_kib', 0) / 1024:.0f}, "
          f"file-backed {r.get('peak_rss_file_kib', 0) / 1024:.0f})")
if "query" in last:
    q = last["query"][-1]
    print("\n| engine | threads | kind | p50 ms | p95 ms | p99 ms | searches/s | mean matches |")
    print("|---|---|---|---|---|---|---|---|")
    for x in q["results"]:
        l = x["latency"]
        print(f"| {x['engine']} | {x['threads']} | {x['kind']} | {l['p50_ms']:.2f} | {l['p95_ms']:.2f} | "
              f"{l['p99_ms']:.2f} | {x['searches_per_second']:.0f} | {x['mean_total']:.0f} |")
    for a in q.get("agreement", []):
        print(f"same totals, {a['kind']}: {a['same']} of {a['compared']}")
if "load" in last:
    runs = last["load"]
    off = [r["udp"]["responses_per_second"] for r in runs if not r["searches"]]
    on = [r["udp"]["responses_per_second"] for r in runs if r["searches"]]
    print(f"\nUDP responses/s without searches: {' '.join(f'{x:.0f}' for x in off)}")
    print(f"UDP responses/s with searches:    {' '.join(f'{x:.0f}' for x in on)}")
    if off and on:
        a, b = statistics.median(off), statistics.median(on)
        print(f"medians {a:.0f} vs {b:.0f}: {100 * (b - a) / a:+.1f} %")
    for r in runs:
        if r["http"]:
            h = r["http"]
            print(f"searches over HTTP: {h['searches']} in {h['seconds']} s, p50 {h['latency_ms']['p50']:.1f} ms, "
                  f"p95 {h['latency_ms']['p95']:.1f}, p99 {h['latency_ms']['p99']:.1f}, max {h['latency_ms']['max']:.1f}; "
                  f"index alone p50 {h['index_ms']['p50']:.1f} p99 {h['index_ms']['p99']:.1f}; "
                  f"{len(h['not_ok'])} not 200, {h['failed']} failed")
PY

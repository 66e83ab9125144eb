#!/usr/bin/env bash
# Side-by-side comparison with shoal-bench: the same validated load against shoal,
# aquatic (aquatic_udp / aquatic_http / aquatic_ws) and opentracker, alternating A B C A B C, the
# server pinned to one core and the generator to another. Prints medians and ratios:
# responses/s, server CPU µs per response, peers per announce, peak RSS.
#
#   bench/compare.sh [--install] [--duration S] [--rounds N] [--protocols "udp http ws"]
#   bench/compare.sh --memory PEERS TORRENTS     # fill, then RSS and bytes per peer
#
# --install fetches the peers: aquatic 0.9.0 from crates.io (its lock file pins
# metrics 0.22.3, which no longer builds; the script bumps it to 0.22.4) and Debian's
# opentracker (whitelist-only: the script lists the load's info-hashes).
# Traffic goes to 127.0.0.0/8 only; every run is bounded by --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=10 ROUNDS=3 PROTOCOLS="udp http" INSTALL=0 MEMORY="" SERVER_CPU=1 LOAD_CPU=0
TORRENTS=10000 PEERS=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --install) INSTALL=1; shift ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --protocols) PROTOCOLS=$2; shift 2 ;;
    --memory) MEMORY="$2 $3"; shift 3 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

install_aquatic() { # crate
  command -v "$1" >/dev/null && return 0
  local tmp; tmp=$(mktemp -d)
  mkdir -p "$tmp/fetch/src" && echo 'fn main(){}' > "$tmp/fetch/src/main.rs"
  printf '[package]\nname="fetch"\nversion="0.0.0"\nedition="2021"\n[dependencies]\n%s = "=0.9.0"\n' "$1" > "$tmp/fetch/Cargo.toml"
  (cd "$tmp/fetch" && cargo fetch -q)
  cp -r "$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$1"-0.9.0 | head -1)" "$tmp/src"
  (cd "$tmp/src" && cargo update -q -p metrics@0.22.3 --precise 0.22.4 && cargo install -q --locked --path .)
  rm -rf "$tmp"
}
if [ "$INSTALL" = 1 ]; then
  install_aquatic aquatic_udp
  install_aquatic aquatic_http
  install_aquatic aquatic_ws
  command -v opentracker >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opentracker; }
fi

cargo build --release -q -p shoal -p shoal-bench
SHOAL=target/release/shoal BENCH=target/release/shoal-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ot"
"$BENCH" hashes --torrents "$TORRENTS" > "$work/ot/whitelist"

start() { # tracker protocol -> echo "pid port"
  local t=$1 p=$2 pid port
  case "$t/$p" in
    shoal/udp) port=3600
      SHOAL_HTTP__LISTEN='[]' taskset -c "$SERVER_CPU" "$SHOAL" serve --udp "127.0.0.1:$port" \
        --http 127.0.0.1:0 --workers 1 --data-dir "$work/shoal-data" 2>"$work/shoal.log" & pid=$! ;;
    shoal/http) port=3601
      SHOAL_UDP__LISTEN='[]' taskset -c "$SERVER_CPU" "$SHOAL" serve --http "127.0.0.1:$port" \
        --workers 1 --data-dir "$work/shoal-data" 2>"$work/shoal.log" & pid=$! ;;
    shoal/ws) port=3602
      SHOAL_UDP__LISTEN='[]' taskset -c "$SERVER_CPU" "$SHOAL" serve --http "127.0.0.1:$port" \
        --workers 1 --data-dir "$work/shoal-data" 2>"$work/shoal.log" & pid=$! ;;
    aquatic/ws) port=3612
      aquatic_ws -p | sed -e "s/^address = .*/address = \"127.0.0.1:$port\"/" \
        -e 's/^socket_workers = .*/socket_workers = 1/' > "$work/aqw.toml"
      taskset -c "$SERVER_CPU" aquatic_ws -c "$work/aqw.toml" >"$work/aqw.log" 2>&1 & pid=$! ;;
    aquatic/udp) port=3610
      aquatic_udp -p | sed -e 's/^socket_workers = .*/socket_workers = 1/' \
        -e "s/^address = .*/address = \"127.0.0.1:$port\"/" -e 's/^max_response_peers = .*/max_response_peers = 50/' > "$work/aq.toml"
      taskset -c "$SERVER_CPU" aquatic_udp -c "$work/aq.toml" >"$work/aq.log" 2>&1 & pid=$! ;;
    aquatic/http) port=3611
      aquatic_http -p | sed -e "s/^address = .*/address = \"127.0.0.1:$port\"/" \
        -e 's/^max_peers = .*/max_peers = 50/' > "$work/aqh.toml"
      taskset -c "$SERVER_CPU" aquatic_http -c "$work/aqh.toml" >"$work/aqh.log" 2>&1 & pid=$! ;;
    opentracker/udp) port=3620
      taskset -c "$SERVER_CPU" opentracker -i 127.0.0.1 -P "$port" -p 3621 -d "$work/ot" -w whitelist >"$work/ot.log" 2>&1 & pid=$! ;;
    opentracker/http) port=3622
      taskset -c "$SERVER_CPU" opentracker -i 127.0.0.1 -p "$port" -P 3623 -d "$work/ot" -w whitelist >"$work/ot.log" 2>&1 & pid=$! ;;
  esac
  sleep 1
  echo "$pid $port"
}

available() { # tracker protocol
  case "$1" in
    shoal) return 0 ;;
    aquatic) command -v "aquatic_$2" >/dev/null ;;
    opentracker) [ "$2" != ws ] && command -v opentracker >/dev/null ;;
  esac
}

machine_line
echo "# server on CPU $SERVER_CPU, shoal-bench on CPU $LOAD_CPU, $DURATION s per run, $TORRENTS torrents, $PEERS peers"

if [ -n "$MEMORY" ]; then
  set -- $MEMORY
  for t in shoal aquatic opentracker; do
    available "$t" udp || continue
    read -r pid port < <(start "$t" udp)
    "$BENCH" hashes --torrents "$2" > "$work/ot/whitelist"; [ "$t" = opentracker ] && kill -HUP "$pid"
    taskset -c "$LOAD_CPU" "$BENCH" udp --target "127.0.0.1:$port" --fill --peers "$1" --torrents "$2" \
      --sources $(( ($1 + 49999) / 50000 )) --numwant 0 --duration 600 --server-pid "$pid" --json \
      > "$work/mem.json" 2>"$work/mem.err" || true
    python3 - "$t" "$1" "$work/mem.json" <<'PY'
import json, sys
t, peers, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = json.load(open(path))
b, a = r["server_rss_kib_before"], r["server_rss_kib_after"]
print(f"{t:12} {r['announces']:>10} announces  RSS {b/1024:7.0f} -> {a/1024:7.0f} MiB  {(a-b)*1024/peers:6.1f} bytes/peer")
PY
    stop "$pid"
  done
  exit 0
fi

results=$work/results
for proto in $PROTOCOLS; do
  modes="true"; [ "$proto" = http ] && modes="true false"
  for r in $(seq "$ROUNDS"); do
    for ka in $modes; do
      for t in shoal aquatic opentracker; do
        available "$t" "$proto" || continue
        [ "$t/$proto/$ka" = opentracker/http/true ] && continue  # opentracker closes every connection
        read -r pid port < <(start "$t" "$proto")
        args=(--target "127.0.0.1:$port" --duration "$DURATION" --torrents "$TORRENTS" --peers "$PEERS" --server-pid "$pid" --json)
        [ "$proto" = http ] && args+=(--workers 8 --keepalive "$ka")
        [ "$proto" = ws ] && args+=(--workers 1 --connections 64 --offers 5)
        taskset -c "$LOAD_CPU" "$BENCH" "$proto" "${args[@]}" > "$work/run.json" 2>"$work/run.err" || true
        python3 - "$t" "$proto" "$ka" "$work/run.json" >> "$results" <<'PY'
import json, sys
t, proto, ka, path = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception:
    print(f"{t} {proto} {ka} 0 0 nan 0 1"); sys.exit()
print(f"{t} {proto} {ka} {r['responses_per_second']:.0f} {r['peers_per_announce']:.2f} "
      f"{r['server_cpu_us_per_response'] or float('nan'):.3f} {r['server_peak_rss_kib'] or 0} {r['invalid'] + r['timeouts']}")
PY
        tail -1 "$results"
        stop "$pid"
      done
    done
  done
done
python3 - "$results" <<'PY'
import sys, collections, statistics
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    t, proto, ka, rps, ppr, us, rss, bad = line.split()
    rows[(proto, ka, t)].append((float(rps), float(ppr), float(us), int(rss), int(bad)))
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
print("\nmedians")
print(f"{'protocol':10} {'tracker':12} {'resp/s':>9} {'peers/ann':>9} {'CPU µs/resp':>11} {'RSS MiB':>8} {'bad':>5}")
for (proto, ka, t), (rps, ppr, us, rss, bad) in sorted(med.items()):
    label = proto if proto != "http" else f"http-{'ka' if ka == 'true' else 'close'}"
    print(f"{label:10} {t:12} {rps:9.0f} {ppr:9.2f} {us:11.3f} {rss/1024:8.0f} {bad:5.0f}")
for (proto, ka, t), v in sorted(med.items()):
    if t == "shoal":
        continue
    s = med.get((proto, ka, "shoal"))
    if s and v[0]:
        label = proto if proto != "http" else f"http-{'ka' if ka == 'true' else 'close'}"
        print(f"shoal/{t} ({label}): responses/s {s[0]/v[0]:.2f}x, CPU per response {s[2]/v[2]:.2f}x")
PY

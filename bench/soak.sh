#!/usr/bin/env bash
# Soak for "nothing grows with time": shoal under UDP load whose torrent set rotates
# every round (disjoint torrents each round, 30 s announce interval, so each round's
# swarms empty out during the next), with a small bound on peerless counts so the store
# path is exercised. Every 30 s it prints RSS and the engine's table sizes; at the end it
# checks, through scrape, that the first round's completed counts are what they were
# when that round ended.
#
# Needs target/release/shoal and target/release/shoal-bench. Loopback only; every load
# run is bounded by --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=10        # rounds of load
ROUND_SECS=180   # seconds per round
TORRENTS=20000   # torrents per round
PEERS=40000
REQUESTS=1500000 # requests per round (the load leaves CPU to spare)
DORMANT=50000    # limits.max_dormant_torrents for the soak
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --round-secs) ROUND_SECS=$2; shift 2 ;;
    --torrents) TORRENTS=$2; shift 2 ;;
    --dormant) DORMANT=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
SHOAL=${SHOAL:-target/release/shoal}
BENCH=${BENCH:-target/release/shoal-bench}
work=$(mktemp -d)
port=${PORT:-3700}
cat > "$work/c.toml" <<TOML
[tracker]
announce_interval = 30
peer_grace = 15
purge_interval = 5
[limits]
max_dormant_torrents = $DORMANT
[udp]
listen = ["127.0.0.1:$port"]
[http]
listen = ["127.0.0.1:$((port + 1))"]
TOML
env -u SHOAL_HTTP__MAX_CONNECTIONS_PER_IP "$SHOAL" serve --config "$work/c.toml" \
  --data-dir "$work/data" 2>"$work/shoal.log" &
pid=$!
trap 'stop $pid; rm -rf "$work"' EXIT
sleep 1

metric() { # name -> value from /metrics
  curl -s "http://127.0.0.1:$((port + 1))/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
# The first 74 torrents of round 0 (the most popular: Zipf favours low numbers).
mapfile -t first < <("$BENCH" hashes --torrents 74)
scrape_first() { # -> "hex completed" lines; asks twice, 1.5 s apart, so counts that
  # left memory have been read back from the store by the second answer
  "$SHOAL" scrape "udp://127.0.0.1:$port/announce" "${first[@]}" >/dev/null || true
  sleep 1.5
  "$SHOAL" scrape "udp://127.0.0.1:$port/announce" "${first[@]}" |
    python3 -c 'import json,sys; f = json.load(sys.stdin)["files"]; [print(h, f[h]["completed"]) for h in sorted(f)]'
}

machine_line
echo "# $ROUNDS rounds x $ROUND_SECS s, $TORRENTS new torrents and $PEERS peers per round, max_dormant_torrents $DORMANT"
echo "# elapsed_s rss_kib torrents dormant peers"
start=$(date +%s)
(
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(( $(date +%s) - start )) $(awk '/VmRSS/ {print $2}' /proc/$pid/status) $(metric shoal_torrents) $(metric shoal_dormant_torrents) $(metric 'shoal_peers{family="ipv4"}')"
    sleep 30
  done
) &
sampler=$!
for r in $(seq 0 $((ROUNDS - 1))); do
  round_start=$(date +%s)
  "$BENCH" udp --target "127.0.0.1:$port" --duration "$ROUND_SECS" --torrents "$TORRENTS" \
    --peers "$PEERS" --first-torrent $((r * TORRENTS)) --seed $((r + 1)) --window 8 \
    --max-requests "$REQUESTS" --json \
    > "$work/round$r.json" 2>&1 || { echo "round $r failed:"; cat "$work/round$r.json"; exit 1; }
  if [ "$r" = 0 ]; then
    scrape_first > "$work/first.before"
  fi
  # The rest of the round is quiet: this round's peers go silent and expire.
  left=$(( round_start + ROUND_SECS - $(date +%s) ))
  [ "$left" -gt 0 ] && sleep "$left"
done
# Let the last round's peers expire too, then read the first round's counts again.
sleep 50
scrape_first > "$work/first.after"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
total=$(awk '{s += $2} END {print s}' "$work/first.before")
if diff -q "$work/first.before" "$work/first.after" >/dev/null; then
  echo "first round's completed counts unchanged after the soak: 74 torrents, $total completions"
else
  echo "first round's completed counts CHANGED:"; diff "$work/first.before" "$work/first.after"; exit 1
fi

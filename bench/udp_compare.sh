#!/usr/bin/env bash
# First UDP comparison: the same aquatic_udp_load_test load against shoal and
# aquatic_udp, alternating A B, B A, …, server pinned to one core and the load generator
# to another. Prints responses/s (as the load generator saw them), peers per announce
# response, server CPU time per response (user and kernel), and peak RSS, with
# shoal/aquatic ratios. --trackers and --bases choose other names (bench/lib.sh,
# shoal_bin): bench/ab.sh runs two shoal builds this way, after/before.
#
# Needs: target/release/shoal (cargo build --release), aquatic_udp and
# aquatic_udp_load_test on PATH (see BENCHMARKS.md for how to install them).
# Traffic goes to 127.0.0.1 only; every run is bounded by --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=20      # seconds per run
WARMUP=4         # seconds excluded from the averages
ROUNDS=2
SERVER_CPU=1
LOAD_CPU=0
TRACKERS="shoal aquatic"
BASES=aquatic    # ratios: every other tracker over each of these
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --server-cpu) SERVER_CPU=$2; shift 2 ;;
    --load-cpu) LOAD_CPU=$2; shift 2 ;;
    --trackers) TRACKERS=$2; shift 2 ;;
    --bases) BASES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

need_shoals $TRACKERS
for bin in aquatic_udp aquatic_udp_load_test; do
  command -v "$bin" >/dev/null || { echo "missing $bin" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TICK=$(getconf CLK_TCK)

aquatic_udp -p > "$work/aquatic.toml"
sed -i -e 's/^socket_workers = .*/socket_workers = 1/' \
       -e 's/^address = .*/address = "127.0.0.1:3100"/' "$work/aquatic.toml"

run_one() { # name
  local name=$1 port pid
  case "$name" in
    aquatic)
      port=3100
      taskset -c "$SERVER_CPU" aquatic_udp -c "$work/aquatic.toml" >"$work/aquatic.log" 2>&1 &
      pid=$! ;;
    *)
      port=3200
      local bin; bin=$(shoal_bin "$name")
      taskset -c "$SERVER_CPU" "$bin" serve --udp "127.0.0.1:$port" --workers 1 \
        --data-dir "$work/$name-data" 2>"$work/$name.log" &
      pid=$! ;;
  esac
  sleep 1
  udp_load_toml "$port" "$DURATION" $((DURATION - WARMUP)) > "$work/load.toml"
  taskset -c "$LOAD_CPU" timeout $((DURATION + 30)) aquatic_udp_load_test -c "$work/load.toml" \
    > "$work/load.out" 2>&1 &
  local lpid=$!
  sleep "$WARMUP"
  local c0; c0=$(cpu_ticks "$pid")
  local k0; k0=$(awk '{print $15}' "/proc/$pid/stat")
  local t0; t0=$(date +%s.%N)
  wait "$lpid"
  local c1; c1=$(cpu_ticks "$pid")
  local k1; k1=$(awk '{print $15}' "/proc/$pid/stat")
  local t1; t1=$(date +%s.%N)
  local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  stop "$pid"
  local rps; rps=$(awk '/Average responses per second/ {print $NF}' "$work/load.out")
  local ppr; ppr=$(awk '/Peers per announce response/ {v=$NF} END {print v}' "$work/load.out")
  # CPU seconds the server used per response, in microseconds, over the measured window.
  python3 - "$name" "$rps" "$ppr" "$c0" "$c1" "$TICK" "$t0" "$t1" "$rss" "$k0" "$k1" <<'PY'
import sys
name, rps, ppr, c0, c1, tick, t0, t1, rss, k0, k1 = sys.argv[1:]
rps = float(rps); cpu = (int(c1) - int(c0)) / int(tick); wall = float(t1) - float(t0)
kernel = (int(k1) - int(k0)) / int(tick)
per = lambda secs: secs / (rps * wall) * 1e6 if rps else float("nan")
print(f"{name} {rps:.0f} {float(ppr):.2f} {per(cpu):.3f} {cpu/wall*100:.0f} {int(rss)//1024} {per(cpu - kernel):.3f} {per(kernel):.3f}")
PY
}

machine_line
echo "# server on CPU $SERVER_CPU, load on CPU $LOAD_CPU, $DURATION s per run ($WARMUP s warm-up excluded)"
results=$work/results
alternate "$ROUNDS" "$results" $TRACKERS
python3 - "$results" "$BASES" <<'PY'
import sys, collections, statistics
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, rps, ppr, us, cpu, rss, user, kernel = line.split()
    rows[n].append((float(rps), float(ppr), float(us), float(cpu), int(rss), float(user), float(kernel)))
# Medians: shared virtual machines are noisy, and one slow run should not decide.
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in rows.items()}
print()
print(f"medians of {min(len(v) for v in rows.values())} runs each")
print(f"{'tracker':8} {'responses/s':>12} {'peers/resp':>10} {'server CPU µs/resp':>19} {'user µs':>8} {'kernel µs':>9} {'server CPU %':>12} {'peak RSS MiB':>12}")
for n, (rps, ppr, us, cpu, rss, user, kernel) in med.items():
    print(f"{n:8} {rps:12.0f} {ppr:10.2f} {us:19.3f} {user:8.3f} {kernel:9.3f} {cpu:12.0f} {rss:12.0f}")
bases = [b for b in sys.argv[2].split() if b in med]
for b, n in ((b, n) for b in bases for n in med if n not in bases):
    s, a = med[n], med[b]
    print(f"\n{n}/{b}: responses/s {s[0]/a[0]:.3f}x, server CPU per response {s[2]/a[2]:.3f}x "
          f"(user {s[5]/a[5]:.3f}x, kernel {s[6]/a[6]:.3f}x; lower is better)")
PY

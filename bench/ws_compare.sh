#!/usr/bin/env bash
# WebTorrent comparison: the same aquatic_ws_load_test load against shoal and aquatic_ws,
# alternating A B, B A, …, server pinned to one core and the load generator to another.
# aquatic_ws_load_test speaks wss:// only, so both trackers serve TLS with the same
# self-signed certificate. Prints messages/s in and out as the load generator saw them,
# announce responses/s, server CPU time per message, and peak RSS, with ratios: every
# tracker over each of --bases. --trackers may name other shoal builds (bench/lib.sh,
# shoal_bin): bench/ab.sh runs two this way, after/before.
#
# Needs: target/release/shoal (cargo build --release), aquatic_ws and
# aquatic_ws_load_test on PATH (bench/compare.sh --install, or see BENCHMARKS.md),
# openssl. Traffic goes to 127.0.0.1 only; every run is bounded by --duration.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=20 ROUNDS=2 SERVER_CPU=1 LOAD_CPU=0 TRACKERS="shoal aquatic" BASES=aquatic
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --trackers) TRACKERS=$2; shift 2 ;;
    --bases) BASES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

need_shoals $TRACKERS
for bin in aquatic_ws aquatic_ws_load_test openssl; do
  command -v "$bin" >/dev/null || { echo "missing $bin" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TICK=$(getconf CLK_TCK)
# Equivalent settings: one worker, TLS, the same certificate, no per-connection cap.
ws_shoal_setup "$work" 3300
aquatic_ws -p | sed -e 's/^address = .*/address = "127.0.0.1:3310"/' \
  -e 's/^socket_workers = .*/socket_workers = 1/' -e 's/^enable_tls = .*/enable_tls = true/' \
  -e "s|^tls_certificate_path = .*|tls_certificate_path = \"$work/cert.pem\"|" \
  -e "s|^tls_private_key_path = .*|tls_private_key_path = \"$work/key.pem\"|" > "$work/aquatic.toml"

run_one() { # name
  local name=$1 port pid
  case "$name" in
    aquatic) port=3310
      taskset -c "$SERVER_CPU" aquatic_ws -c "$work/aquatic.toml" >"$work/aquatic.log" 2>&1 & pid=$! ;;
    *) port=3300
      local bin; bin=$(shoal_bin "$name")
      taskset -c "$SERVER_CPU" "$bin" serve --config "$work/shoal.toml" \
        --data-dir "$work/$name-data" 2>"$work/$name.log" & pid=$! ;;
  esac
  sleep 1
  ws_load_toml "$port" "$DURATION" > "$work/load.toml"
  local c0 t0 c1 t1 rss
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  taskset -c "$LOAD_CPU" timeout $((DURATION + 30)) aquatic_ws_load_test -c "$work/load.toml" \
    > "$work/load.out" 2>&1 || true
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  stop "$pid"
  python3 - "$name" "$work/load.out" "$c0" "$c1" "$TICK" "$t0" "$t1" "$rss" <<'PY'
import re, sys
name, path, c0, c1, tick, t0, t1, rss = sys.argv[1:]
text = open(path).read()
# One report per interval; the first is warm-up.
ins = [float(x) for x in re.findall(r"Responses in: ([\d.]+)/second", text)][1:]
outs = [float(x) for x in re.findall(r"Requests out: ([\d.]+)/second", text)][1:]
anns = [float(x) for x in re.findall(r"Announce responses: ([\d.]+)", text)][1:]
errs = [float(x) for x in re.findall(r"Error responses: ([\d.]+)", text)][1:]
avg = lambda v: sum(v) / len(v) if v else 0.0
cpu = (int(c1) - int(c0)) / int(tick); wall = float(t1) - float(t0)
msgs = avg(ins) + avg(outs)
us = cpu / (msgs * wall) * 1e6 if msgs else float("nan")
print(f"{name} {avg(ins):.0f} {avg(outs):.0f} {avg(anns):.0f} {avg(errs):.0f} {us:.3f} {cpu/wall*100:.0f} {int(rss)//1024}")
PY
}

machine_line
echo "# wss, server on CPU $SERVER_CPU, aquatic_ws_load_test on CPU $LOAD_CPU, $DURATION s per run"
results=$work/results
alternate "$ROUNDS" "$results" $TRACKERS
python3 - "$results" "$BASES" <<'PY'
import sys, collections, statistics
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, *v = line.split()
    rows[n].append([float(x) for x in v])
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in rows.items()}
print(f"\nmedians of {min(len(v) for v in rows.values())} runs each")
print(f"{'tracker':8} {'msgs in/s':>10} {'msgs out/s':>10} {'announces/s':>11} {'errors/s':>8} {'CPU µs/msg':>10} {'CPU %':>6} {'RSS MiB':>8}")
for n, (i, o, a, e, us, cpu, rss) in med.items():
    print(f"{n:8} {i:10.0f} {o:10.0f} {a:11.0f} {e:8.0f} {us:10.3f} {cpu:6.0f} {rss:8.0f}")
bases = [b for b in sys.argv[2].split() if b in med]
for b, n in ((b, n) for b in bases for n in med if n not in bases):
    s, a = med[n], med[b]
    print(f"\n{n}/{b}: messages in/s {s[0]/a[0]:.3f}x, announce responses/s {s[2]/a[2]:.3f}x, "
          f"server CPU per message {s[4]/a[4]:.3f}x (lower is better), peak RSS {s[6]/a[6]:.3f}x")
PY
